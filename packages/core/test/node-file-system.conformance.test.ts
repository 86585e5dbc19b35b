import { EventEmitter } from "node:events";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FileSystemError, PathNotAllowedError } from "../src/errors.js";
import type { FileStat, FileSystem, WatchEvent } from "../src/file-system.js";
import { createNodeFileSystem, type NodeFileSystemOptions } from "../src/node/index.js";
import { validatePath } from "../src/paths.js";
import { runFileSystemConformance } from "../src/testing/file-system-conformance.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { RelPath } from "../src/types.js";

async function makeTempDir(): Promise<string> {
  return fsp.mkdtemp(nodePath.join(os.tmpdir(), "distsync-"));
}

for (const watcher of ["directories", "chokidar"] as const) {
  runFileSystemConformance(`node (${watcher} watcher)`, async () => {
    const dir = await makeTempDir();
    const fs = await createNodeFileSystem(dir, { watcher });
    const teardown = async () => {
      await fs.close();
      await fsp.rm(dir, { recursive: true, force: true });
    };
    return { fs, teardown };
  });
}

const p = (path: string): RelPath => validatePath(path);
const encoder = new TextEncoder();

async function write(
  fs: FileSystem,
  path: string,
  text: string,
  mtimeMs = 1_700_000_000_000,
  executable = false,
) {
  const writer = await fs.createWriter(p(path));
  await writer.write(encoder.encode(text));
  await writer.commit({ mtimeMs, executable });
}

async function list(fs: FileSystem): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of fs.walk()) paths.push(entry.path);
  return paths;
}

async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to fail");
}

async function fsFailure(run: () => Promise<unknown>): Promise<FileSystemError> {
  const error = await rejection(run);
  if (!FileSystemError.isInstance(error)) throw error;
  return error;
}

/** Names in `dir` that look like DistSync temp files. */
async function tempFiles(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir, { recursive: true });
  return names.filter((name) => name.includes(".distsync-"));
}

