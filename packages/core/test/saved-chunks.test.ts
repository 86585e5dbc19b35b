import { execFileSync } from "node:child_process";
import * as nodeFs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { afterEach, describe, expect, it } from "vitest";
import { sha256, toHex } from "../src/content/hash.js";
import { type ChunkList, contentHashOf } from "../src/content/manifest.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { createNodeFileSystem, type NodeFileSystem } from "../src/node/node-file-system.js";
import { STATE_DIR_NAME } from "../src/paths.js";
import type { ContentMessage } from "../src/protocol/messages.js";
import { type Client, createClient } from "../src/sync/client.js";
import { createHub, type Hub } from "../src/sync/hub.js";
import { LocalChunks } from "../src/sync/local-chunks.js";
import {
  decodeSavedChunks,
  encodeSavedChunks,
  MAX_SAVED_CHUNKS,
  type SavedChunks,
} from "../src/sync/saved-chunks.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { RelPath } from "../src/types.js";
import { randomBytes } from "./helpers/random-bytes.js";
import { SpyTransport } from "./helpers/spy-transport.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** A record of `count` made-up chunks of `chunkSize` bytes each, with its true content hash. */
async function record(path: string, count: number, seed: number, chunkSize = 64 * KiB): Promise<SavedChunks> {
  const list: ChunkList = { chunks: [], sizes: [] };
  const base = toHex(await sha256(new Uint8Array([seed & 0xff, seed >> 8])));
  for (let i = 0; i < count; i++) {
    list.chunks.push(base.slice(0, 56) + i.toString(16).padStart(8, "0"));
    list.sizes.push(chunkSize);
  }
  return {
    path: path as RelPath,
    hash: await contentHashOf(list.chunks),
    size: count * chunkSize,
    mtimeMs: 1_700_000_000_123.456 + seed,
    list,
  };
}

