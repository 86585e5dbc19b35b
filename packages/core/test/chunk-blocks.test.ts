import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Worker } from "node:worker_threads";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
// The built package: the pool starts its workers from the compiled `compression-worker.js`.
import { type CompressionPool, createCompressionPool } from "../dist/node/index.js";
import { type ChunkBlocks, chunkBlocksInThread } from "../src/content/chunk-blocks.js";
import { Chunker } from "../src/content/chunker.js";
import { sha256, toHex } from "../src/content/hash.js";
import { type ReadContentOptions, type ReadResult, readContent } from "../src/content/read-content.js";
import type { FileSystem } from "../src/file-system.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createNodeFileSystem, type NodeFileSystem } from "../src/node/node-file-system.js";
import { CHUNK_MAX_BYTES, CHUNK_MIN_BYTES, DELTA_MIN_BYTES } from "../src/protocol/constants.js";
import type { RelPath } from "../src/types.js";
import { Cluster, converged } from "./helpers/cluster.js";

// Every worker the pool starts, so that a test can kill one in the middle of a request.
const started = vi.hoisted(() => [] as Worker[]);
vi.mock("node:worker_threads", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:worker_threads")>();
  class RecordedWorker extends real.Worker {
    constructor(...args: ConstructorParameters<typeof real.Worker>) {
      super(...args);
      started.push(this);
    }
  }
  return { ...real, Worker: RecordedWorker };
});

const MiB = 1024 * 1024;

const pools: CompressionPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(threads = 2): CompressionPool {
  const p = createCompressionPool({ threads });
  pools.push(p);
  return p;
}

function random(size: number): Uint8Array {
  return new Uint8Array(randomBytes(size));
}

/** Long runs of one byte between short random stretches: cut points at the maximum chunk size. */
function runs(size: number): Uint8Array {
  const data = new Uint8Array(size);
  let at = 0;
  let turn = 0;
  while (at < size) {
    const run = Math.min(size - at, 100_000 + ((turn * 7919) % 400_000));
    data.fill(turn % 3, at, at + run);
    at += run;
    const noise = Math.min(size - at, 3000);
    data.set(randomBytes(noise), at);
    at += noise;
    turn++;
  }
  return data;
}

interface Chunked {
  sizes: number[];
  hashes: string[];
  data: Uint8Array[];
}

/** What `Chunker` and WebCrypto make of `data` on this thread: the reference. */
async function reference(data: Uint8Array): Promise<Chunked> {
  const chunker = new Chunker();
  const chunks = [...chunker.push(data), ...chunker.finish()];
  const hashes = await Promise.all(chunks.map(async (c) => toHex(await sha256(c))));
  return { sizes: chunks.map((c) => c.length), hashes, data: chunks };
}

/** `data` through `chunkBlocks`, `blockBytes` at a time, as `readContent` feeds it. */
async function feed(chunkBlocks: ChunkBlocks, data: Uint8Array, blockBytes: number): Promise<Chunked> {
  const out: Chunked = { sizes: [], hashes: [], data: [] };
  let rest: Uint8Array = new Uint8Array(0);
  for (let at = 0; ; at += blockBytes) {
    // A copy per block: the pool moves the block's buffer to its worker.
    const block = data.slice(at, Math.min(data.length, at + blockBytes));
    const final = block.length === 0;
    const answer = await chunkBlocks({ rest, block, final, withData: true });
    rest = answer.rest;
    expect(answer.digests.length).toBe(answer.sizes.length);
    expect(answer.chunks?.length).toBe(answer.sizes.length);
    out.sizes.push(...answer.sizes);
    out.hashes.push(...answer.digests.map(toHex));
    out.data.push(...(answer.chunks ?? []));
    if (final) break;
  }
  expect(rest.length).toBe(0);
  return out;
}

interface Seen {
  result: ReadResult | undefined;
  /** Each chunk `onChunk` saw: its index, its digest, and the digest of its bytes, checked here. */
  chunks: { index: number; hash: string; bytes: string }[];
}

