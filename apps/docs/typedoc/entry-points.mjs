// A TypeDoc plugin: names each entry point's module after its import specifier (`@distsync/core/node`
// instead of TypeDoc's default, the folder `core/src/node`) and gives it a one-line summary, without
// `@module` comments in the packages' sources.
import { Comment, Converter, ReflectionKind } from "typedoc";

/** TypeDoc's default module name (the entry point's folder below packages/) → specifier, summary. */
const ENTRY_POINTS = new Map([
  [
    "core/src",
    [
      "@distsync/core",
      "Hub and client engines, errors, the in-memory transport and file system, the protocol codec and the contracts. No Node-only APIs.",
    ],
  ],
  [
    "core/src/node",
    ["@distsync/core/node", "A folder on the local disk as a `FileSystem`, watched with chokidar."],
  ],
  [
    "core/src/testing",
    ["@distsync/core/testing", "The conformance suites for transports and file systems (needs vitest)."],
  ],
  ["transport-ws/src", ["@distsync/transport-ws", "The WebSocket transport (`ws`)."]],
]);

/** A summary as TypeDoc comment parts: `code` spans and text. */
function parts(summary) {
  return summary
    .split(/(`[^`]+`)/)
    .filter((text) => text !== "")
    .map((text) => ({ kind: text.startsWith("`") ? "code" : "text", text }));
}

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const entry = ENTRY_POINTS.get(module.name);
      // A new entry point must be added above, or its pages would get a folder name.
      if (entry === undefined) {
        app.logger.error(`entry-points: no import specifier for "${module.name}"`);
        continue;
      }
      const [specifier, summary] = entry;
      module.name = specifier;
      module.comment ??= new Comment(parts(summary));
    }
  });
}
