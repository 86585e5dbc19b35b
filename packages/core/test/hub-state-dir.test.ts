import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openHubStateDir } from "../src/node/hub-state-dir.js";
import { NodeContentStore } from "../src/node/node-content-store.js";
import { NodeHubJournal } from "../src/node/node-hub-journal.js";
import type { ClientId, ContentHash, IndexEntry, RelPath } from "../src/types.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "distsync-state-"));
  dirs.push(dir);
  return dir;
}

function entry(path: string, seq: number, extra: Partial<IndexEntry> = {}): IndexEntry {
  return {
    path: path as RelPath,
    seq,
    origin: "c1" as ClientId,
    kind: "file",
    deleted: false,
    size: 3,
    mtimeMs: 1_700_000_000_000 + seq,
    hash: "ab".repeat(32) as ContentHash,
    executable: false,
    ...extra,
  };
}

describe("NodeHubJournal", () => {
  it("loads what an earlier journal recorded and flushed: entries, the epoch, each space's seq", async () => {
    const dir = await tempDir();
    const first = new NodeHubJournal(dir);
    expect(await first.load()).toEqual({ epoch: undefined, spaces: [] });
    first.setEpoch("e1");
    first.record("default", [entry("a.txt", 1), entry("d", 2, { kind: "directory", hash: "" })]);
    first.record("other", [entry("x", 1)]);
    first.record("default", [entry("a.txt", 3, { deleted: true })]);
    await first.flush();
    // Not closed: as after kill -9, only what was flushed counts.
    const second = new NodeHubJournal(dir);
    const snapshot = await second.load();
    expect(snapshot.epoch).toBe("e1");
    const def = snapshot.spaces.find((s) => s.name === "default");
    expect(def?.seq).toBe(3);
    expect(def?.entries.map((e) => [e.path, e.seq, e.deleted]).sort()).toEqual([
      ["a.txt", 3, true],
      ["d", 2, false],
    ]);
    expect(snapshot.spaces.find((s) => s.name === "other")?.entries).toHaveLength(1);
    await second.close();
  });

  it("keeps a space's last seq when the entry that carried it is forgotten", async () => {
    const dir = await tempDir();
    const first = new NodeHubJournal(dir);
    await first.load();
    first.record("default", [entry("a", 1), entry("gone", 7, { deleted: true })]);
    first.forget("default", ["gone"], 7);
    await first.close();
    const snapshot = await new NodeHubJournal(dir).load();
    expect(snapshot.spaces[0]?.seq).toBe(7);
    expect(snapshot.spaces[0]?.entries.map((e) => e.path)).toEqual(["a"]);
  });

  it("drops a torn last record (a crash mid-append) and keeps everything before it", async () => {
    const dir = await tempDir();
    const first = new NodeHubJournal(dir);
    await first.load();
    first.record("default", [entry("kept", 1)]);
    await first.flush();
    first.record("default", [entry("torn", 2)]);
    await first.close();
    const log = join(dir, "index.log");
    await truncate(log, (await stat(log)).size - 3);
    const second = new NodeHubJournal(dir);
    const snapshot = await second.load();
    expect(second.droppedRecords).toBe(1);
    expect(snapshot.spaces[0]?.entries.map((e) => e.path)).toEqual(["kept"]);
    // The log was rewritten without the torn record: appending goes on from a clean end.
    second.record("default", [entry("after", 3)]);
    await second.close();
    const third = await new NodeHubJournal(dir).load();
    expect(third.spaces[0]?.entries.map((e) => e.path).sort()).toEqual(["after", "kept"]);
  });

  it("stops at a corrupt record (checksum) instead of loading garbage", async () => {
    const dir = await tempDir();
    const first = new NodeHubJournal(dir);
    await first.load();
    first.record("default", [entry("a", 1)]);
    await first.close();
    await appendFile(
      join(dir, "index.log"),
      Buffer.from([5, 0, 0, 0, 1, 2, 3, 4, 0x91, 0x01, 0x02, 0x03, 0x04]),
    );
    const second = new NodeHubJournal(dir);
    const snapshot = await second.load();
    expect(second.droppedRecords).toBe(1);
    expect(snapshot.spaces[0]?.entries.map((e) => e.path)).toEqual(["a"]);
  });

  it("survives kill -9 of a process that was appending: every flushed record is there", async () => {
    const dir = await tempDir();
    const script = `
      import { NodeHubJournal } from ${JSON.stringify(new URL("../dist/node/index.js", import.meta.url).href)};
      const j = new NodeHubJournal(process.argv[1]);
      await j.load();
      for (let i = 1; ; i++) {
        j.record("default", [{ path: "f" + i, seq: i, origin: "c", kind: "file", deleted: false, size: 1, mtimeMs: i, hash: "ab".repeat(32), executable: false }]);
        await j.flush();
        process.stdout.write(i + "\\n");
      }`;
    // The built package (the suite builds before it runs), in a process of its own to kill.
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let last = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (text: Buffer) => {
        const lines = text.toString().trim().split("\n");
        last = Number(lines.at(-1));
        if (last >= 200) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((r) => child.on("exit", r));
    const snapshot = await new NodeHubJournal(dir).load();
    // Every record reported as flushed before the kill is there.
    expect(snapshot.spaces[0]?.seq).toBeGreaterThanOrEqual(last);
    expect(snapshot.spaces[0]?.entries.length).toBe(snapshot.spaces[0]?.seq);
  });
});

describe("NodeContentStore", () => {
  it("keeps chunks and manifests on disk, as they arrived, across instances", async () => {
    const dir = await tempDir();
    const store = new NodeContentStore(dir);
    await store.open();
    const chunk = { size: 10, encoding: "deflate" as const, data: new Uint8Array([1, 2, 3]) };
    const chunkHash = "cd".repeat(32);
    const fileHash = "ef".repeat(32) as ContentHash;
    expect(await store.hasChunk(chunkHash)).toBe(false);
    await store.putChunk(chunkHash, chunk);
    await store.putManifest(fileHash, { size: 10, chunks: [chunkHash] });
    const again = new NodeContentStore(dir);
    await again.open();
    expect(await again.hasContent(fileHash)).toBe(true);
    expect(await again.getManifest(fileHash)).toEqual({ size: 10, chunks: [chunkHash] });
    const got = await again.getChunk(chunkHash);
    expect(got?.size).toBe(10);
    expect(got?.encoding).toBe("deflate");
    expect([...(got?.data ?? [])]).toEqual([1, 2, 3]);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("refuses names that are not hashes (no path can be smuggled through a hash)", async () => {
    const store = new NodeContentStore(await tempDir());
    await store.open();
    expect(await store.hasChunk("../../etc/passwd")).toBe(false);
    expect(await store.getChunk("../x")).toBeUndefined();
    await expect(
      store.putChunk("../x", { size: 1, encoding: "raw", data: new Uint8Array(1) }),
    ).rejects.toThrow(/not a content hash/);
  });

  it("stores a chunk again after its prefix directory was removed behind its back", async () => {
    const dir = await tempDir();
    const store = new NodeContentStore(dir);
    await store.open();
    const raw = { size: 1, encoding: "raw" as const, data: new Uint8Array([7]) };
    await store.putChunk(`33${"0".repeat(62)}`, raw);
    await rm(join(dir, "chunks", "33"), { recursive: true });
    const second = `33${"1".repeat(62)}`;
    await store.putChunk(second, raw);
    expect([...((await store.getChunk(second))?.data ?? [])]).toEqual([7]);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("removes temp files a crash left behind when it opens", async () => {
    const dir = await tempDir();
    const store = new NodeContentStore(dir);
    await store.open();
    await writeFile(join(dir, "tmp", "half-written"), "x");
    const again = new NodeContentStore(dir);
    await again.open();
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("collects content no kept version needs, keeping shared chunks", async () => {
    const store = new NodeContentStore(await tempDir());
    await store.open();
    const shared = "11".repeat(32);
    const onlyOld = "22".repeat(32);
    const raw = { size: 1, encoding: "raw" as const, data: new Uint8Array(1) };
    for (const c of [shared, onlyOld]) await store.putChunk(c, raw);
    await store.putManifest("aa".repeat(32) as ContentHash, { size: 2, chunks: [shared] });
    await store.putManifest("bb".repeat(32) as ContentHash, { size: 2, chunks: [shared, onlyOld] });
    const removed = await store.collectGarbage(new Set(["aa".repeat(32)]));
    expect(removed).toEqual({ manifests: 1, chunks: 1 });
    expect(await store.hasChunk(shared)).toBe(true);
    expect(await store.hasChunk(onlyOld)).toBe(false);
    expect(await store.hasContent("bb".repeat(32) as ContentHash)).toBe(false);
  });
});

describe("openHubStateDir", () => {
  it("lets one hub at a time use a directory, and takes over the lock of a dead process", async () => {
    const dir = await tempDir();
    const first = await openHubStateDir(dir);
    // Another live process holds it (the lock names a running pid that is not ours).
    await first.close();
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
    await writeFile(join(dir, "lock"), `${sleeper.pid}\n`);
    await expect(openHubStateDir(dir)).rejects.toThrow(`in use by another hub (process ${sleeper.pid})`);
    sleeper.kill("SIGKILL");
    await new Promise((r) => sleeper.on("exit", r));
    // The owner died without cleaning up (kill -9): the lock is stale and taken over.
    const second = await openHubStateDir(dir);
    expect((await readFile(join(dir, "lock"), "utf8")).trim()).toBe(String(process.pid));
    await second.close();
  });
});
