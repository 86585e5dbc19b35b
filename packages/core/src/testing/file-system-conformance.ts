import { afterEach, describe, expect, it } from "vitest";
import { concatBytes } from "../content/concat-bytes.js";
import { FileSystemError, PathNotAllowedError } from "../errors.js";
import type { FileAttributes, FileStat, FileSystem, WatchEvent } from "../file-system.js";
import { validatePath } from "../paths.js";
import type { RelPath } from "../types.js";
import { waitFor } from "./wait-for.js";

/** Makes a fresh, empty file system for one test; `teardown` is awaited after the test. */
export type FileSystemConformanceSetup = () => Promise<{ fs: FileSystem; teardown?: () => Promise<void> }>;

const T1 = 1_700_000_000_000;
const T2 = 1_710_000_000_123;
const T3 = 1_720_000_000_456;
const MiB = 1024 * 1024;
const READ_SIZE = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The behaviour every `FileSystem` adapter must share. Call it from the adapter's
 * `<adapter>.conformance.test.ts`, then add the adapter's own tests below it. Paths are not
 * validated here: core checks them before an adapter sees them (see `paths.test.ts`).
 */
export function runFileSystemConformance(name: string, setup: FileSystemConformanceSetup): void {
  describe(`FileSystem conformance: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];

    afterEach(async () => {
      for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
    });

    async function fresh(): Promise<FileSystem> {
      const { fs, teardown } = await setup();
      if (teardown !== undefined) cleanups.push(teardown);
      return fs;
    }

    async function watch(fs: FileSystem): Promise<WatchEvent[]> {
      const events: WatchEvent[] = [];
      const watcher = await fs.watch((event) => events.push(event));
      cleanups.push(() => watcher.close());
      return events;
    }

    it("reads a missing path as undefined", async () => {
      const fs = await fresh();
      expect(await fs.stat(p("missing.txt"))).toBeUndefined();
      expect(await fs.openRead(p("missing.txt"))).toBeUndefined();
      expect(await fs.stat(p("no/such/dir.txt"))).toBeUndefined();
      expect(await fs.openRead(p("no/such/dir.txt"))).toBeUndefined();
    });

    it("reports the root as existing", async () => {
      const fs = await fresh();
      expect(await fs.rootExists()).toBe(true);
    });

    it("writes and reads back byte-exact, including a view with a non-zero byteOffset", async () => {
      const fs = await fresh();
      const backing = new Uint8Array([0xde, 0xad, 0, 1, 2, 255, 254, 0, 0xbe, 0xef]);
      const view = backing.subarray(2, 8);
      expect(view.byteOffset).toBe(2);
      const writer = await fs.createWriter(p("nested/dir/bytes.bin"));
      await writer.write(view);
      await writer.write(new Uint8Array([7]));
      await writer.commit({ mtimeMs: T1, executable: false });
      await writer.commit({ mtimeMs: T1, executable: false }); // idempotent
      await writer.abort(); // a no-op after commit

      const expected = new Uint8Array([0, 1, 2, 255, 254, 0, 7]);
      expectBytes(await readFile(fs, "nested/dir/bytes.bin"), expected);
      const stat = await fs.stat(p("nested/dir/bytes.bin"));
      expect(stat).toMatchObject({ path: "nested/dir/bytes.bin", kind: "file", size: 7, executable: false });
      expectMtime(stat?.mtimeMs, T1);
      expect((await fs.stat(p("nested/dir")))?.kind).toBe("directory");

      await writeFile(fs, "empty.txt", new Uint8Array(0));
      expectBytes(await readFile(fs, "empty.txt"), new Uint8Array(0));
      expect((await fs.stat(p("empty.txt")))?.size).toBe(0);
    });

    it("gives the opened file's stat on the read handle and reads nothing from a directory", async () => {
      const fs = await fresh();
      await writeFile(fs, "f.txt", "hello", { mtimeMs: T2 });
      const handle = await fs.openRead(p("f.txt"));
      expect(handle).toBeDefined();
      expect(handle?.stat).toMatchObject({ path: "f.txt", kind: "file", size: 5 });
      expectMtime(handle?.stat.mtimeMs, T2);
      await handle?.close();
      await handle?.close(); // idempotent
      await fs.mkdir(p("d"));
      expect(await fs.openRead(p("d"))).toBeUndefined();
    });

    it("overwrite replaces content and attributes", async () => {
      const fs = await fresh();
      const executableBit = fs.capabilities.executableBit;
      await writeFile(fs, "f.sh", "the first, longer version", { mtimeMs: T1, executable: true });
      let stat = await fs.stat(p("f.sh"));
      expect(stat?.executable).toBe(executableBit);
      expectMtime(stat?.mtimeMs, T1);

      await writeFile(fs, "f.sh", "second", { mtimeMs: T2, executable: false });
      expect(decode(await readFile(fs, "f.sh"))).toBe("second");
      stat = await fs.stat(p("f.sh"));
      expect(stat).toMatchObject({ kind: "file", size: 6, executable: false });
      expectMtime(stat?.mtimeMs, T2);

      await writeFile(fs, "f.sh", "third!", { mtimeMs: T3, executable: true });
      expect(decode(await readFile(fs, "f.sh"))).toBe("third!");
      stat = await fs.stat(p("f.sh"));
      expect(stat?.executable).toBe(executableBit);
      expectMtime(stat?.mtimeMs, T3);
      expect((await list(fs)).map((entry) => entry.path)).toEqual(["f.sh"]);
    });

    it("walks nested files and directories, parents first, without confusing a/b with a/bc", async () => {
      const fs = await fresh();
      await writeFile(fs, "a/b/x.txt", "x");
      await writeFile(fs, "a/bc/y.txt", "yy");
      await writeFile(fs, "a/b.txt", "b");
      await writeFile(fs, "top.txt", "top");
      await fs.mkdir(p("empty"));

      const entries = await list(fs);
      const paths: string[] = entries.map((entry) => entry.path);
      expect([...paths].sort()).toEqual([
        "a",
        "a/b",
        "a/b.txt",
        "a/b/x.txt",
        "a/bc",
        "a/bc/y.txt",
        "empty",
        "top.txt",
      ]);
      expect(new Set(paths).size).toBe(paths.length);
      for (const [index, path] of paths.entries()) {
        const slash = path.lastIndexOf("/");
        if (slash !== -1) expect(paths.indexOf(path.slice(0, slash))).toBeLessThan(index);
      }
      const byPath = new Map<string, FileStat>(entries.map((entry) => [entry.path, entry]));
      expect(byPath.get("a/b")).toMatchObject({ kind: "directory", size: 0, executable: false });
      expect(byPath.get("a/bc/y.txt")).toMatchObject({ kind: "file", size: 2 });
      expect(byPath.get("empty")?.kind).toBe("directory");

      await fs.remove(p("a/b/x.txt"));
      await fs.rmdir(p("a/b"));
      expect((await list(fs)).map((entry) => entry.path).sort()).toEqual([
        "a",
        "a/b.txt",
        "a/bc",
        "a/bc/y.txt",
        "empty",
        "top.txt",
      ]);
      expect(decode(await readFile(fs, "a/bc/y.txt"))).toBe("yy");
    });

    it("never shows the temp file of a write in progress", async () => {
      const fs = await fresh();
      await writeFile(fs, "old.txt", "old");
      await fs.mkdir(p("dir"));
      const top = await fs.createWriter(p("new.bin"));
      await top.write(encoder.encode("partial"));
      const nested = await fs.createWriter(p("dir/new.bin"));
      await nested.write(encoder.encode("partial"));

      expect((await list(fs)).map((entry) => entry.path).sort()).toEqual(["dir", "old.txt"]);
      expect(await fs.stat(p("new.bin"))).toBeUndefined();
      expect(await fs.openRead(p("dir/new.bin"))).toBeUndefined();

      await top.commit({ mtimeMs: T1, executable: false });
      await nested.abort();
      expect((await list(fs)).map((entry) => entry.path).sort()).toEqual(["dir", "new.bin", "old.txt"]);
    });

    it("keeps the old content visible until commit", async () => {
      const fs = await fresh();
      await writeFile(fs, "doc.txt", "version 1", { mtimeMs: T1 });
      const writer = await fs.createWriter(p("doc.txt"));
      await writer.write(encoder.encode("version 2, longer"));
      expect(decode(await readFile(fs, "doc.txt"))).toBe("version 1");
      expect((await fs.stat(p("doc.txt")))?.size).toBe(9);

      const before = await fs.openRead(p("doc.txt"));
      await writer.commit({ mtimeMs: T2, executable: false });
      expect(decode(await readFile(fs, "doc.txt"))).toBe("version 2, longer");
      // A handle opened before the commit keeps reading the old version.
      expect(decode(await readAll(before!))).toBe("version 1");
    });

    it("abort leaves no trace", async () => {
      const fs = await fresh();
      await writeFile(fs, "keep.txt", "keep", { mtimeMs: T1 });

      const fresh1 = await fs.createWriter(p("gone.bin"));
      await fresh1.write(new Uint8Array(1000).fill(9));
      await fresh1.abort();
      await fresh1.abort(); // idempotent

      const over = await fs.createWriter(p("keep.txt"));
      await over.write(encoder.encode("replacement"));
      await over.abort();

      const unused = await fs.createWriter(p("never.txt"));
      await unused.abort();

      expect((await list(fs)).map((entry) => entry.path)).toEqual(["keep.txt"]);
      expect(await fs.stat(p("gone.bin"))).toBeUndefined();
      expect(decode(await readFile(fs, "keep.txt"))).toBe("keep");
      expectMtime((await fs.stat(p("keep.txt")))?.mtimeMs, T1);
      await expect(fresh1.commit({ mtimeMs: T2, executable: false })).rejects.toSatisfy(
        FileSystemError.isInstance,
      );
      expect(await fs.stat(p("gone.bin"))).toBeUndefined();
    });

    it("removes a file, and removing a missing file is not an error", async () => {
      const fs = await fresh();
      await writeFile(fs, "d/f.txt", "f");
      await writeFile(fs, "d/f.txt2", "f2");
      await fs.remove(p("d/f.txt"));
      expect(await fs.stat(p("d/f.txt"))).toBeUndefined();
      expect(decode(await readFile(fs, "d/f.txt2"))).toBe("f2");
      await fs.remove(p("d/f.txt"));
      await fs.remove(p("never.txt"));
      await fs.remove(p("no/such/parent.txt"));
      expect((await list(fs)).map((entry) => entry.path)).toEqual(["d", "d/f.txt2"]);
    });

    it("rmdir removes an empty directory, ignores a missing one and refuses a non-empty one", async () => {
      const fs = await fresh();
      await fs.mkdir(p("empty"));
      await fs.rmdir(p("empty"));
      expect(await fs.stat(p("empty"))).toBeUndefined();
      await fs.rmdir(p("empty"));
      await fs.rmdir(p("no/such/dir"));

      await writeFile(fs, "full/child.txt", "child");
      const error = await rejection(fs.rmdir(p("full")));
      expect(FileSystemError.isInstance(error)).toBe(true);
      expect((error as FileSystemError).systemCode).toBe("ENOTEMPTY");
      expect(decode(await readFile(fs, "full/child.txt"))).toBe("child");

      await fs.mkdir(p("parent/child"));
      expect(((await rejection(fs.rmdir(p("parent")))) as FileSystemError).systemCode).toBe("ENOTEMPTY");
      await fs.rmdir(p("parent/child"));
      await fs.rmdir(p("parent"));
      expect((await list(fs)).map((entry) => entry.path)).toEqual(["full", "full/child.txt"]);
    });

    it("mkdir creates nested directories with the given mtime, and accepts an existing one", async () => {
      const fs = await fresh();
      await fs.mkdir(p("m/n/o"), { mtimeMs: T1 });
      expect(await fs.stat(p("m"))).toMatchObject({ kind: "directory", size: 0 });
      expect(await fs.stat(p("m/n"))).toMatchObject({ kind: "directory" });
      const stat = await fs.stat(p("m/n/o"));
      expect(stat).toMatchObject({ path: "m/n/o", kind: "directory", size: 0, executable: false });
      expectMtime(stat?.mtimeMs, T1);

      await fs.mkdir(p("m/n/o"));
      await fs.mkdir(p("m/n/o"), { mtimeMs: T2 });
      expectMtime((await fs.stat(p("m/n/o")))?.mtimeMs, T2);
      expect((await list(fs)).map((entry) => entry.path)).toEqual(["m", "m/n", "m/n/o"]);
    });

    it("round-trips a 4 MiB random binary file written in several chunks and read in 64 KiB", async () => {
      const fs = await fresh();
      const data = randomBytes(4 * MiB + 12_345, 0x5eed);
      const writer = await fs.createWriter(p("big/random.bin"));
      // Uneven chunks, each a view into `data` (non-zero byteOffset).
      for (const [start, end] of [
        [0, 1],
        [1, MiB + 7],
        [MiB + 7, 3 * MiB],
        [3 * MiB, data.length],
      ] as const) {
        await writer.write(data.subarray(start, end));
      }
      await writer.commit({ mtimeMs: T1, executable: false });

      expect((await fs.stat(p("big/random.bin")))?.size).toBe(data.length);
      const handle = await fs.openRead(p("big/random.bin"));
      expect(handle?.stat.size).toBe(data.length);
      const chunks: Uint8Array[] = [];
      for (;;) {
        const chunk = await handle!.read(READ_SIZE);
        expect(chunk.length).toBeLessThanOrEqual(READ_SIZE);
        if (chunk.length === 0) break;
        chunks.push(chunk);
      }
      await handle!.close();
      expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(data.length / READ_SIZE));
      expectBytes(concatBytes(chunks), data);
    });

    it("ctimeMs, where reported, moves with every write and attribute change, even to the same mtime", async () => {
      const fs = await fresh();
      await writeFile(fs, "same.txt", "alpha", { mtimeMs: T1, executable: false });
      const first = await fs.stat(p("same.txt"));
      if (first?.ctimeMs === undefined) return; // optional: this file system has none
      // Same size, same mtime, other bytes: only the ctime can tell the versions apart.
      await new Promise((r) => setTimeout(r, 15));
      await writeFile(fs, "same.txt", "delta", { mtimeMs: T1, executable: false });
      const second = await fs.stat(p("same.txt"));
      expect(second?.size).toBe(first.size);
      expectMtime(second?.mtimeMs, T1);
      expect(second?.ctimeMs).not.toBe(first.ctimeMs);
      await new Promise((r) => setTimeout(r, 15));
      await fs.setAttributes(p("same.txt"), { mtimeMs: T1 });
      expect((await fs.stat(p("same.txt")))?.ctimeMs).not.toBe(second?.ctimeMs);
    });

    it("setAttributes changes the mtime and the executable bit", async () => {
      const fs = await fresh();
      const executableBit = fs.capabilities.executableBit;
      await writeFile(fs, "tool", "#!/bin/sh\n", { mtimeMs: T1, executable: false });

      await fs.setAttributes(p("tool"), { mtimeMs: T2 });
      let stat = await fs.stat(p("tool"));
      expectMtime(stat?.mtimeMs, T2);
      expect(stat?.executable).toBe(false);

      await fs.setAttributes(p("tool"), { executable: true });
      stat = await fs.stat(p("tool"));
      expect(stat?.executable).toBe(executableBit);
      expectMtime(stat?.mtimeMs, T2);

      await fs.setAttributes(p("tool"), { executable: false, mtimeMs: T3 });
      stat = await fs.stat(p("tool"));
      expect(stat?.executable).toBe(false);
      expectMtime(stat?.mtimeMs, T3);
      expect(decode(await readFile(fs, "tool"))).toBe("#!/bin/sh\n");

      await fs.mkdir(p("dir"));
      await fs.setAttributes(p("dir"), { mtimeMs: T1 });
      expectMtime((await fs.stat(p("dir")))?.mtimeMs, T1);
    });

    it("watch reports an add, a change and a remove for a file written through the API", async () => {
      const fs = await fresh();
      const events = await watch(fs);
      const seen = (type: string, path: string) => () =>
        events.some((event) => event.type === type && "path" in event && event.path === path);

      await writeFile(fs, "watched.txt", "one", { mtimeMs: T1 });
      await waitFor(seen("add", "watched.txt"), { message: "an add event for watched.txt" });
      await writeFile(fs, "watched.txt", "two, longer", { mtimeMs: T2 });
      await waitFor(seen("change", "watched.txt"), { message: "a change event for watched.txt" });
      await fs.remove(p("watched.txt"));
      await waitFor(seen("remove", "watched.txt"), { message: "a remove event for watched.txt" });

      expect(events.find((event) => event.type === "add")).toMatchObject({
        path: "watched.txt",
        kind: "file",
      });
      expect(events.some((event) => event.type === "root-removed")).toBe(false);
      // Temp files are never reported.
      expect(events.every((event) => !("path" in event) || !event.path.includes(".distsync"))).toBe(true);
    });

    it("watch reports an add for a new directory", async () => {
      const fs = await fresh();
      const events = await watch(fs);
      await fs.mkdir(p("new-dir"));
      await waitFor(
        () =>
          events.some(
            (event) => event.type === "add" && event.path === "new-dir" && event.kind === "directory",
          ),
        { message: "an add event for new-dir" },
      );
    });

    // Symbolic links: only for file systems that hold them (`readLink` and `createSymlink`).
    const linkIt = (title: string, run: (fs: LinkFileSystem) => Promise<void>) =>
      it(title, async (context) => {
        const fs = await fresh();
        if (fs.readLink === undefined || fs.createSymlink === undefined) {
          context.skip();
          return;
        }
        await run(fs as LinkFileSystem);
      });

    linkIt("creates, reads and removes symbolic links without following them", async (fs) => {
      await writeFile(fs, "dir/a.txt", "the target", { mtimeMs: T1 });
      await fs.createSymlink(p("dir/link"), "a.txt", { mtimeMs: T2 });
      await fs.createSymlink(p("dirlink"), "dir");
      await fs.createSymlink(p("dangling"), "not/there/yet");
      const stat = await fs.stat(p("dir/link"));
      expect(stat).toMatchObject({ path: "dir/link", kind: "symlink", executable: false });
      expectMtime(stat?.mtimeMs, T2);
      expect(await fs.readLink(p("dir/link"))).toBe("a.txt");
      expect(await fs.readLink(p("dirlink"))).toBe("dir");
      expect(await fs.readLink(p("dangling"))).toBe("not/there/yet");
      expect(await fs.readLink(p("dir/a.txt"))).toBeUndefined();
      expect(await fs.readLink(p("missing"))).toBeUndefined();
      // Never followed: a link is not a file to read, and a link to a directory is not walked into.
      expect(await fs.openRead(p("dir/link"))).toBeUndefined();
      const walked = await list(fs);
      expect(walked.map((e) => `${e.path}:${e.kind}`).sort()).toEqual(
        ["dangling:symlink", "dir:directory", "dir/a.txt:file", "dir/link:symlink", "dirlink:symlink"].sort(),
      );
      // Removing a link removes the link itself, never what it points to.
      await fs.remove(p("dir/link"));
      await fs.remove(p("dirlink"));
      expect(await fs.stat(p("dir/link"))).toBeUndefined();
      expect(await fs.stat(p("dirlink"))).toBeUndefined();
      expect(decode(await readFile(fs, "dir/a.txt"))).toBe("the target");
      expect((await fs.stat(p("dir")))?.kind).toBe("directory");
    });

    linkIt("a link replaces a file or a link in one step, and a file replaces a link", async (fs) => {
      await writeFile(fs, "t1.txt", "one");
      await writeFile(fs, "t2.txt", "two");
      await writeFile(fs, "x", "a file first");
      await fs.createSymlink(p("x"), "t1.txt");
      expect(await fs.readLink(p("x"))).toBe("t1.txt");
      await fs.createSymlink(p("x"), "t2.txt");
      expect(await fs.readLink(p("x"))).toBe("t2.txt");
      await writeFile(fs, "x", "a file again");
      expect((await fs.stat(p("x")))?.kind).toBe("file");
      expect(decode(await readFile(fs, "x"))).toBe("a file again");
      // The targets were never written through.
      expect(decode(await readFile(fs, "t1.txt"))).toBe("one");
      expect(decode(await readFile(fs, "t2.txt"))).toBe("two");
      // No temp entry is left behind.
      expect((await list(fs)).map((e) => e.path).sort()).toEqual(["t1.txt", "t2.txt", "x"]);
    });

    linkIt("refuses a link over a directory and a link whose target leaves the folder", async (fs) => {
      await fs.mkdir(p("d"));
      const error = await rejection(fs.createSymlink(p("d"), "elsewhere"));
      expect(FileSystemError.isInstance(error) && error.systemCode).toBe("EISDIR");
      for (const [path, target] of [
        ["escape", "../outside"],
        ["d/escape", "../../outside"],
        ["abs", "/etc/passwd"],
        ["d/chain", "up/../.."],
      ] as const) {
        const refused = await rejection(fs.createSymlink(p(path), target));
        expect(PathNotAllowedError.isInstance(refused), `${path} -> ${target}`).toBe(true);
      }
      expect((await list(fs)).map((e) => e.path)).toEqual(["d"]);
    });

    linkIt("watch reports a new symbolic link", async (fs) => {
      await writeFile(fs, "target.txt", "t");
      const events = await watch(fs);
      await fs.createSymlink(p("new-link"), "target.txt");
      await waitFor(() => events.some((event) => event.type === "add" && event.path === "new-link"), {
        message: "an add event for new-link",
      });
    });
  });
}

type LinkFileSystem = FileSystem & Required<Pick<FileSystem, "readLink" | "createSymlink">>;

function p(path: string): RelPath {
  return validatePath(path);
}

async function writeFile(
  fs: FileSystem,
  path: string,
  content: Uint8Array | string,
  attributes: Partial<FileAttributes> = {},
): Promise<void> {
  const writer = await fs.createWriter(p(path));
  await writer.write(typeof content === "string" ? encoder.encode(content) : content);
  await writer.commit({ mtimeMs: attributes.mtimeMs ?? T1, executable: attributes.executable ?? false });
}

async function readFile(fs: FileSystem, path: string): Promise<Uint8Array> {
  const handle = await fs.openRead(p(path));
  if (handle === undefined) throw new Error(`expected ${path} to exist`);
  return readAll(handle);
}

async function readAll(handle: { read(length: number): Promise<Uint8Array>; close(): Promise<void> }) {
  const chunks: Uint8Array[] = [];
  try {
    for (let chunk = await handle.read(READ_SIZE); chunk.length > 0; chunk = await handle.read(READ_SIZE)) {
      chunks.push(chunk);
    }
  } finally {
    await handle.close();
  }
  return concatBytes(chunks);
}

async function list(fs: FileSystem): Promise<FileStat[]> {
  const entries: FileStat[] = [];
  for await (const entry of fs.walk()) entries.push(entry);
  return entries;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to fail");
}

function decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function expectMtime(actual: number | undefined, expected: number): void {
  expect(actual).toBeDefined();
  expect(Math.abs((actual ?? Number.NaN) - expected)).toBeLessThanOrEqual(1);
}

/** Compares bytes without a per-element deep-equality walk (slow for megabytes). */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  let firstDifference = -1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      firstDifference = i;
      break;
    }
  }
  expect(firstDifference).toBe(-1);
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}
