import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { WatchEvent, Watcher } from "../src/file-system.js";
import { startDirectoryWatcher } from "../src/node/directory-watcher.js";
import { waitFor } from "../src/testing/wait-for.js";

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), "distsync-dirwatch-"));
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Watched {
  root: string;
  events: WatchEvent[];
  skipped: string[];
  rootEvents: () => number;
  watcher: Watcher;
}

async function watched(root?: string): Promise<Watched> {
  const dir = root ?? (await tempDir());
  const events: WatchEvent[] = [];
  const skipped: string[] = [];
  let rootEvents = 0;
  const watcher = await startDirectoryWatcher({
    root: dir,
    emit: (event) => events.push(event),
    onSkip: (path) => skipped.push(path),
    onLimit: (error) => {
      throw error;
    },
    onRootEvent: () => {
      rootEvents++;
    },
    onError: (error) => {
      throw error;
    },
  });
  cleanups.push(() => watcher.close());
  return { root: dir, events, skipped, rootEvents: () => rootEvents, watcher };
}

const has = (events: WatchEvent[], type: string, path: string) => () =>
  events.some((e) => e.type === type && "path" in e && e.path === path);
const pathsOf = (events: WatchEvent[], type: string) =>
  events.filter((e) => e.type === type).map((e) => ("path" in e ? e.path : ""));
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe("the directory watcher (one OS watch per directory)", () => {
  it("reports nothing for what exists at the start, then each add, change and remove", async () => {
    const root = await tempDir();
    await fsp.mkdir(join(root, "a/b"), { recursive: true });
    await fsp.writeFile(join(root, "a/b/old.txt"), "old");
    const { events } = await watched(root);
    await settle();
    expect(events).toEqual([]);

    await fsp.writeFile(join(root, "a/b/new.txt"), "new");
    await waitFor(has(events, "add", "a/b/new.txt"));
    await fsp.appendFile(join(root, "a/b/old.txt"), " and more");
    await waitFor(has(events, "change", "a/b/old.txt"));
    await fsp.unlink(join(root, "a/b/new.txt"));
    await waitFor(has(events, "remove", "a/b/new.txt"));
    expect(events).toContainEqual({ type: "add", path: "a/b/new.txt", kind: "file" });
    expect(events).toContainEqual({ type: "remove", path: "a/b/new.txt", kind: "file" });
  });

  it("reports everything inside a directory moved in, and its removal deepest first when moved out", async () => {
    const outside = await tempDir();
    await fsp.mkdir(join(outside, "tree/x/y"), { recursive: true });
    await fsp.writeFile(join(outside, "tree/top.txt"), "t");
    await fsp.writeFile(join(outside, "tree/x/y/deep.txt"), "d");
    const { root, events } = await watched();

    await fsp.rename(join(outside, "tree"), join(root, "tree"));
    await waitFor(has(events, "add", "tree/x/y/deep.txt"));
    expect(new Set(pathsOf(events, "add"))).toEqual(
      new Set(["tree", "tree/top.txt", "tree/x", "tree/x/y", "tree/x/y/deep.txt"]),
    );
    // The moved-in directories are watched too.
    await fsp.writeFile(join(root, "tree/x/y/later.txt"), "l");
    await waitFor(has(events, "add", "tree/x/y/later.txt"));

    events.length = 0;
    await fsp.rename(join(root, "tree"), join(outside, "back"));
    await waitFor(has(events, "remove", "tree"));
    const removed = pathsOf(events, "remove");
    expect(new Set(removed)).toEqual(
      new Set(["tree", "tree/top.txt", "tree/x", "tree/x/y", "tree/x/y/deep.txt", "tree/x/y/later.txt"]),
    );
    // Deepest first: every path comes after what it held.
    for (const path of removed) {
      const below = removed.filter((other) => other.startsWith(`${path}/`));
      for (const inner of below) expect(removed.indexOf(inner)).toBeLessThan(removed.indexOf(path));
    }
    // What happens in the moved-out directory is no longer reported.
    events.length = 0;
    await fsp.writeFile(join(outside, "back/x/y/gone.txt"), "g");
    await settle();
    expect(events).toEqual([]);
  });

  it("reports a move inside the folder as removals under the old name and adds under the new", async () => {
    const root = await tempDir();
    await fsp.mkdir(join(root, "from/sub"), { recursive: true });
    await fsp.writeFile(join(root, "from/sub/f.txt"), "f");
    await fsp.mkdir(join(root, "to"));
    const { events } = await watched(root);
    await fsp.rename(join(root, "from/sub"), join(root, "to/sub"));
    await waitFor(() => has(events, "add", "to/sub/f.txt")() && has(events, "remove", "from/sub/f.txt")());
    expect(pathsOf(events, "remove").sort()).toEqual(["from/sub", "from/sub/f.txt"]);
    expect(pathsOf(events, "add").sort()).toEqual(["to/sub", "to/sub/f.txt"]);
  });

  it("sees an entry change kind, and a directory replaced by another of the same name", async () => {
    const root = await tempDir();
    await fsp.mkdir(join(root, "d"));
    await fsp.writeFile(join(root, "d/in-old.txt"), "o");
    await fsp.writeFile(join(root, "f"), "file");
    const { events } = await watched(root);

    await fsp.unlink(join(root, "f"));
    await fsp.mkdir(join(root, "f"));
    await waitFor(() => events.some((e) => e.type === "add" && e.path === "f" && e.kind === "directory"));

    // Replaced while the watcher may not have looked in between: the new directory's content shows.
    const spare = join(root, "..", `${join(root).split("/").pop()}-spare`);
    await fsp.mkdir(spare);
    cleanups.push(() => fsp.rm(spare, { recursive: true, force: true }));
    await fsp.writeFile(join(spare, "in-new.txt"), "n");
    await fsp.rm(join(root, "d"), { recursive: true });
    await fsp.rename(spare, join(root, "d"));
    await waitFor(has(events, "add", "d/in-new.txt"));
    await waitFor(has(events, "remove", "d/in-old.txt"));
    await fsp.writeFile(join(root, "d/after.txt"), "a");
    await waitFor(has(events, "add", "d/after.txt"));
  });

  it("keeps watching a directory deleted and made again at once (even with the same inode number)", async () => {
    const root = await tempDir();
    await fsp.mkdir(join(root, "d"));
    await fsp.writeFile(join(root, "d/kept-name.txt"), "old");
    await fsp.writeFile(join(root, "d/gone.txt"), "g");
    const { events } = await watched(root);
    for (let round = 0; round < 3; round++) {
      events.length = 0;
      // In one turn of the event loop, so the watcher cannot look in between.
      rmSync(join(root, "d"), { recursive: true });
      mkdirSync(join(root, "d"));
      writeFileSync(join(root, "d/kept-name.txt"), `new ${round}`);
      // Written before the watcher could have looked: reported as a change (same name and kind)...
      await waitFor(() =>
        events.some((e) => "path" in e && e.path === "d/kept-name.txt" && e.type !== "remove"),
      );
      // ...and what is written later in the new directory is seen: it is watched.
      await fsp.writeFile(join(root, `d/later${round}.txt`), "l");
      await waitFor(has(events, "add", `d/later${round}.txt`), {
        message: `round ${round}: an add for d/later${round}.txt`,
      });
    }
    // It may have been seen removed with the old directory; the last word is that it exists.
    const last = events.filter((e) => "path" in e && e.path === "d/kept-name.txt").at(-1);
    expect(last?.type).not.toBe("remove");
  });

  it("reports each of 1,000 files written at once in one directory exactly once as added", async () => {
    const { root, events } = await watched();
    await fsp.mkdir(join(root, "many"));
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) => fsp.writeFile(join(root, `many/f${i}.bin`), `${i}`)),
    );
    await waitFor(() => pathsOf(events, "add").length >= 1001, { timeoutMs: 10_000 });
    await settle();
    const added = pathsOf(events, "add").filter((p) => p.startsWith("many/"));
    expect(added).toHaveLength(1000);
    expect(new Set(added).size).toBe(1000);
    expect(pathsOf(events, "remove")).toEqual([]);
  });

  it("never looks at DistSync's own names and reports names that are no valid path once", async () => {
    const { root, events, skipped } = await watched();
    await fsp.mkdir(join(root, ".distsync"));
    await fsp.writeFile(join(root, ".distsync/state"), "s");
    await fsp.writeFile(join(root, ".distsync-0123456789abcdef.tmp"), "t");
    await fsp.writeFile(join(root, "bad\\name"), "b");
    await fsp.writeFile(join(root, "good.txt"), "g");
    await waitFor(has(events, "add", "good.txt"));
    await waitFor(() => skipped.includes("bad\\name"));
    await settle();
    // Its add, then perhaps a change for the write that followed the create.
    expect(new Set(events.map((e) => ("path" in e ? e.path : e.type)))).toEqual(new Set(["good.txt"]));
    expect(events[0]).toEqual({ type: "add", path: "good.txt", kind: "file" });
    expect(skipped).toEqual(["bad\\name"]);
  });

  it("stops reporting once closed", async () => {
    const { root, events, watcher } = await watched();
    await watcher.close();
    await watcher.close();
    await fsp.writeFile(join(root, "after.txt"), "x");
    await settle();
    expect(events).toEqual([]);
  });
});

