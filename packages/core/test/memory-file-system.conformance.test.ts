import { describe, expect, it } from "vitest";
import { FileSystemError, PathNotAllowedError } from "../src/errors.js";
import type { FileSystem, WatchEvent } from "../src/file-system.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { validatePath } from "../src/paths.js";
import { runFileSystemConformance } from "../src/testing/file-system-conformance.js";
import type { RelPath } from "../src/types.js";

runFileSystemConformance("memory", async () => ({ fs: new MemoryFileSystem() }));
runFileSystemConformance("memory without an executable bit", async () => ({
  fs: new MemoryFileSystem({ executableBit: false }),
}));

const p = (path: string): RelPath => validatePath(path);
const encoder = new TextEncoder();

/** Lets every queued microtask (and so every watch event) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function watched(fs: FileSystem): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  await fs.watch((event) => events.push(event));
  return events;
}

async function write(fs: FileSystem, path: string, text: string, mtimeMs = 1000, executable = false) {
  const writer = await fs.createWriter(p(path));
  await writer.write(encoder.encode(text));
  await writer.commit({ mtimeMs, executable });
}

async function failure(promise: Promise<unknown> | (() => unknown)): Promise<FileSystemError> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    if (FileSystemError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a FileSystemError");
}

describe("MemoryFileSystem", () => {
  it("put creates parents (mtime now()), reports adds parents first and a change on overwrite", async () => {
    let clock = 5000;
    const fs = new MemoryFileSystem({ now: () => clock });
    const events = await watched(fs);
    fs.put("a/b/c.txt", "hello");
    expect(events).toEqual([]); // delivered in a microtask, not synchronously
    await settle();
    expect(events).toEqual([
      { type: "add", path: "a", kind: "directory" },
      { type: "add", path: "a/b", kind: "directory" },
      { type: "add", path: "a/b/c.txt", kind: "file" },
    ]);
    expect(await fs.stat(p("a/b/c.txt"))).toEqual({
      path: "a/b/c.txt",
      kind: "file",
      size: 5,
      mtimeMs: 5000,
      executable: false,
      ctimeMs: expect.any(Number),
    });
    expect((await fs.stat(p("a")))?.mtimeMs).toBe(5000);

    clock = 6000;
    fs.put("a/b/c.txt", new Uint8Array([1, 2]), { executable: true });
    fs.put("a/b/c.txt", "again"); // keeps the executable bit, like an editor
    await settle();
    expect(events.slice(3)).toEqual([
      { type: "change", path: "a/b/c.txt", kind: "file" },
      { type: "change", path: "a/b/c.txt", kind: "file" },
    ]);
    expect(await fs.stat(p("a/b/c.txt"))).toMatchObject({ size: 5, mtimeMs: 6000, executable: true });
    fs.put("x.txt", "x", { mtimeMs: 42 });
    expect((await fs.stat(p("x.txt")))?.mtimeMs).toBe(42);
    expect(fs.readText("a/b/c.txt")).toBe("again");
    expect(fs.readText("a/b")).toBeUndefined();
    expect(fs.readText("nope")).toBeUndefined();
  });

  it("put copies the bytes it is given", async () => {
    const fs = new MemoryFileSystem();
    const bytes = encoder.encode("abc");
    fs.put("f", bytes);
    bytes[0] = 0x7a;
    expect(fs.readText("f")).toBe("abc");
  });

  it("delete removes a tree children first, one remove event each, and ignores a missing path", async () => {
    const fs = new MemoryFileSystem();
    fs.put("d/x.txt", "x");
    fs.put("d/sub/y.txt", "y");
    fs.put("d2/z.txt", "z");
    fs.put("top.txt", "t");
    const events = await watched(fs);
    await settle();
    fs.delete("d");
    fs.delete("top.txt");
    fs.delete("missing/too");
    await settle();
    expect(events).toEqual([
      { type: "remove", path: "d/sub/y.txt", kind: "file" },
      { type: "remove", path: "d/sub", kind: "directory" },
      { type: "remove", path: "d/x.txt", kind: "file" },
      { type: "remove", path: "d", kind: "directory" },
      { type: "remove", path: "top.txt", kind: "file" },
    ]);
    expect([...fs.snapshot().keys()]).toEqual(["d2", "d2/z.txt"]);
  });

  it("mkdirp creates missing directories only", async () => {
    const fs = new MemoryFileSystem({ now: () => 77 });
    fs.mkdirp("a");
    const events = await watched(fs);
    fs.mkdirp("a/b/c");
    fs.mkdirp("a/b");
    await settle();
    expect(events).toEqual([
      { type: "add", path: "a/b", kind: "directory" },
      { type: "add", path: "a/b/c", kind: "directory" },
    ]);
    expect(fs.snapshot().get("a/b/c")).toEqual({ kind: "directory", mtimeMs: 77, executable: false });
  });

  it("reports the engine's own writes, like a real disk", async () => {
    const fs = new MemoryFileSystem();
    const events = await watched(fs);
    await write(fs, "dir/f.txt", "1");
    await write(fs, "dir/f.txt", "2");
    await fs.setAttributes(p("dir/f.txt"), { executable: true });
    await fs.mkdir(p("dir"), { mtimeMs: 9 });
    await fs.remove(p("dir/f.txt"));
    await fs.rmdir(p("dir"));
    await settle();
    expect(events).toEqual([
      { type: "add", path: "dir", kind: "directory" },
      { type: "add", path: "dir/f.txt", kind: "file" },
      { type: "change", path: "dir/f.txt", kind: "file" },
      { type: "change", path: "dir/f.txt", kind: "file" },
      { type: "change", path: "dir", kind: "directory" },
      { type: "remove", path: "dir/f.txt", kind: "file" },
      { type: "remove", path: "dir", kind: "directory" },
    ]);
  });

  it("delivers nothing to a closed watcher and isolates a throwing listener", async () => {
    const fs = new MemoryFileSystem();
    const closedEvents: WatchEvent[] = [];
    const closing = await fs.watch((event) => closedEvents.push(event));
    const events: WatchEvent[] = [];
    await fs.watch(() => {
      throw new Error("listener bug");
    });
    await fs.watch((event) => events.push(event));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    try {
      fs.put("f", "x");
      await closing.close();
      await closing.close();
      await settle();
    } finally {
      process.off("uncaughtException", onUncaught);
    }
    expect(closedEvents).toEqual([]);
    expect(events).toEqual([{ type: "add", path: "f", kind: "file" }]);
    expect(uncaught).toHaveLength(1);
  });

  it("removeRoot: the root is gone, watchers hear it, and nothing can recreate it", async () => {
    const fs = new MemoryFileSystem();
    fs.put("a/f.txt", "f");
    const events = await watched(fs);
    const pending = await fs.createWriter(p("a/g.txt"));
    await pending.write(encoder.encode("g"));
    const reader = await fs.openRead(p("a/f.txt"));
    fs.removeRoot();
    await settle();
    expect(events).toEqual([{ type: "root-removed" }]);
    expect(await fs.rootExists()).toBe(false);

    const operations: Array<() => Promise<unknown>> = [
      () => fs.stat(p("a/f.txt")),
      () => fs.openRead(p("a/f.txt")),
      () => fs.createWriter(p("new.txt")),
      () => fs.setAttributes(p("a/f.txt"), { mtimeMs: 1 }),
      () => fs.remove(p("a/f.txt")),
      () => fs.mkdir(p("a")),
      () => fs.rmdir(p("a")),
      () => fs.watch(() => {}),
      async () => {
        for await (const _ of fs.walk()) return;
      },
      () => pending.commit({ mtimeMs: 1, executable: false }),
      async () => fs.put("x", "x"),
      async () => fs.mkdirp("x"),
    ];
    for (const operation of operations) {
      expect((await failure(operation)).systemCode).toBe("ENOENT");
    }
    expect(await fs.rootExists()).toBe(false);
    expect(fs.snapshot().size).toBe(0);
    expect(fs.readText("a/f.txt")).toBeUndefined();
    // A handle opened before keeps its bytes, like an open file descriptor.
    expect(new TextDecoder().decode(await reader!.read(10))).toBe("f");
    await pending.abort();
  });

  it("failNextWrite fails one write with ENOSPC and keeps the old file", async () => {
    const fs = new MemoryFileSystem();
    await write(fs, "f.txt", "old", 100);
    const events = await watched(fs);

    fs.failNextWrite("f.txt");
    const writer = await fs.createWriter(p("f.txt"));
    const error = await failure(writer.write(encoder.encode("new")));
    expect(error.systemCode).toBe("ENOSPC");
    expect(error.path).toBe("f.txt");
    // The writer is dead: commit fails, abort is harmless.
    await failure(writer.commit({ mtimeMs: 200, executable: false }));
    await writer.abort();
    expect(fs.readText("f.txt")).toBe("old");
    expect((await fs.stat(p("f.txt")))?.mtimeMs).toBe(100);

    // Only the next write to that path: another path is untouched, the next write succeeds.
    fs.failNextWrite("f.txt");
    await write(fs, "other.txt", "other");
    expect(fs.readText("other.txt")).toBe("other");
    const empty = await fs.createWriter(p("f.txt"));
    expect((await failure(empty.commit({ mtimeMs: 300, executable: false }))).systemCode).toBe("ENOSPC");
    await write(fs, "f.txt", "newer", 400);
    expect(fs.readText("f.txt")).toBe("newer");

    // Any path, with a chosen error.
    fs.failNextWrite(undefined, new FileSystemError("disk on fire", { systemCode: "EIO" }));
    const any = await fs.createWriter(p("f.txt"));
    expect((await failure(any.write(new Uint8Array([1])))).systemCode).toBe("EIO");
    expect(fs.readText("f.txt")).toBe("newer");
    await settle();
    expect(events).toEqual([
      { type: "add", path: "other.txt", kind: "file" },
      { type: "change", path: "f.txt", kind: "file" },
    ]);
  });

  it("snapshot is a deep copy of every entry", async () => {
    const fs = new MemoryFileSystem({ now: () => 10 });
    fs.put("d/f.bin", new Uint8Array([1, 2, 3]), { mtimeMs: 20, executable: true });
    const snapshot = fs.snapshot();
    expect(snapshot).toEqual(
      new Map([
        ["d", { kind: "directory", mtimeMs: 10, executable: false }],
        ["d/f.bin", { kind: "file", content: new Uint8Array([1, 2, 3]), mtimeMs: 20, executable: true }],
      ]),
    );
    snapshot.get("d/f.bin")!.content![0] = 99;
    fs.put("d/f.bin", new Uint8Array([4]));
    expect(snapshot.get("d/f.bin")?.content).toEqual(new Uint8Array([99, 2, 3]));
    expect(fs.snapshot().get("d/f.bin")?.content).toEqual(new Uint8Array([4]));

    const same = new MemoryFileSystem({ now: () => 10 });
    same.put("d/f.bin", new Uint8Array([4]), {
      mtimeMs: fs.snapshot().get("d/f.bin")!.mtimeMs,
      executable: true,
    });
    expect(same.snapshot()).toEqual(fs.snapshot());
  });

  it("throws FileSystemError with a systemCode for impossible operations", async () => {
    const fs = new MemoryFileSystem();
    fs.put("file", "f");
    fs.mkdirp("dir");
    expect((await failure(fs.stat(p("file/x")))).systemCode).toBe("ENOTDIR");
    expect((await failure(fs.createWriter(p("file/x")))).systemCode).toBe("ENOTDIR");
    expect((await failure(fs.mkdir(p("file/x")))).systemCode).toBe("ENOTDIR");
    expect((await failure(fs.mkdir(p("file")))).systemCode).toBe("EEXIST");
    expect((await failure(fs.createWriter(p("dir")))).systemCode).toBe("EISDIR");
    expect((await failure(fs.remove(p("dir")))).systemCode).toBe("EISDIR");
    expect((await failure(fs.rmdir(p("file")))).systemCode).toBe("ENOTDIR");
    expect((await failure(fs.setAttributes(p("missing"), { mtimeMs: 1 }))).systemCode).toBe("ENOENT");
    expect((await failure(() => fs.put("dir", "x"))).systemCode).toBe("EISDIR");

    // The target became a directory while the write was in progress.
    const writer = await fs.createWriter(p("later"));
    fs.mkdirp("later");
    expect((await failure(writer.commit({ mtimeMs: 1, executable: false }))).systemCode).toBe("EISDIR");
  });

  it("a pending write keeps its directory non-empty; deleting the directory fails the commit", async () => {
    const fs = new MemoryFileSystem();
    const writer = await fs.createWriter(p("d/f.txt"));
    expect((await failure(fs.rmdir(p("d")))).systemCode).toBe("ENOTEMPTY");
    fs.delete("d");
    fs.mkdirp("d"); // a new directory: the temp file went with the old one
    expect((await failure(writer.commit({ mtimeMs: 1, executable: false }))).systemCode).toBe("ENOENT");
    expect([...fs.snapshot().keys()]).toEqual(["d"]);
  });

  it("rejects invalid and internal paths with PathNotAllowedError", async () => {
    const fs = new MemoryFileSystem();
    for (const path of ["../x", "/abs", "a//b", ".distsync/state", "a/.distsync-1.tmp"]) {
      await expect(fs.stat(path as RelPath)).rejects.toSatisfy(PathNotAllowedError.isInstance);
      expect(() => fs.put(path, "x")).toThrow(/path not allowed/);
    }
  });

  it("without an executable bit every file reads as not executable", async () => {
    const fs = new MemoryFileSystem({ executableBit: false });
    expect(fs.capabilities).toEqual({ executableBit: false, watch: true });
    fs.put("a", "a", { executable: true });
    await write(fs, "b", "b", 1, true);
    await fs.setAttributes(p("b"), { executable: true });
    expect((await fs.stat(p("a")))?.executable).toBe(false);
    expect((await fs.stat(p("b")))?.executable).toBe(false);
  });
});
