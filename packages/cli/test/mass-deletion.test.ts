import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { webSocket } from "./helpers/transports.js";
import { sleep, waitForConvergence, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

async function setUp(files: number) {
  const root = await makeTempDir();
  const a = nodePath.join(root, "a");
  const b = nodePath.join(root, "b");
  const backup = nodePath.join(root, "backup");
  await mkdir(nodePath.join(a, "docs"), { recursive: true });
  await mkdir(b);
  for (let i = 0; i < files; i++) await writeFile(nodePath.join(a, "docs", `f${i}.txt`), `file ${i}\n`);
  await cp(a, backup, { recursive: true });
  const { url } = await webSocket.startHub();
  await startClient(a, url);
  return { a, b, backup, url };
}

const count = async (dir: string) => (await readdir(nodePath.join(dir, "docs")).catch(() => [])).length;

describe("a mass deletion", () => {
  it("an emptied folder (as after an unmount) is held, not sent: one clear error, the others keep every file, files that come back sync again", async () => {
    const { a, b, backup, url } = await setUp(40);
    const clientB = await startClient(b, url);
    await waitUntil(async () => (await count(b)) === 40, 15_000, "b to have the 40 files");
    await rm(nodePath.join(b, "docs"), { recursive: true });
    const error = await clientB.waitForEvent(
      (e) => e.event === "error" && e.code === "mass-deletion",
      10_000,
    );
    expect(String(error.message)).toMatch(/40 of 40 files vanished at once; not sending these deletions/);
    expect(String(error.message)).toMatch(/--allow-mass-delete/);
    await sleep(500);
    expect(await count(a)).toBe(40);
    expect(clientB.events.filter((e) => e.event === "sent" && e.op === "delete")).toEqual([]);
    // The mount comes back: nothing to send, and the folders agree again.
    await cp(nodePath.join(backup, "docs"), nodePath.join(b, "docs"), {
      recursive: true,
      preserveTimestamps: true,
    });
    await waitForConvergence([a, b], 15_000, (t) => t.size === 41);
    // Later edits still flow both ways.
    await writeFile(nodePath.join(b, "docs", "f1.txt"), "edited after the remount\n");
    await waitUntil(
      async () => (await readdir(nodePath.join(a, "docs"))).length === 40 && (await count(a)) === 40,
      5000,
      "a intact",
    );
    await waitForConvergence([a, b], 15_000, (t) => t.get("docs/f1.txt")?.size === 25);
  });

  it("a few deletions at once are ordinary deletions", async () => {
    const { a, b, url } = await setUp(40);
    const clientB = await startClient(b, url);
    await waitUntil(async () => (await count(b)) === 40, 15_000, "b to have the 40 files");
    for (let i = 0; i < 10; i++) await rm(nodePath.join(b, "docs", `f${i}.txt`));
    await waitUntil(
      async () => (await count(a)) === 30,
      15_000,
      "the 10 deletions to reach a",
      async () => JSON.stringify({ a: await count(a), b: await count(b), events: clientB.events.slice(-30) }),
    );
  });

  it("with --allow-mass-delete, emptying the folder empties the others", async () => {
    const { a, b, url } = await setUp(40);
    await startClient(b, url, ["--allow-mass-delete"]);
    await waitUntil(async () => (await count(b)) === 40, 15_000, "b to have the 40 files");
    await rm(nodePath.join(b, "docs"), { recursive: true });
    await waitUntil(async () => (await count(a)) === 0, 15_000, "the deletion to reach a");
  });
});