describe("saved chunk lists: encoding", () => {
  it("round trips, with digests and sizes in binary", async () => {
    const records = [await record("big.bin", 100, 1), await record("dir/other file.iso", 17, 2, 33 * KiB)];
    const bytes = encodeSavedChunks("default", records);
    expect(await decodeSavedChunks("default", bytes)).toEqual(records);
    // 32 bytes of digest and 4 of size per chunk, plus a little per record.
    expect(bytes.length).toBeLessThan(117 * 36 + 2 * 100 + 50);
  });

  it("damaged bytes, another format version or another space: undefined", async () => {
    const bytes = encodeSavedChunks("default", [await record("big.bin", 100, 1)]);
    expect(await decodeSavedChunks("default", bytes.subarray(0, bytes.length - 7))).toBeUndefined();
    expect(await decodeSavedChunks("default", randomBytes(300, 5))).toBeUndefined();
    expect(await decodeSavedChunks("default", new Uint8Array(0))).toBeUndefined();
    expect(await decodeSavedChunks("photos", bytes)).toBeUndefined();
    const value = packr.unpack(bytes) as { v: number };
    expect(await decodeSavedChunks("default", packr.pack({ ...value, v: 2 }))).toBeUndefined();
    expect(await decodeSavedChunks("default", packr.pack({ ...value, records: "x" }))).toBeUndefined();
    expect(await decodeSavedChunks("default", packr.pack({ v: 1, space: "default", records: [] }))).toEqual(
      [],
    );
  });

  it("a record that does not hold together is dropped alone", async () => {
    const good = await record("good.bin", 20, 1);
    const template = packr.unpack(encodeSavedChunks("default", [await record("bad.bin", 20, 2)])) as {
      records: unknown[][];
    };
    const item = template.records[0] as [string, Uint8Array, number, number, Uint8Array, Uint8Array];
    const flipped = (bytes: Uint8Array, at: number) => {
      const copy = Uint8Array.from(bytes);
      copy[at] = (copy[at] as number) ^ 1;
      return copy;
    };
    const sizes = (values: number[]) => {
      const out = new Uint8Array(values.length * 4);
      values.forEach((v, i) => {
        new DataView(out.buffer).setUint32(i * 4, v, true);
      });
      return out;
    };
    const [path, hash, size, mtimeMs, digests, chunkSizes] = item;
    const bad: unknown[] = [
      ["../escape.bin", hash, size, mtimeMs, digests, chunkSizes],
      ["/abs.bin", hash, size, mtimeMs, digests, chunkSizes],
      [`${STATE_DIR_NAME}/x.bin`, hash, size, mtimeMs, digests, chunkSizes],
      [path, hash.subarray(0, 31), size, mtimeMs, digests, chunkSizes],
      [path, hash, size, mtimeMs, flipped(digests, 100), chunkSizes], // digests do not hash to the hash
      [path, flipped(hash, 0), size, mtimeMs, digests, chunkSizes],
      [path, hash, size, mtimeMs, digests.subarray(0, digests.length - 1), chunkSizes],
      [path, hash, size + 1, mtimeMs, digests, chunkSizes], // sizes do not add up
      [path, hash, size, mtimeMs, digests, sizes([0, ...Array(19).fill(64 * KiB)])],
      [path, hash, size, mtimeMs, digests, sizes([-1, ...Array(19).fill(64 * KiB)])],
      [path, hash, size, mtimeMs, digests, sizes([20 * 64 * KiB - 19, ...Array(19).fill(1)])], // > CHUNK_MAX_BYTES
      [path, hash, "1310720", mtimeMs, digests, chunkSizes],
      [path, hash, size, "now", digests, chunkSizes],
      [path, hash, size, mtimeMs, Array.from(digests), chunkSizes],
      [path, hash, size, mtimeMs, digests],
      "not a record",
    ];
    const goodItem = (packr.unpack(encodeSavedChunks("default", [good])) as { records: unknown[] })
      .records[0];
    const bytes = packr.pack({ v: 1, space: "default", records: [...bad, goodItem, item] });
    const decoded = await decodeSavedChunks("default", bytes);
    expect(decoded?.map((r) => r.path)).toEqual(["good.bin", "bad.bin"]);
  });

  it(`keeps at most MAX_SAVED_CHUNKS (${MAX_SAVED_CHUNKS}) chunks, the first records first`, async () => {
    const first = await record("first.bin", MAX_SAVED_CHUNKS - 100, 1, 16 * KiB);
    const tooMany = await record("too-many.bin", 200, 2);
    const fits = await record("fits.bin", 100, 3);
    const bytes = encodeSavedChunks("default", [first, tooMany, fits]);
    expect(bytes.length).toBeLessThan(MAX_SAVED_CHUNKS * 36 + 1000);
    const decoded = await decodeSavedChunks("default", bytes);
    expect(decoded?.map((r) => r.path)).toEqual(["first.bin", "fits.bin"]);
  });
});

describe("LocalChunks: what is saved and loaded", () => {
  it("saves the latest recorded first, counts only real changes, and finds loaded chunks", async () => {
    let calls = 0;
    const chunks = new LocalChunks(() => calls++);
    const a = await record("a.bin", 20, 1);
    const b = await record("b.bin", 30, 2);
    chunks.record(a.path, a.hash, a, a.list);
    chunks.record(b.path, b.hash, b, b.list);
    expect(chunks.changes).toBe(2);
    chunks.record(a.path, a.hash, a, a.list); // the same again: nothing to save
    chunks.forget("missing.bin" as RelPath);
    expect(chunks.changes).toBe(2);
    expect(calls).toBe(2);
    const saved = [...chunks.saved()];
    expect(saved.map((r) => r.path)).toEqual(["a.bin", "b.bin"]);

    const loaded = new LocalChunks();
    loaded.load((await decodeSavedChunks("default", encodeSavedChunks("default", saved))) ?? []);
    expect(loaded.changes).toBe(0);
    expect([...loaded.saved()]).toEqual(saved);
    expect(loaded.find(b.list.chunks[3] as string)).toEqual({
      path: "b.bin",
      offset: 3 * 64 * KiB,
      size: 64 * KiB,
      fileSize: b.size,
      fileMtimeMs: b.mtimeMs,
    });
    expect(loaded.at(a.path, { size: a.size, mtimeMs: a.mtimeMs })?.hash).toBe(a.hash);
    expect(loaded.at(a.path, { size: a.size, mtimeMs: a.mtimeMs + 1 })).toBeUndefined();
    expect(loaded.list(b.hash)).toEqual(b.list);
  });
});