describe("NodeFileSystem", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
  });

  async function tempDir(): Promise<string> {
    const dir = await makeTempDir();
    cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
    return dir;
  }

  async function open(options?: NodeFileSystemOptions) {
    const root = await tempDir();
    const fs = await createNodeFileSystem(root, options);
    cleanups.push(() => fs.close());
    return { root, fs };
  }

  async function watch(fs: FileSystem): Promise<WatchEvent[]> {
    const events: WatchEvent[] = [];
    const watcher = await fs.watch((event) => events.push(event));
    cleanups.push(() => watcher.close());
    return events;
  }

  it("accepts a relative root", async () => {
    const root = await tempDir();
    const relative = nodePath.relative(process.cwd(), root);
    expect(nodePath.isAbsolute(relative)).toBe(false);
    const fs = await createNodeFileSystem(relative);
    cleanups.push(() => fs.close());
    expect(fs.root).toBe(root);
    await write(fs, "sub/f.txt", "relative");
    expect(await fsp.readFile(nodePath.join(root, "sub/f.txt"), "utf8")).toBe("relative");
    expect(await list(fs)).toEqual(["sub", "sub/f.txt"]);
  });

  it("fails with ENOENT for a missing root and ENOTDIR for a file", async () => {
    const dir = await tempDir();
    const missing = await fsFailure(() => createNodeFileSystem(nodePath.join(dir, "nope")));
    expect(missing.systemCode).toBe("ENOENT");
    await fsp.writeFile(nodePath.join(dir, "file"), "x");
    const file = await fsFailure(() => createNodeFileSystem(nodePath.join(dir, "file")));
    expect(file.systemCode).toBe("ENOTDIR");
    // Not created as a side effect.
    await expect(fsp.stat(nodePath.join(dir, "nope"))).rejects.toThrow(/ENOENT/);
  });

  it("rootExists is false after rm -rf of the root, and operations then fail instead of reading empty", async () => {
    const { root, fs } = await open();
    await write(fs, "a/f.txt", "f");
    await fsp.rm(root, { recursive: true });
    expect(await fs.rootExists()).toBe(false);
    expect((await fsFailure(() => fs.stat(p("a/f.txt")))).systemCode).toBe("ENOENT");
    expect((await fsFailure(() => fs.openRead(p("a/f.txt")))).systemCode).toBe("ENOENT");
    expect((await fsFailure(() => list(fs))).systemCode).toBe("ENOENT");
    // A write must not recreate the root.
    expect((await fsFailure(() => write(fs, "a/g.txt", "g"))).systemCode).toBe("ENOENT");
    expect((await fsFailure(() => fs.mkdir(p("x/y")))).systemCode).toBe("ENOENT");
    await expect(fsp.stat(root)).rejects.toThrow(/ENOENT/);
  });

  it("rootExists is false when the root is replaced by a new directory of the same name", async () => {
    const { root, fs } = await open();
    await write(fs, "f.txt", "f");
    await fsp.rm(root, { recursive: true });
    await fsp.mkdir(root);
    expect(await fs.rootExists()).toBe(false);
    // An empty replacement must not look like "every file was deleted".
    expect((await fsFailure(() => list(fs))).systemCode).toBe("ENOENT");
    expect((await fsFailure(() => fs.stat(p("f.txt")))).systemCode).toBe("ENOENT");
    expect((await fsFailure(() => write(fs, "g.txt", "g"))).systemCode).toBe("ENOENT");
    expect(await fsp.readdir(root)).toEqual([]);

    const { root: other, fs: second } = await open();
    await fsp.rm(other, { recursive: true });
    await fsp.writeFile(other, "now a file");
    expect(await second.rootExists()).toBe(false);

    // close() releases the pinned root and is idempotent; the folder stays usable.
    const { fs: third } = await open();
    await third.close();
    await third.close();
    expect(await third.rootExists()).toBe(true);
    await write(third, "after-close.txt", "ok");
    expect(await list(third)).toEqual(["after-close.txt"]);
  });

  it("walk reports links that stay inside, skips (once) links leading outside, special files, invalid names and DistSync's own files", async () => {
    const skipped: Array<[string, string]> = [];
    const { root, fs } = await open({ onSkip: (path, reason) => skipped.push([path, reason]) });
    const outside = await tempDir();
    await fsp.writeFile(nodePath.join(outside, "secret.txt"), "secret");
    await write(fs, "real/file.txt", "real");
    await fsp.symlink(nodePath.join(outside, "secret.txt"), nodePath.join(root, "link-to-file"));
    await fsp.symlink(outside, nodePath.join(root, "real/link-to-dir"));
    await fsp.symlink("file.txt", nodePath.join(root, "real/relative-link"));
    await fsp.symlink("nowhere", nodePath.join(root, "dangling"));
    await fsp.symlink("../..", nodePath.join(root, "real/up-and-out"));
    // Inside by its text, but through a link that leads outside: skipped too.
    await fsp.symlink("real/link-to-dir/secret.txt", nodePath.join(root, "via-link"));
    // Dangling, through a dangling link that leads outside.
    await fsp.symlink(nodePath.join(outside, "nope"), nodePath.join(root, "out-dangling"));
    await fsp.symlink("out-dangling/x", nodePath.join(root, "via-dangling"));
    await fsp.mkdir(nodePath.join(root, "back\\slash"));
    await fsp.writeFile(nodePath.join(root, "back\\slash/inside.txt"), "not visited");
    await fsp.writeFile(nodePath.join(root, "control\u0001char"), "x");
    await fsp.writeFile(nodePath.join(root, "cafe\u0301.txt"), "NFD");
    await fsp.mkdir(nodePath.join(root, ".distsync"));
    await fsp.writeFile(nodePath.join(root, ".distsync/state.db"), "state");
    await fsp.writeFile(nodePath.join(root, "real/.distsync-abc.tmp"), "temp");

    const walked = async () => {
      const out: string[] = [];
      for await (const entry of fs.walk()) out.push(`${entry.path}:${entry.kind}`);
      return out;
    };
    expect(await walked()).toEqual([
      "dangling:symlink",
      "real:directory",
      "real/file.txt:file",
      "real/relative-link:symlink",
    ]);
    const expectedSkips = [
      ["back\\slash", "backslash"],
      ["cafe\u0301.txt", "not in NFC"],
      ["control\u0001char", "control character"],
      ["link-to-file", "symbolic link not synced: absolute target"],
      ["out-dangling", "symbolic link not synced: absolute target"],
      ["real/link-to-dir", "symbolic link not synced: absolute target"],
      ["real/up-and-out", "symbolic link not synced: target leads outside the folder"],
      ["via-dangling", "symbolic link not synced: target leads outside the folder"],
      ["via-link", "symbolic link not synced: target leads outside the folder through a link"],
    ].sort();
    expect(skipped.sort()).toEqual(expectedSkips);
    // A second walk (the scan fallback walks every few seconds) reports the links no more.
    expect(await walked()).toHaveLength(4);
    expect(skipped.filter(([, reason]) => reason.startsWith("symbolic link")).length).toBe(6);
    expect(await fs.readLink(p("real/relative-link"))).toBe("file.txt");
    // A link reads as a link, never as what it points to; one leading outside reads as absent.
    expect(await fs.stat(p("real/relative-link"))).toMatchObject({ kind: "symlink", executable: false });
    expect(await fs.stat(p("link-to-file"))).toBeUndefined();
    expect(await fs.openRead(p("link-to-file"))).toBeUndefined();
    expect(await fs.openRead(p("real/relative-link"))).toBeUndefined();
    // Reading through a linked directory that leads outside is refused.
    await expect(fs.openRead(p("real/link-to-dir/secret.txt"))).rejects.toSatisfy(
      PathNotAllowedError.isInstance,
    );
    // Creating a link that leads outside through what the disk holds is refused; nothing appears.
    await expect(fs.createSymlink(p("planted"), "real/link-to-dir/secret.txt")).rejects.toSatisfy(
      PathNotAllowedError.isInstance,
    );
    await expect(fsp.lstat(nodePath.join(root, "planted"))).rejects.toThrow(/ENOENT/);
    expect(await fsp.readdir(outside)).toEqual(["secret.txt"]);
  });

  it("createSymlink writes the exact target text, sets the link's own mtime, and leaves no temp entry", async () => {
    const { root, fs } = await open();
    await write(fs, "a/b/target.txt", "t");
    await fs.createSymlink(p("a/b/link"), "./target.txt", { mtimeMs: 1_650_000_000_000 });
    await fs.createSymlink(p("a/up"), "../a/b//", { mtimeMs: 1_650_000_000_000 });
    expect(await fsp.readlink(nodePath.join(root, "a/b/link"))).toBe("./target.txt");
    expect(await fsp.readlink(nodePath.join(root, "a/up"))).toBe("../a/b//");
    const stats = await fsp.lstat(nodePath.join(root, "a/b/link"));
    expect(stats.isSymbolicLink()).toBe(true);
    expect(Math.abs(stats.mtimeMs - 1_650_000_000_000)).toBeLessThanOrEqual(1);
    expect(await fsp.readFile(nodePath.join(root, "a/b/target.txt"), "utf8")).toBe("t");
    expect(await tempFiles(root)).toEqual([]);
  });

  it("walks a tree of 10,000 files quickly, parents first", { timeout: 120_000 }, async () => {
    // Built on tmpfs when there is one: creating 10,000 files on a slow disk takes longer than the walk.
    const base = await fsp
      .mkdtemp("/dev/shm/distsync-")
      .catch(() => undefined)
      .then((dir) => dir ?? tempDir());
    cleanups.push(() => fsp.rm(base, { recursive: true, force: true }));
    const root = base;
    const fs = await createNodeFileSystem(root);
    cleanups.push(() => fs.close());
    for (let d = 0; d < 100; d++) {
      const dir = nodePath.join(root, `d${d}`, "sub");
      await fsp.mkdir(dir, { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, f) => fsp.writeFile(nodePath.join(dir, `f${f}.txt`), "x")),
      );
    }
    const started = performance.now();
    const seen = new Set<string>();
    let files = 0;
    for await (const entry of fs.walk()) {
      const slash = entry.path.lastIndexOf("/");
      if (slash !== -1) expect(seen.has(entry.path.slice(0, slash))).toBe(true);
      seen.add(entry.path);
      if (entry.kind === "file") files++;
    }
    const elapsed = performance.now() - started;
    expect(files).toBe(10_000);
    expect(seen.size).toBe(10_200);
    expect(elapsed).toBeLessThan(10_000);
  });

  it("refuses to write, create, remove or read through a parent that links outside the root", async () => {
    const { root, fs } = await open();
    const outside = await tempDir();
    await fsp.writeFile(nodePath.join(outside, "victim.txt"), "victim");
    await fsp.symlink(outside, nodePath.join(root, "escape"));

    expect(PathNotAllowedError.isInstance(await rejection(() => write(fs, "escape/new.txt", "x")))).toBe(
      true,
    );
    expect(PathNotAllowedError.isInstance(await rejection(() => write(fs, "escape/victim.txt", "x")))).toBe(
      true,
    );
    expect(PathNotAllowedError.isInstance(await rejection(() => write(fs, "escape/deep/er.txt", "x")))).toBe(
      true,
    );
    expect(PathNotAllowedError.isInstance(await rejection(() => fs.mkdir(p("escape/sub"))))).toBe(true);
    expect(PathNotAllowedError.isInstance(await rejection(() => fs.remove(p("escape/victim.txt"))))).toBe(
      true,
    );
    expect(PathNotAllowedError.isInstance(await rejection(() => fs.rmdir(p("escape/sub"))))).toBe(true);
    expect(
      PathNotAllowedError.isInstance(
        await rejection(() => fs.setAttributes(p("escape/victim.txt"), { mtimeMs: 1 })),
      ),
    ).toBe(true);
    expect(PathNotAllowedError.isInstance(await rejection(() => fs.stat(p("escape/victim.txt"))))).toBe(true);

    expect((await fsp.readdir(outside)).sort()).toEqual(["victim.txt"]);
    expect(await fsp.readFile(nodePath.join(outside, "victim.txt"), "utf8")).toBe("victim");
  });

  it("refuses a commit when the target directory was swapped for a link outside during the write", async () => {
    const { root, fs } = await open();
    const outside = await tempDir();
    const parked = await tempDir();
    const writer = await fs.createWriter(p("sub/new.txt"));
    await writer.write(encoder.encode("payload"));
    await fsp.rename(nodePath.join(root, "sub"), nodePath.join(parked, "sub"));
    await fsp.symlink(outside, nodePath.join(root, "sub"));

    expect(
      PathNotAllowedError.isInstance(await rejection(() => writer.commit({ mtimeMs: 1, executable: false }))),
    ).toBe(true);
    expect(await fsp.readdir(outside)).toEqual([]);
  });

  it("a commit that cannot rename leaves the target intact and no temp file", async () => {
    const { root, fs } = await open();
    await write(fs, "dir/old.txt", "old");
    const writer = await fs.createWriter(p("target"));
    await writer.write(encoder.encode("new"));
    // The final path becomes a non-empty directory: rename(2) refuses to replace it.
    await fsp.mkdir(nodePath.join(root, "target"));
    await fsp.writeFile(nodePath.join(root, "target/keep.txt"), "keep");
    const error = await fsFailure(() => writer.commit({ mtimeMs: 1, executable: false }));
    expect(["EISDIR", "ENOTEMPTY", "EEXIST"]).toContain(error.systemCode);
    expect(error.path).toBe("target");
    expect(error.message).toContain("target");
    expect(await tempFiles(root)).toEqual([]);
    expect(await fsp.readFile(nodePath.join(root, "target/keep.txt"), "utf8")).toBe("keep");
    expect(await fsp.readFile(nodePath.join(root, "dir/old.txt"), "utf8")).toBe("old");
    await writer.abort();
  });

  it("a failing write (ENOSPC) or fsync (EIO) keeps the old file and removes the temp file", async () => {
    const { root, fs } = await open();
    await write(fs, "f.txt", "old content", 1_600_000_000_000);
    const probe = await fsp.open(nodePath.join(root, "f.txt"), "r");
    const fileHandlePrototype = Object.getPrototypeOf(probe) as { write: unknown; sync: unknown };
    await probe.close();
    const systemError = (code: string) => Object.assign(new Error(`${code}: injected`), { code });

    const writeSpy = vi
      .spyOn(fileHandlePrototype as { write: () => Promise<unknown> }, "write")
      .mockRejectedValueOnce(systemError("ENOSPC"));
    try {
      const writer = await fs.createWriter(p("f.txt"));
      const error = await fsFailure(() => writer.write(encoder.encode("new content")));
      expect(error.systemCode).toBe("ENOSPC");
      expect(error.message).toMatch(/write "f\.txt"/);
      expect(error.cause).toBeInstanceOf(Error);
      expect(
        FileSystemError.isInstance(await rejection(() => writer.commit({ mtimeMs: 1, executable: false }))),
      ).toBe(true);
    } finally {
      writeSpy.mockRestore();
    }
    expect(await tempFiles(root)).toEqual([]);
    expect(await fsp.readFile(nodePath.join(root, "f.txt"), "utf8")).toBe("old content");

    const syncSpy = vi
      .spyOn(fileHandlePrototype as { sync: () => Promise<void> }, "sync")
      .mockRejectedValueOnce(systemError("EIO"));
    try {
      const writer = await fs.createWriter(p("f.txt"));
      await writer.write(encoder.encode("new content"));
      expect((await fsFailure(() => writer.commit({ mtimeMs: 1, executable: false }))).systemCode).toBe(
        "EIO",
      );
    } finally {
      syncSpy.mockRestore();
    }
    expect(await tempFiles(root)).toEqual([]);
    expect(await fsp.readFile(nodePath.join(root, "f.txt"), "utf8")).toBe("old content");
    expect((await fs.stat(p("f.txt")))?.mtimeMs).toBe(1_600_000_000_000);
  });

  it("maps other failures to FileSystemError with the system code", async () => {
    const { root, fs } = await open();
    await write(fs, "file", "f");
    expect((await fsFailure(() => fs.stat(p("file/x")))).systemCode).toBe("ENOTDIR");
    expect((await fsFailure(() => fs.createWriter(p("file/x")))).systemCode).toBe("ENOTDIR");
    expect((await fsFailure(() => fs.mkdir(p("file")))).systemCode).toBe("EEXIST");
    expect((await fsFailure(() => fs.mkdir(p("file/x/y")))).systemCode).toBe("ENOTDIR");
    expect((await fsFailure(() => fs.rmdir(p("file")))).systemCode).toBe("ENOTDIR");
    expect((await fsFailure(() => fs.setAttributes(p("missing"), { mtimeMs: 1 }))).systemCode).toBe("ENOENT");
    await fs.mkdir(p("dir"));
    expect((await fsFailure(() => fs.remove(p("dir")))).systemCode).toMatch(/^(EISDIR|EPERM)$/);
    expect((await fsFailure(() => write(fs, "dir", "x"))).systemCode).toBe("EISDIR");
    await fsp.symlink("file", nodePath.join(root, "link"));
    expect((await fsFailure(() => fs.setAttributes(p("link"), { mtimeMs: 1 }))).systemCode).toBe("ELOOP");
    expect(await tempFiles(root)).toEqual([]);
    expect(PathNotAllowedError.isInstance(await rejection(() => fs.stat("../escape" as RelPath)))).toBe(true);
    expect(
      PathNotAllowedError.isInstance(await rejection(() => fs.remove(".distsync/state" as RelPath))),
    ).toBe(true);
  });

  it("keeps the permissions of the file it replaces and round-trips the executable bit", async () => {
    const { root, fs } = await open();
    const onDisk = async (path: string) => (await fsp.stat(nodePath.join(root, path))).mode & 0o777;
    await write(fs, "tool.sh", "#!/bin/sh\n", 1, true);
    expect((await onDisk("tool.sh")) & 0o100).toBe(0o100);
    expect((await fs.stat(p("tool.sh")))?.executable).toBe(true);

    await write(fs, "tool.sh", "#!/bin/sh\necho\n", 1, false);
    expect((await onDisk("tool.sh")) & 0o111).toBe(0);
    expect((await fs.stat(p("tool.sh")))?.executable).toBe(false);

    await fsp.chmod(nodePath.join(root, "tool.sh"), 0o700);
    expect((await fs.stat(p("tool.sh")))?.executable).toBe(true);
    await write(fs, "tool.sh", "v3", 1, true);
    expect(await onDisk("tool.sh")).toBe(0o700);
    await write(fs, "tool.sh", "v4", 1, false);
    expect(await onDisk("tool.sh")).toBe(0o600);
    await fs.setAttributes(p("tool.sh"), { executable: true });
    expect(await onDisk("tool.sh")).toBe(0o700);

    await fsp.chmod(nodePath.join(root, "tool.sh"), 0o654);
    await fs.setAttributes(p("tool.sh"), { executable: true });
    expect(await onDisk("tool.sh")).toBe(0o755);
  });

  it("sets the mtime of a created directory and keeps sub-millisecond precision sensible", async () => {
    const { root, fs } = await open();
    await fs.mkdir(p("a/b"), { mtimeMs: 1_650_000_000_250 });
    const stats = await fsp.stat(nodePath.join(root, "a/b"));
    expect(Math.abs(stats.mtimeMs - 1_650_000_000_250)).toBeLessThanOrEqual(1);
    await write(fs, "f", "x", 1_650_000_000_250.5);
    expect(Math.abs(((await fs.stat(p("f"))) as FileStat).mtimeMs - 1_650_000_000_250.5)).toBeLessThanOrEqual(
      1,
    );
  });

  describe.each(["directories", "chokidar"] as const)("watch with the %s watcher", (kind) => {
    it("watch reports root-removed when the root is deleted", async () => {
      const { root, fs } = await open({ watcher: kind });
      await write(fs, "a/f.txt", "f");
      const events = await watch(fs);
      await fsp.rm(root, { recursive: true });
      await waitFor(() => events.some((event) => event.type === "root-removed"), { message: "root-removed" });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(events.filter((event) => event.type === "root-removed")).toHaveLength(1);
    });

    it("watch reports root-removed when an empty root is moved away or replaced", async () => {
      const moved = await open({ watcher: kind });
      const parked = await tempDir();
      const movedEvents = await watch(moved.fs);
      await fsp.rename(moved.root, nodePath.join(parked, "moved"));
      await waitFor(() => movedEvents.some((event) => event.type === "root-removed"), {
        message: "root-removed",
      });

      const replaced = await open({ watcher: kind });
      const replacedEvents = await watch(replaced.fs);
      await fsp.rmdir(replaced.root);
      await fsp.mkdir(replaced.root);
      await waitFor(() => replacedEvents.some((event) => event.type === "root-removed"), {
        message: "root-removed",
      });
      expect(await replaced.fs.rootExists()).toBe(false);
    });

    it("watch reports an editor-style save (temp file renamed over) for the final path", async () => {
      const { root, fs } = await open({ watcher: kind });
      await write(fs, "notes.txt", "v1");
      const events = await watch(fs);
      await fsp.writeFile(nodePath.join(root, "notes.txt.swp"), "v2");
      await fsp.rename(nodePath.join(root, "notes.txt.swp"), nodePath.join(root, "notes.txt"));
      await waitFor(
        () =>
          events.some(
            (event) => (event.type === "change" || event.type === "add") && event.path === "notes.txt",
          ),
        { message: "a change for notes.txt" },
      );
    });

    it("watch reports user edits in nested directories and never DistSync's own files", async () => {
      const skipped: string[] = [];
      const { root, fs } = await open({ watcher: kind, onSkip: (path) => skipped.push(path) });
      const events = await watch(fs);
      await fsp.mkdir(nodePath.join(root, "x/y"), { recursive: true });
      await fsp.writeFile(nodePath.join(root, "x/y/z.txt"), "z");
      await fsp.mkdir(nodePath.join(root, ".distsync"));
      await fsp.writeFile(nodePath.join(root, ".distsync/state"), "s");
      await fsp.writeFile(nodePath.join(root, "x/.distsync-1.tmp"), "t");
      await fsp.writeFile(nodePath.join(root, "bad\\name"), "b");
      await waitFor(() => events.some((event) => event.type === "add" && event.path === "x/y/z.txt"));
      await waitFor(() => skipped.includes("bad\\name"));
      await fsp.unlink(nodePath.join(root, "x/y/z.txt"));
      await waitFor(() => events.some((event) => event.type === "remove" && event.path === "x/y/z.txt"));
      expect(events).toContainEqual({ type: "add", path: "x", kind: "directory" });
      expect(events).toContainEqual({ type: "add", path: "x/y/z.txt", kind: "file" });
      expect(events).toContainEqual({ type: "remove", path: "x/y/z.txt", kind: "file" });
      expect(events.every((event) => "path" in event && !event.path.includes("distsync"))).toBe(true);
      expect(events.every((event) => "path" in event && !event.path.includes("\\"))).toBe(true);
    });

    it("watcher.close is idempotent and stops events", async () => {
      const { root, fs } = await open({ watcher: kind });
      const events: WatchEvent[] = [];
      const watcher = await fs.watch((event) => events.push(event));
      await watcher.close();
      await watcher.close();
      await fsp.writeFile(nodePath.join(root, "after.txt"), "x");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(events).toEqual([]);
    });
  });
});