/** `readContent` with an `onChunk` that records each chunk. */
async function read(fs: FileSystem, path: string, options?: ReadContentOptions): Promise<Seen> {
  const chunks: Seen["chunks"] = [];
  const result = await readContent(
    fs,
    path as RelPath,
    async (chunk) => {
      chunks.push({ index: chunk.index, hash: chunk.hash, bytes: toHex(await sha256(chunk.data)) });
    },
    options,
  );
  return { result, chunks };
}

const sizes = [
  0,
  1,
  CHUNK_MIN_BYTES - 1,
  CHUNK_MIN_BYTES,
  CHUNK_MIN_BYTES + 1,
  CHUNK_MAX_BYTES - 1,
  CHUNK_MAX_BYTES,
  CHUNK_MAX_BYTES + 1,
  MiB - 1,
  MiB,
  MiB + 1,
  2 * MiB + CHUNK_MAX_BYTES + 1,
];

/** All that readContent uses of `fs`, counting the files it opens. */
function countingOpens(fs: MemoryFileSystem): { counted: FileSystem; opens: () => number } {
  let opens = 0;
  const counted = {
    openRead: (path: RelPath) => {
      opens++;
      return fs.openRead(path);
    },
    stat: (path: RelPath) => fs.stat(path),
  } as FileSystem;
  return { counted, opens: () => opens };
}

describe("chunkBlocks: the same cut points and digests as Chunker on this thread", () => {
  for (const [name, make] of [
    ["random", random],
    ["long runs", runs],
  ] as const) {
    it(`${name} data, sizes around the chunk limits and the read block, in the pool and in thread`, async () => {
      const p = pool();
      for (const size of sizes) {
        const data = make(size);
        const expected = await reference(data);
        for (const blockBytes of [MiB, 100_003, CHUNK_MAX_BYTES]) {
          for (const chunkBlocks of [p.chunkBlocks, chunkBlocksInThread]) {
            const got = await feed(chunkBlocks, data, blockBytes);
            expect(got.sizes, `${size} bytes in blocks of ${blockBytes}`).toEqual(expected.sizes);
            expect(got.hashes).toEqual(expected.hashes);
            expect(await Promise.all(got.data.map(async (c) => toHex(await sha256(c))))).toEqual(
              expected.hashes,
            );
          }
        }
      }
    });
  }

  it("answers sizes and digests only when the chunks' bytes are not asked for", async () => {
    const data = random(MiB);
    const expected = await reference(data);
    const answer = await pool().chunkBlocks({
      rest: new Uint8Array(0),
      block: data.slice(),
      final: true,
      withData: false,
    });
    expect(answer.chunks).toBeUndefined();
    expect(answer.sizes).toEqual(expected.sizes);
    expect(answer.digests.map(toHex)).toEqual(expected.hashes);
  });

  it("copies, rather than detaches, the bytes around a view into a larger buffer", async () => {
    const whole = random(3 * MiB);
    const view = whole.subarray(MiB, 2 * MiB);
    const p = pool();
    const got = await feed(
      async (request) => p.chunkBlocks({ ...request, block: request.block.length ? view : request.block }),
      view,
      MiB,
    );
    expect(got.hashes).toEqual((await reference(view)).hashes);
    expect(whole.byteLength).toBe(3 * MiB);
  });
});