// ------------------------------------------------------------------ end to end, real folders

/** Raw bytes of file content a client received (chunks of any download). */
function contentBytes(spy: SpyTransport): number {
  return spy.received
    .filter((m): m is ContentMessage => m.type === "content")
    .reduce((sum, m) => sum + m.size, 0);
}

const roots: string[] = [];
const running: { client: Client; fs: NodeFileSystem }[] = [];
let hub: Hub | undefined;

afterEach(async () => {
  await Promise.all(running.splice(0).map(({ client, fs }) => client.stop().then(() => fs.close())));
  await hub?.stop();
  hub = undefined;
  await Promise.all(roots.splice(0).map((r) => nodeFs.rm(r, { recursive: true, force: true })));
});

async function folder(): Promise<string> {
  const root = await nodeFs.mkdtemp(join(tmpdir(), "distsync-chunks-"));
  roots.push(root);
  return root;
}

async function startSide(network: ReturnType<typeof createMemoryNetwork>, root: string, clientId: string) {
  const fs = await createNodeFileSystem(root, { durable: false });
  const spy = new SpyTransport(network.clientTransport());
  const client = createClient({ transport: spy, fs, clientId, settleMs: 5, deleteSettleMs: 20 });
  const side = { client, fs, spy };
  running.push(side);
  await client.start();
  return side;
}

async function stopSide(side: { client: Client; fs: NodeFileSystem }): Promise<void> {
  running.splice(running.indexOf(side), 1);
  await side.client.stop();
  await side.fs.close();
}

/** Resolves when `client` reports `event` for `path`. */
function seen(client: Client, event: "change-sent" | "change-applied", path: string): Promise<void> {
  return new Promise((resolve) => {
    const off = client.on(event, (change) => {
      if (change.path !== path) return;
      off();
      resolve();
    });
  });
}

async function sameFile(path: string, data: Uint8Array): Promise<boolean> {
  const bytes = await nodeFs.readFile(path).catch(() => undefined);
  return bytes !== undefined && Buffer.compare(bytes, Buffer.from(data)) === 0;
}

/**
 * Client A holds `big.bin` (synced from B) and stops; while A is down, B adds `copy.bin` — big.bin
 * with 64 KiB overwritten in the middle; `whileDown` may then touch A's folder. Restarts A and
 * returns the content bytes A received for the download of copy.bin.
 */
async function restartScenario(size: number, whileDown: (rootA: string) => Promise<void> = async () => {}) {
  const network = createMemoryNetwork();
  hub = createHub({ transport: network.hubTransport() });
  await hub.start();
  const [rootA, rootB] = [await folder(), await folder()];
  const big = randomBytes(size, 7);
  const a = await startSide(network, rootA, "client-a");
  const b = await startSide(network, rootB, "client-b");
  const applied = seen(a.client, "change-applied", "big.bin");
  await nodeFs.writeFile(join(rootB, "big.bin"), big);
  await applied;
  expect(await sameFile(join(rootA, "big.bin"), big)).toBe(true);
  const chunkState = join(rootA, STATE_DIR_NAME, "chunks-default");
  await waitFor(async () => (await nodeFs.stat(chunkState).catch(() => undefined)) !== undefined, {
    timeoutMs: 10_000,
    message: "A's saved chunk lists",
  });
  await stopSide(a);

  const copy = big.slice();
  copy.set(randomBytes(64 * KiB, 8), Math.floor(size / 2));
  const accepted = seen(b.client, "change-sent", "copy.bin");
  await nodeFs.writeFile(join(rootB, "copy.bin"), copy);
  await accepted;
  await whileDown(rootA);

  const again = await startSide(network, rootA, "client-a");
  // A download that found a local chunk changed starts over, so start() may resolve before it ends.
  await waitFor(
    async () => again.client.status().pending === 0 && (await sameFile(join(rootA, "copy.bin"), copy)),
    { timeoutMs: 20_000, message: "copy.bin on A" },
  );
  const sent = again.spy.sent.filter((m) => m.type === "content").length;
  return {
    received: contentBytes(again.spy),
    sent,
    chunkState,
    chunkStateBytes: (await nodeFs.stat(chunkState)).size,
  };
}

