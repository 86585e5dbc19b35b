import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PathNotAllowedError } from "../src/errors.js";
import { createNodeFileSystem, type NodeFileSystem, probeFolding } from "../src/node/node-file-system.js";
import type { RelPath } from "../src/types.js";

const temps: string[] = [];
const opened: NodeFileSystem[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((fs) => fs.close()));
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "distsync-names-"));
  temps.push(dir);
  return dir;
}

async function open(root: string, options: Parameters<typeof createNodeFileSystem>[1] = {}) {
  const fs = await createNodeFileSystem(root, { durable: false, ...options });
  opened.push(fs);
  return fs;
}

describe("the case probe", () => {
  // This machine has only case-sensitive file systems (ext4, tmpfs); macOS and Windows folders
  // would report true. Nothing here can mount a case-insensitive one to test that side.
  it("finds this folder case-sensitive and normalization-sensitive, and leaves nothing behind", async () => {
    const root = await tempDir();
    const fs = await open(root);
    expect(fs.capabilities.caseInsensitive).toBe(false);
    expect(fs.capabilities.normalizationInsensitive).toBe(false);
    expect(fs.capabilities.platform).toBe(process.platform);
    // It made `.distsync` for the probe and removed it again, as it was not there before.
    expect(await readdir(root)).toEqual([]);
  });

  it("keeps an existing .distsync folder and its content", async () => {
    const root = await tempDir();
    await mkdir(join(root, ".distsync"));
    await writeFile(join(root, ".distsync", "index-default"), "state");
    expect(await probeFolding(root)).toEqual({ caseInsensitive: false, normalizationInsensitive: false });
    expect(await readdir(join(root, ".distsync"))).toEqual(["index-default"]);
  });

  it("does not probe through a .distsync that is a symbolic link", async () => {
    const root = await tempDir();
    const elsewhere = await tempDir();
    await symlink(elsewhere, join(root, ".distsync"));
    const folding = await probeFolding(root);
    expect(folding.caseInsensitive).toBe(process.platform === "darwin" || process.platform === "win32");
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it("advertises the platform option (tests run Windows name rules on Linux)", async () => {
    const fs = await open(await tempDir(), { platform: "win32" });
    expect(fs.capabilities.platform).toBe("win32");
  });

  it("storedPath on a case-sensitive folder is the path as given", async () => {
    const root = await tempDir();
    await writeFile(join(root, "A.txt"), "x");
    const fs = await open(root);
    expect(await fs.storedPath("a.txt" as RelPath)).toBe("a.txt");
    expect(await fs.storedPath("A.txt" as RelPath)).toBe("A.txt");
  });
});

describe("the real-path re-check after a rename", () => {
  /**
   * The attack: between the client's last real-path check and its rename, a local user moves the
   * directory (temp file included) out of the folder and leaves a symbolic link to it behind. The
   * rename then follows the link and lands outside.
   */
  async function swapOut(root: string, outside: string): Promise<void> {
    await rename(join(root, "sub"), join(outside, "sub"));
    await symlink(join(outside, "sub"), join(root, "sub"));
  }

  it("catches a parent swapped for a link to an outside directory between the check and the rename", async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await mkdir(join(root, "sub"));
    let swapped = false;
    const fs = await open(root, {
      // The seam runs after the last check and right before the rename: the window of the race.
      beforeRenameForTests: async (path) => {
        if (path !== "sub/file.txt") return;
        await swapOut(root, outside);
        swapped = true;
      },
    });
    const writer = await fs.createWriter("sub/file.txt" as RelPath);
    await writer.write(new TextEncoder().encode("payload"));
    const error = await writer.commit({ mtimeMs: Date.now(), executable: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(swapped).toBe(true);
    expect(PathNotAllowedError.isInstance(error)).toBe(true);
    expect((error as PathNotAllowedError).code).toBe("path-not-allowed");
    expect((error as PathNotAllowedError).path).toBe("sub/file.txt");
    expect((error as Error).message).toMatch(/replaced by a link leading outside.*removed again/);
    // What the rename put outside was taken back, and no temp file is left there either.
    expect(await readdir(join(outside, "sub"))).toEqual([]);
    expect(await readdir(outside)).toEqual(["sub"]);
  });

  it("leaves alone the other files outside", async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await mkdir(join(root, "sub"));
    await writeFile(join(root, "sub", "keep.txt"), "theirs");
    const fs = await open(root, { beforeRenameForTests: () => swapOut(root, outside) });
    const writer = await fs.createWriter("sub/file.txt" as RelPath);
    await writer.write(new TextEncoder().encode("payload"));
    await expect(writer.commit({ mtimeMs: Date.now(), executable: false })).rejects.toThrow(
      /path not allowed \(a parent directory was replaced/,
    );
    expect(await readdir(join(outside, "sub"))).toEqual(["keep.txt"]);
    expect(await readFile(join(outside, "sub", "keep.txt"), "utf8")).toBe("theirs");
  });

  it("lets a normal commit through", async () => {
    const root = await tempDir();
    const fs = await open(root, { beforeRenameForTests: () => {} });
    const writer = await fs.createWriter("sub/file.txt" as RelPath);
    await writer.write(new TextEncoder().encode("payload"));
    await writer.commit({ mtimeMs: Date.now(), executable: false });
    expect(await readFile(join(root, "sub", "file.txt"), "utf8")).toBe("payload");
  });
});
