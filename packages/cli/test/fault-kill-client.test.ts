import { randomBytes } from "node:crypto";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient, startHub } from "./helpers/cli.js";
import { snapshot, waitForConvergence, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const TEMP = /^\.distsync-[0-9a-f]{16}\.tmp$/;
const SIZE = 64 * 1024 * 1024;

/** DistSync's write temp files anywhere below `root`, with their sizes. */
async function tempFiles(root: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !TEMP.test(entry.name)) continue;
    const path = nodePath.join(entry.parentPath, entry.name);
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    if (size >= 0) out.push({ path, size });
  }
  return out;
}

describe("kill -9 of a client in the middle of a download", () => {
  it("leaves no partial file at the final path, cleans its temp file at the next start, and converges", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(a);
    await mkdir(nodePath.join(b, "deep"), { recursive: true });
    const { url } = await startHub();
    await startClient(a, url);
    let receiver = await startClient(b, url);

    await mkdir(nodePath.join(a, "deep"), { recursive: true });
    await writeFile(nodePath.join(a, "deep/big.bin"), randomBytes(SIZE));
    // The download is under way once its temp file holds some bytes but not all of them.
    let partial: { path: string; size: number } | undefined;
    await waitUntil(
      async () => {
        partial = (await tempFiles(b)).find((t) => t.size > 0 && t.size < SIZE);
        return partial !== undefined;
      },
      15_000,
      "the download to start writing its temp file",
    );
    receiver.kill("SIGKILL");
    await receiver.exited;

    // Killed mid-write: the final path holds nothing, only the temp file is left over.
    await expect(stat(nodePath.join(b, "deep/big.bin"))).rejects.toMatchObject({ code: "ENOENT" });
    const leftovers = await tempFiles(b);
    expect(leftovers.length).toBeGreaterThan(0);
    expect(leftovers.every((t) => t.size < SIZE)).toBe(true);
    // A stale one at the root too (as from an earlier crash), and a look-alike that is not ours.
    const staleRoot = nodePath.join(b, ".distsync-0123456789abcdef.tmp");
    await writeFile(staleRoot, "left by an earlier crash");
    await writeFile(nodePath.join(b, ".distsync-notours.tmp"), "not a name DistSync makes");

    receiver = await startClient(b, url, [], {}, 20_000);
    await waitForConvergence([a, b], 20_000, (tree) => tree.get("deep/big.bin")?.size === SIZE);
    const [treeA, treeB] = await Promise.all([snapshot(a), snapshot(b)]);
    expect(treeB.get("deep/big.bin")?.sha).toBe(treeA.get("deep/big.bin")?.sha);
    // The restart walked the folder and removed what the killed process left behind.
    expect(await tempFiles(b)).toEqual([]);
    expect((await readdir(b)).sort()).toEqual([".distsync", ".distsync-notours.tmp", "deep"]);
    expect(receiver.events.filter((e) => e.event === "error")).toEqual([]);
  });
});