describe("saved chunk lists: a restarted client still finds chunks in its files", () => {
  it("after a restart, a new file sharing most chunks with an old one costs only the missing chunks", async () => {
    const size = 8 * MiB;
    const { received, chunkStateBytes } = await restartScenario(size);
    // The 64 KiB changed, rounded to the chunks around it (without the saved lists: all 8 MiB).
    expect(received).toBeGreaterThanOrEqual(64 * KiB);
    expect(received).toBeLessThan(1 * MiB);
    // ~128 chunks of ~64 KiB: 36 bytes each.
    expect(chunkStateBytes).toBeLessThan(((size / (64 * KiB)) * 36 + 200) * 2);
  }, 60_000);

  it("a saved record of a file that changed with the same size and mtime costs bytes, never correctness", async () => {
    const size = 4 * MiB;
    const { received, sent } = await restartScenario(size, async (rootA) => {
      const path = join(rootA, "big.bin");
      const before = await nodeFs.stat(path);
      // Other bytes, the same size, and the same mtime to the nanosecond (touch copies it exactly).
      await nodeFs.writeFile(`${path}.new`, randomBytes(size, 9));
      execFileSync("touch", ["-r", path, `${path}.new`]);
      await nodeFs.rename(`${path}.new`, path);
      const after = await nodeFs.stat(path);
      expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    });
    // A trusted big.bin by its stat (it uploaded nothing), so it tried the stale record: the first
    // chunk copied from big.bin failed its digest check, and the download started over without it.
    expect(sent).toBe(0);
    expect(received).toBeGreaterThan(size - 256 * KiB);
  }, 60_000);

  it("a damaged chunk-list file costs only the reuse", async () => {
    const size = 4 * MiB;
    const { received } = await restartScenario(size, async (rootA) => {
      await nodeFs.writeFile(join(rootA, STATE_DIR_NAME, "chunks-default"), randomBytes(5000, 10));
    });
    expect(received).toBeGreaterThanOrEqual(size);
  }, 60_000);

  it("the record of a file deleted while the client was down is dropped at start and not saved again", async () => {
    const network = createMemoryNetwork();
    hub = createHub({ transport: network.hubTransport() });
    await hub.start();
    const [rootA, rootB] = [await folder(), await folder()];
    const a = await startSide(network, rootA, "client-a");
    await startSide(network, rootB, "client-b");
    const chunkState = join(rootA, STATE_DIR_NAME, "chunks-default");
    const savedPaths = async () => {
      const bytes = await nodeFs.readFile(chunkState).catch(() => undefined);
      const saved = bytes && (await decodeSavedChunks("default", bytes));
      return saved
        ?.map((r) => r.path)
        .sort()
        .join();
    };
    await nodeFs.writeFile(join(rootB, "keep.bin"), randomBytes(2 * MiB, 11));
    await nodeFs.writeFile(join(rootB, "gone.bin"), randomBytes(2 * MiB, 12));
    await waitFor(async () => (await savedPaths()) === "gone.bin,keep.bin", { timeoutMs: 20_000 });
    await stopSide(a);
    await nodeFs.rm(join(rootA, "gone.bin"));
    const again = await startSide(network, rootA, "client-a");
    await waitFor(async () => again.client.status().pending === 0 && (await savedPaths()) === "keep.bin", {
      timeoutMs: 10_000,
      message: "saved lists without gone.bin",
    });
  }, 60_000);
});