describe("readContent with chunkBlocks", () => {
  it("reads a file above DELTA_MIN_BYTES to the same result and chunks as on this thread", async () => {
    const fs = new MemoryFileSystem();
    const p = pool();
    const files = [DELTA_MIN_BYTES + 1, MiB - 1, MiB, MiB + 1, 2 * MiB - 1, 3 * MiB + 12_345];
    for (const [i, size] of files.entries()) {
      fs.put(`f${i}.bin`, i % 2 ? runs(size) : random(size));
      const here = await read(fs, `f${i}.bin`);
      const pooled = await read(fs, `f${i}.bin`, { chunkBlocks: p.chunkBlocks });
      expect(pooled.result).toEqual(here.result);
      expect(pooled.result?.stable).toBe(true);
      expect(pooled.chunks).toEqual(here.chunks);
      // Without onChunk the worker sends no chunk bytes; the result is the same.
      expect(
        await readContent(fs, `f${i}.bin` as RelPath, undefined, { chunkBlocks: p.chunkBlocks }),
      ).toEqual(here.result);
    }
  });

  it("keeps files up to DELTA_MIN_BYTES on this thread", async () => {
    const fs = new MemoryFileSystem();
    fs.put("small.bin", random(DELTA_MIN_BYTES));
    const never: ChunkBlocks = async () => {
      throw new Error("not for small files");
    };
    let calls = 0;
    const counting: ChunkBlocks = async (request) => {
      calls++;
      return never(request);
    };
    const here = await read(fs, "small.bin");
    expect(await read(fs, "small.bin", { chunkBlocks: counting })).toEqual(here);
    expect(calls).toBe(0);
  });

  it("gives several files read at once their own results, across the pool's workers", async () => {
    const fs = new MemoryFileSystem();
    const p = pool(2);
    const names = Array.from({ length: 6 }, (_, i) => `c${i}.bin`);
    names.forEach((name, i) => {
      fs.put(name, i % 3 === 2 ? runs(MiB + i * 333_333) : random(DELTA_MIN_BYTES + 1 + i * 777_777));
    });
    const here = await Promise.all(names.map((name) => read(fs, name)));
    const pooled = await Promise.all(names.map((name) => read(fs, name, { chunkBlocks: p.chunkBlocks })));
    expect(pooled).toEqual(here);
    expect(new Set(pooled.map((s) => s.result?.hash)).size).toBe(names.length);
  });

  it("reads the file again on this thread when chunkBlocks fails after taking the bytes", async () => {
    const fs = new MemoryFileSystem();
    fs.put("big.bin", random(5 * MiB + 7));
    const { counted, opens } = countingOpens(fs);
    let calls = 0;
    const failing: ChunkBlocks = async (request) => {
      if (++calls === 3) {
        // Moved away, as to a worker that then died.
        structuredClone(request.block, { transfer: [request.block.buffer as ArrayBuffer] });
        throw new Error("worker gone");
      }
      return chunkBlocksInThread(request);
    };
    const here = await read(fs, "big.bin");
    const recovered = await read(counted, "big.bin", { chunkBlocks: failing });
    expect(opens()).toBe(2);
    expect(recovered.result).toEqual(here.result);
    // Each chunk reached onChunk exactly once, in order.
    expect(recovered.chunks).toEqual(here.chunks);
  });

  it("reports a file that changed before the second read as unstable", async () => {
    const fs = new MemoryFileSystem({
      now: (() => {
        let t = 1_000;
        return () => (t += 1_000);
      })(),
    });
    fs.put("big.bin", random(3 * MiB));
    let calls = 0;
    const failing: ChunkBlocks = async (request) => {
      if (++calls === 2) {
        fs.put("big.bin", random(3 * MiB));
        throw new Error("worker gone");
      }
      return chunkBlocksInThread(request);
    };
    const seen = await read(fs, "big.bin", { chunkBlocks: failing });
    expect(seen.result?.stable).toBe(false);
    expect(seen.chunks.map((c) => c.index)).toEqual(seen.chunks.map((_, i) => i));
  });

  it("survives a worker that dies in the middle of a request, and the pool goes on", async () => {
    const fs = new MemoryFileSystem();
    fs.put("big.bin", random(6 * MiB));
    const p = pool(1);
    const { counted, opens } = countingOpens(fs);
    let calls = 0;
    const killing: ChunkBlocks = (request) => {
      const answer = p.chunkBlocks(request);
      // The request is with the worker now: it dies before it can answer.
      if (++calls === 3) void started.at(-1)?.terminate();
      return answer;
    };
    const here = await read(fs, "big.bin");
    const before = started.length;
    const recovered = await read(counted, "big.bin", { chunkBlocks: killing });
    expect(opens()).toBe(2);
    expect(recovered).toEqual(here);
    // The next read starts a new worker.
    expect(await read(fs, "big.bin", { chunkBlocks: p.chunkBlocks })).toEqual(here);
    // One worker for the read (killed), one for the next.
    expect(started.length).toBe(before + 2);
  });

  it("finishes a read through a pool closed in the middle, and chunks on this thread after", async () => {
    const fs = new MemoryFileSystem();
    fs.put("big.bin", random(4 * MiB));
    const p = pool(1);
    let calls = 0;
    const closing: ChunkBlocks = (request) => {
      const answer = p.chunkBlocks(request);
      if (++calls === 2) void p.close();
      return answer;
    };
    const here = await read(fs, "big.bin");
    expect(await read(fs, "big.bin", { chunkBlocks: closing })).toEqual(here);
    const workers = started.length;
    expect(await read(fs, "big.bin", { chunkBlocks: p.chunkBlocks })).toEqual(here);
    expect(started.length).toBe(workers);
  });
});