describe("the directory watcher when the OS refuses a watch", () => {
  afterEach(() => {
    vi.doUnmock("node:fs");
    vi.resetModules();
  });

  it("calls onLimit for ENOSPC (out of inotify watches) instead of leaving a directory unwatched", async () => {
    const root = await tempDir();
    for (let i = 0; i < 4; i++) await fsp.mkdir(join(root, `d${i}`));
    vi.resetModules();
    let watches = 0;
    vi.doMock("node:fs", async (original) => {
      const real = await original<typeof import("node:fs")>();
      return {
        ...real,
        watch: ((...args: Parameters<typeof real.watch>) => {
          if (++watches > 2) {
            throw Object.assign(new Error("ENOSPC: System limit for number of file watchers reached"), {
              code: "ENOSPC",
            });
          }
          return real.watch(...args);
        }) as typeof real.watch,
      };
    });
    const module = await import("../src/node/directory-watcher.js");
    const limits: unknown[] = [];
    const watcher = await module.startDirectoryWatcher({
      root,
      emit: () => {},
      onSkip: () => {},
      onLimit: (error) => limits.push(error),
      onRootEvent: () => {},
      onError: () => {},
    });
    cleanups.push(() => watcher.close());
    expect(limits.length).toBeGreaterThan(0);
    expect((limits[0] as { code?: string }).code).toBe("ENOSPC");
  });
});