describe("NodeFileSystem watch errors (chokidar replaced by a fake)", () => {
  class FakeWatcher extends EventEmitter {
    closeCalls = 0;
    async close(): Promise<void> {
      this.closeCalls++;
    }
  }
  const state: { watcher?: FakeWatcher; options?: { ignored?: unknown } } = {};
  const dirs: string[] = [];
  const closers: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    vi.doUnmock("chokidar");
    vi.resetModules();
    for (const dir of dirs.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
  });

  async function openWithFake() {
    vi.resetModules();
    vi.doMock("chokidar", () => ({
      watch: (_root: string, options: { ignored?: unknown }) => {
        const watcher = new FakeWatcher();
        state.watcher = watcher;
        state.options = options;
        setTimeout(() => watcher.emit("ready"), 0);
        return watcher;
      },
    }));
    const module = await import("../src/node/node-file-system.js");
    const root = await makeTempDir();
    dirs.push(root);
    const fs = await module.createNodeFileSystem(root, { watcher: "chokidar" });
    closers.push(() => fs.close());
    const events: WatchEvent[] = [];
    const watcher = await fs.watch((event) => events.push(event));
    return { root, fs, events, watcher, fake: state.watcher!, options: state.options! };
  }

  it("turns an inotify ENOSPC into an error naming fs.inotify.max_user_watches", async () => {
    const { root, events, fake } = await openWithFake();
    fake.emit("error", Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }));
    const first = events[0];
    if (first?.type !== "error") throw new Error(`expected an error event, got ${JSON.stringify(first)}`);
    expect((first.error as FileSystemError).systemCode).toBe("EACCES");

    const cause = Object.assign(new Error("ENOSPC: System limit for number of file watchers reached"), {
      code: "ENOSPC",
    });
    fake.emit("error", cause);
    expect(events).toHaveLength(2);
    const event = events[1];
    if (event?.type !== "error") throw new Error(`expected an error event, got ${JSON.stringify(event)}`);
    expect(FileSystemError.isInstance(event.error)).toBe(true);
    expect((event.error as FileSystemError).systemCode).toBe("ENOSPC");
    expect(event.error.message).toContain("fs.inotify.max_user_watches");
    expect(event.error.message).toContain("scanned for changes every 2 s");
    expect(event.error.cause).toBe(cause);
    // One message: the OS watcher is closed and replaced by a periodic scan, so no more of its errors.
    expect(fake.closeCalls).toBe(1);
    fake.emit("error", cause);
    expect(events).toHaveLength(2);
    expect(root).toBeTruthy();
  });

  it("maps chokidar events to relative POSIX paths and the root's unlinkDir to root-removed (once)", async () => {
    const { root, events, fake, watcher } = await openWithFake();
    const at = (path: string) => nodePath.join(root, ...path.split("/"));
    fake.emit("all", "add", at("a/f.txt"));
    fake.emit("all", "addDir", at("a/d"));
    fake.emit("all", "change", at("a/f.txt"));
    fake.emit("all", "unlink", at("a/f.txt"));
    fake.emit("all", "unlinkDir", at("a/d"));
    fake.emit("all", "add", at("a/.distsync-x.tmp"));
    fake.emit("all", "add", nodePath.join(nodePath.dirname(root), "elsewhere.txt"));
    fake.emit("all", "unlinkDir", root);
    fake.emit("all", "unlinkDir", root);
    expect(events).toEqual([
      { type: "add", path: "a/f.txt", kind: "file" },
      { type: "add", path: "a/d", kind: "directory" },
      { type: "change", path: "a/f.txt", kind: "file" },
      { type: "remove", path: "a/f.txt", kind: "file" },
      { type: "remove", path: "a/d", kind: "directory" },
      { type: "root-removed" },
    ]);
    await watcher.close();
    await watcher.close();
    expect(fake.closeCalls).toBe(1);
    fake.emit("all", "add", at("late.txt"));
    expect(events).toHaveLength(6);
  });

  it("reports root-removed for an ENOENT error once the root is gone", async () => {
    const { root, events, fake } = await openWithFake();
    fake.emit("error", Object.assign(new Error("ENOENT: gone"), { code: "ENOENT" }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual([]); // the root is still there: a raced path, not news
    await fsp.rm(root, { recursive: true });
    fake.emit("error", Object.assign(new Error("ENOENT: gone"), { code: "ENOENT" }));
    await waitFor(() => events.length > 0);
    expect(events).toEqual([{ type: "root-removed" }]);
  });

  it("ignores DistSync's own paths through chokidar's ignored option", async () => {
    const { root, options } = await openWithFake();
    const ignored = options.ignored as (path: string) => boolean;
    expect(ignored(root)).toBe(false);
    expect(ignored(nodePath.join(root, "a.txt"))).toBe(false);
    expect(ignored(nodePath.join(root, ".distsync"))).toBe(true);
    expect(ignored(nodePath.join(root, ".distsync", "state.db"))).toBe(true);
    expect(ignored(nodePath.join(root, "a", ".distsync-1.tmp"))).toBe(true);
    expect(ignored(nodePath.join(root, ".distsyncx"))).toBe(false);
    expect(options).toMatchObject({
      ignoreInitial: true,
      atomic: false,
      followSymlinks: false,
      alwaysStat: false,
    });
  });
});
