import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  type ChunkBlocksAnswer,
  type ChunkBlocksRequest,
  chunkBlocksInThread,
} from "../content/chunk-blocks.js";
import {
  type CompressionPolicy,
  type EncodedChunk,
  encodeChunk,
  isIncompressible,
} from "../content/compression.js";
import { READ_BLOCK_BYTES } from "../content/read-content.js";
import { CHUNK_MAX_BYTES } from "../protocol/constants.js";
import type { ChunkAnswer, WorkerAnswer, WorkerRequest } from "./compression-worker.js";

/** Chunks below this are deflated on the calling thread: a worker round trip costs more. */
const WORKER_MIN_BYTES = 16 * 1024;

export interface CompressionPoolOptions {
  /** Worker threads. Default: one per core beyond the first, at least one, at most four. */
  threads?: number;
}

/**
 * Compresses outgoing chunks, and cuts and hashes large files, in worker threads with the same
 * fflate deflate as `encodeChunk` and the same chunking and SHA-256 as `readContent`, so a large
 * upload or a large file to hash never holds up the event loop (heartbeats, other changes). Pass
 * `encode` as the client's `encodeChunk` option and `chunkBlocks` as its `chunkBlocks` option;
 * `close` stops the workers (later calls run on the calling thread).
 */
export interface CompressionPool {
  encode(chunk: Uint8Array, policy: CompressionPolicy): Promise<EncodedChunk>;
  /**
   * Cuts `rest` + `block` into chunks and digests them in a worker (see `ChunkBlocks`). They are
   * copied into a buffer shared with the worker, which reads them in place.
   */
  chunkBlocks(request: ChunkBlocksRequest): Promise<ChunkBlocksAnswer>;
  close(): Promise<void>;
}

interface Pending {
  worker: Worker;
  resolve: (answer: WorkerAnswer) => void;
  reject: (error: Error) => void;
}

/**
 * Shared buffers for chunk requests, reused. A request copies its bytes in (about 0.1 ms per 1 MiB
 * block) instead of moving its buffers to the worker: buffers moved there were freed only when the
 * worker collected garbage, which its small heap seldom makes it do, and the writing client's peak
 * RSS during a 1 GiB upload grew to 190–200 MiB.
 */
const WINDOW_BYTES = CHUNK_MAX_BYTES + READ_BLOCK_BYTES;
const SPARE_WINDOWS = 4;

export function createCompressionPool(options: CompressionPoolOptions = {}): CompressionPool {
  const count = Math.max(1, options.threads ?? Math.min(4, availableParallelism() - 1));
  const url = new URL("./compression-worker.js", import.meta.url);
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let turn = 0;
  let closed = false;
  const windows: SharedArrayBuffer[] = [];

  /** Rejects the requests posted to `worker` (to any worker without it). */
  const fail = (error: Error, worker?: Worker) => {
    for (const [id, p] of pending) {
      if (worker !== undefined && p.worker !== worker) continue;
      pending.delete(id);
      p.reject(error);
    }
  };
  const start = (): Worker => {
    const worker = new Worker(url);
    // Idle workers must not keep a finished process alive.
    worker.unref();
    worker.on("message", (answer: WorkerAnswer) => {
      const p = pending.get(answer.id);
      if (!p) return;
      pending.delete(answer.id);
      if ("error" in answer) p.reject(new Error(`worker request failed: ${answer.error}`));
      else p.resolve(answer);
    });
    // A worker that died is dropped (a new one starts when needed): a request posted to it would
    // never be answered.
    const drop = (error: Error) => {
      const at = workers.indexOf(worker);
      if (at !== -1) workers.splice(at, 1);
      fail(error, worker);
    };
    worker.on("error", drop);
    worker.on("messageerror", drop);
    worker.on("exit", (code) => {
      if (!closed) drop(new Error(`compression worker exited with code ${code}`));
    });
    return worker;
  };
  // Nothing is moved to a worker: a chunk to compress may still be sent raw, and chunk requests
  // share their window (see WINDOW_BYTES).
  const post = async (request: WorkerRequest): Promise<WorkerAnswer> => {
    if (workers.length < count) workers.push(start());
    const worker = workers[turn++ % workers.length] as Worker;
    const answer = new Promise<WorkerAnswer>((resolve, reject) =>
      pending.set(request.id, { worker, resolve, reject }),
    );
    worker.ref();
    try {
      worker.postMessage(request);
      return await answer;
    } finally {
      pending.delete(request.id);
      if (pending.size === 0) for (const w of workers) w.unref();
    }
  };

  return {
    async encode(chunk, policy) {
      if (closed || policy === "never" || chunk.length < WORKER_MIN_BYTES) return encodeChunk(chunk, policy);
      // The incompressibility sample is cheap: random data never pays for the trip to a worker.
      if (policy === "auto" && isIncompressible(chunk)) return { encoding: "raw", data: chunk };
      // The sample is taken: the worker only deflates (and keeps raw bytes when that saves < 5 %).
      // The chunk is copied, not moved: the caller may still send it raw.
      const answer = await post({ kind: "compress", id: nextId++, data: chunk, policy: "always" });
      const { encoding, data } = answer as { id: number } & EncodedChunk;
      return { encoding, data };
    },
    async chunkBlocks(request) {
      if (closed) return chunkBlocksInThread(request);
      const { rest, block, final, withData } = request;
      const length = rest.length + block.length;
      let window = windows.pop();
      if (window === undefined || window.byteLength < length) {
        window = new SharedArrayBuffer(Math.max(length, WINDOW_BYTES));
      }
      const bytes = new Uint8Array(window, 0, length);
      bytes.set(rest, 0);
      bytes.set(block, rest.length);
      try {
        const answer = (await post({
          kind: "chunk",
          id: nextId++,
          window,
          length,
          final,
          withData,
        })) as ChunkAnswer;
        const digests = answer.sizes.map((_, k) => answer.digests.subarray(k * 32, k * 32 + 32));
        const result: ChunkBlocksAnswer = {
          sizes: answer.sizes,
          digests,
          rest: bytes.slice(answer.restStart),
        };
        if (answer.chunks) result.chunks = answer.chunks;
        return result;
      } finally {
        // Answered, or its worker is gone: nobody reads this window any more.
        if (windows.length < SPARE_WINDOWS) windows.push(window);
      }
    },
    async close() {
      closed = true;
      fail(new Error("compression pool closed"));
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
    },
  };
}
