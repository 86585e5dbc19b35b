// `pnpm docs:api`: the API reference pages (docs/api/, generated, not committed) from the TSDoc of
// the packages' public entry points. TypeDoc reads the TypeScript sources (typedoc/tsconfig.json maps
// the `@distsync/core` imports to them), so it needs no built dist/.

/** @type {Partial<import("typedoc").TypeDocOptions & import("typedoc-plugin-markdown").PluginOptions>} */
const config = {
  entryPoints: [
    "../../packages/core/src/index.ts",
    "../../packages/core/src/node/index.ts",
    "../../packages/core/src/testing/index.ts",
    "../../packages/transport-ws/src/index.ts",
  ],
  tsconfig: "./typedoc/tsconfig.json",
  // Types are checked by each package's `typecheck` and by its tsup dts build; skipping the check
  // here saves about 3 s per docs build.
  skipErrorChecking: true,
  plugin: ["typedoc-plugin-markdown", "typedoc-vitepress-theme", "./typedoc/entry-points.mjs"],
  out: "./docs/api",
  // typedoc-vitepress-theme: links and the sidebar (docs/api/typedoc-sidebar.json) relative to here.
  docsRoot: "./docs",
  cleanOutputDir: true,
  name: "API reference (generated)",
  readme: "./typedoc/index.md",
  mergeReadme: true,
  // No source links: the repository has no public URL yet.
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  excludeScopesInPaths: true,
  useCodeBlocks: true,
  parametersFormat: "table",
  interfacePropertiesFormat: "table",
  classPropertiesFormat: "table",
  typeDeclarationFormat: "table",
  enumMembersFormat: "table",
  indexFormat: "table",
  sidebar: { autoConfiguration: true, format: "vitepress", pretty: true, collapsed: true },
  // A broken {@link} or a public type that uses an unexported one fails the build, like a dead link.
  treatValidationWarningsAsErrors: true,
  validation: { notExported: true, invalidLink: true, rewrittenLink: true, unusedMergeModuleWith: true },
};

export default config;
