import { mkdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeFolders, removeTempDirs, startClient } from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { waitForConvergence, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe.each(TRANSPORTS)("changes made while a client was stopped, over $name", (transport) => {
  transport.useHooks();

  it.each([
    ["stopped cleanly (SIGTERM)", "SIGTERM"],
    ["killed (SIGKILL)", "SIGKILL"],
  ] as const)(
    "are noticed at its next start when it was %s: an offline deletion is deleted everywhere, a file restored from an old backup wins",
    async (_, signal) => {
      const [a, b] = await makeFolders("a", "b");
      await writeFile(nodePath.join(a!, "deleted-offline.txt"), "delete me while b is stopped\n");
      await writeFile(nodePath.join(a!, "restored.txt"), "the current version\n");
      await writeFile(nodePath.join(a!, "untouched.txt"), "stays\n");
      const { url } = await transport.startHub();
      await startClient(a!, url);
      const first = await startClient(b!, url);
      await waitForConvergence([a!, b!], 15_000, (tree) => tree.size === 3);
      // The client saves what it agreed with the hub (within a second); a kill must find it saved.
      await waitUntil(() => exists(nodePath.join(b!, ".distsync", "index-default")), 5000, "the saved index");
      if (signal === "SIGKILL") await new Promise((r) => setTimeout(r, 1500));
      first.kill(signal);
      await first.exited;

      await rm(nodePath.join(b!, "deleted-offline.txt"));
      // An older file put back from a backup: older mtime, other content. Still a real change.
      const restored = nodePath.join(b!, "restored.txt");
      await writeFile(restored, "the version from last year's backup\n");
      const lastYear = new Date(Date.now() - 365 * 24 * 3600 * 1000);
      await utimes(restored, lastYear, lastYear);

      await startClient(b!, url);
      await waitUntil(
        async () => !(await exists(nodePath.join(a!, "deleted-offline.txt"))),
        15_000,
        "the offline deletion to reach a",
      );
      await waitUntil(
        async () =>
          (await readFile(nodePath.join(a!, "restored.txt"), "utf8").catch(() => "")) ===
          "the version from last year's backup\n",
        15_000,
        "the restored file to reach a",
      );
      const tree = await waitForConvergence([a!, b!], 15_000);
      expect([...tree.keys()].sort()).toEqual(["restored.txt", "untouched.txt"]);
    },
  );

  it("a client without a saved index (a new folder) never deletes what the hub has", async () => {
    const [a, b] = await makeFolders("a", "b");
    await writeFile(nodePath.join(a!, "shared.txt"), "from a\n");
    const { url } = await transport.startHub();
    await startClient(a!, url);
    const first = await startClient(b!, url);
    await waitForConvergence([a!, b!], 15_000, (tree) => tree.size === 1);
    first.kill("SIGTERM");
    await first.exited;
    // The folder is replaced by an empty one (its state folder gone with it): nothing to delete.
    await rm(b!, { recursive: true });
    await mkdir(b!);
    await startClient(b!, url);
    const tree = await waitForConvergence([a!, b!], 15_000, (t) => t.size === 1);
    expect([...tree.keys()]).toEqual(["shared.txt"]);
  });
});