describe("a client with chunkBlocks", () => {
  it("hashes large files through it, and syncs them and an edit to them as without it", async () => {
    const p = pool();
    let calls = 0;
    const chunkBlocks: ChunkBlocks = (request) => {
      calls++;
      return p.chunkBlocks(request);
    };
    const cluster = new Cluster();
    await cluster.start();
    try {
      const a = await cluster.add({ chunkBlocks, encodeChunk: p.encode });
      const b = await cluster.add({ chunkBlocks });
      await a.client.start();
      await b.client.start();
      const content = random(3 * MiB);
      await a.dir.put("big.bin", content);
      await a.dir.put("small.txt", "small files stay on the calling thread");
      await converged(a.dir, b.dir);
      expect(calls).toBeGreaterThan(0);
      const sent = calls;
      // A delta upload, and a download against B's own copy: both hash a large file.
      content.set(random(100_000), MiB);
      await a.dir.put("big.bin", content);
      await converged(a.dir, b.dir);
      expect(calls).toBeGreaterThan(sent);
    } finally {
      await cluster.stop();
    }
  });
});

describe("readContent through the pool keeps the event loop free", () => {
  let root: string;
  let fs: NodeFileSystem;
  const size = 64 * MiB;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "distsync-chunk-blocks-"));
    await writeFile(join(root, "big.bin"), randomBytes(size));
    fs = await createNodeFileSystem(root, { durable: false });
  });
  afterAll(async () => {
    await fs?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Reads big.bin while a 1 ms interval ticks: the loop's utilization and its longest gap. */
  async function measure(options: ReadContentOptions) {
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 1);
    const before = performance.eventLoopUtilization();
    const result = await readContent(fs, "big.bin" as RelPath, undefined, options);
    const { utilization } = performance.eventLoopUtilization(before);
    clearInterval(timer);
    maxGap = Math.max(maxGap, performance.now() - last);
    return { result, utilization, maxGap };
  }

  it("is busy a fraction of the time the same read takes on this thread", { timeout: 120_000 }, async () => {
    const p = pool(1);
    await measure({ chunkBlocks: p.chunkBlocks }); // the worker started, the file in the page cache
    const here = await measure({});
    const pooled = await measure({ chunkBlocks: p.chunkBlocks });
    expect(pooled.result).toEqual(here.result);
    expect(pooled.result?.size).toBe(size);
    // On this thread the loop is busy nearly all the time (~98 % measured); through the pool it
    // mostly waits (~15 % measured, timer ticks included). Generous bounds for a loaded machine.
    expect(here.utilization).toBeGreaterThan(0.7);
    expect(pooled.utilization).toBeLessThan(0.5);
    expect(pooled.utilization).toBeLessThan(here.utilization / 2);
    // No long stall (a whole 64 MiB file chunked here at once would stop the loop for ~0.4 s).
    expect(pooled.maxGap).toBeLessThan(150);
  });
});
