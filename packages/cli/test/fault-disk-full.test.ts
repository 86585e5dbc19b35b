import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient, startHub } from "./helpers/cli.js";
import { waitUntil } from "./helpers/tree.js";

const mounts: string[] = [];

/** Mounts a tmpfs of `size` at a fresh directory; undefined where that is not allowed (not root). */
async function tmpfs(size: string): Promise<string | undefined> {
  const dir = await makeTempDir("distsync-tmpfs-");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

const canMount = (await (async () => {
  const dir = await tmpfs("1m");
  return dir !== undefined;
})()) as boolean;
await unmountAll();
await removeTempDirs();

async function unmountAll(): Promise<void> {
  for (const dir of mounts.splice(0)) {
    try {
      execFileSync("umount", ["-l", dir], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}

afterEach(async () => {
  await killAll();
  await unmountAll();
  await removeTempDirs();
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const readOr = (path: string) => readFile(path).catch(() => undefined);

// A real full disk needs a real small file system: a tmpfs, which only root may mount. Elsewhere
// the same fault is injected below the engine in packages/core/test/fault-disk-full.test.ts.
describe.skipIf(!canMount)("a full disk on a receiving client (a 16 MiB tmpfs)", () => {
  it("reports ENOSPC, keeps the old version, leaves no temp file, syncs small files meanwhile, and retries once space is free", async () => {
    const mount = (await tmpfs("16m")) as string;
    const a = nodePath.join(await makeTempDir(), "a");
    const b = nodePath.join(mount, "b");
    await mkdir(a);
    await mkdir(b);
    const { url } = await startHub();
    await startClient(a, url);
    const receiver = await startClient(b, url);

    const oldVersion = randomBytes(512 * 1024);
    await writeFile(nodePath.join(a, "big.bin"), oldVersion);
    await waitUntil(
      async () => (await readOr(nodePath.join(b, "big.bin")))?.equals(oldVersion) === true,
      10_000,
      "the old version on b",
    );
    // Ballast outside the synced folder leaves about 4 MiB: too little for the new 8 MiB version.
    const ballast = nodePath.join(mount, "ballast");
    await writeFile(ballast, Buffer.alloc(11 * 1024 * 1024));
    const newVersion = randomBytes(8 * 1024 * 1024);
    await writeFile(nodePath.join(a, "big.bin"), newVersion);

    const error = await receiver.waitForEvent(
      (e) => e.event === "error" && /big\.bin/.test(String(e.message)),
      15_000,
      "the disk-full error",
    );
    expect(error.code).toBe("file-system");
    expect(String(error.message)).toMatch(/ENOSPC|no space left/i);
    // The old version is untouched, and the failed write left nothing behind.
    expect((await readFile(nodePath.join(b, "big.bin"))).equals(oldVersion)).toBe(true);
    await waitUntil(
      async () => (await readdir(b)).every((n) => !n.endsWith(".tmp")),
      5000,
      "no temp file in b",
    );

    // Small files still get through while the big one cannot.
    for (let i = 0; i < 5; i++) await writeFile(nodePath.join(a, `small-${i}.txt`), `small ${i}\n`);
    await waitUntil(
      async () => {
        for (let i = 0; i < 5; i++) {
          if ((await readOr(nodePath.join(b, `small-${i}.txt`)))?.toString() !== `small ${i}\n`) return false;
        }
        return true;
      },
      10_000,
      "the small files on b",
    );
    expect((await readFile(nodePath.join(b, "big.bin"))).equals(oldVersion)).toBe(true);

    // Space comes back: a retry (no new change anywhere) brings the new version.
    await rm(ballast);
    await waitUntil(
      async () => {
        const now = await readOr(nodePath.join(b, "big.bin"));
        return now !== undefined && sha(now) === sha(newVersion);
      },
      15_000,
      "the new version on b after space was freed",
    );
    expect((await readdir(b)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(receiver.child.exitCode).toBeNull();
  });
});
