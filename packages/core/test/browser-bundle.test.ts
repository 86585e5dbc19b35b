import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const entry = fileURLToPath(new URL("../src/index.ts", import.meta.url));

describe("the root entry", () => {
  it("bundles for the browser: it imports no Node built-in", async () => {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes("node_modules/msgpackr"))).toBe(true);
    expect(inputs.filter((p) => p.startsWith("node:") || p.includes("/src/node/"))).toEqual([]);
    expect(result.outputFiles[0]?.text).not.toMatch(/from\s*["']node:/);
  });

  it("fails to bundle for the browser when something imports a Node built-in (the check works)", async () => {
    await expect(
      build({
        stdin: {
          contents: 'import "node:fs"; export * from "./index.ts";',
          resolveDir: fileURLToPath(new URL("../src/", import.meta.url)),
          loader: "ts",
        },
        bundle: true,
        platform: "browser",
        write: false,
        logLevel: "silent",
      }),
    ).rejects.toThrow();
  });
});
