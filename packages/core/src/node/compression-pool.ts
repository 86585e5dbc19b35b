import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  type CompressionPolicy,
  type EncodedChunk,
  encodeChunk,
  isIncompressible,
} from "../content/compression.js";
import type { CompressRequest } from "./compression-worker.js";

/** Chunks below this are deflated on the calling thread: a worker round trip costs more. */
const WORKER_MIN_BYTES = 16 * 1024;

export interface CompressionPoolOptions {
  /** Worker threads. Default: one per core beyond the first, at least one, at most four. */
  threads?: number;
}

/**
 * Compresses outgoing chunks in worker threads with the same fflate deflate as `encodeChunk`, so
 * a large upload of compressible data never holds up the event loop (heartbeats, other changes).
 * Pass `encode` as the client's `encodeChunk` option; `close` stops the workers.
 */
export interface CompressionPool {
  encode(chunk: Uint8Array, policy: CompressionPolicy): Promise<EncodedChunk>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (chunk: EncodedChunk) => void;
  reject: (error: Error) => void;
}

type WorkerAnswer =
  | { id: number; encoding: EncodedChunk["encoding"]; data: Uint8Array }
  | { id: number; error: string };

export function createCompressionPool(options: CompressionPoolOptions = {}): CompressionPool {
  const count = Math.max(1, options.threads ?? Math.min(4, availableParallelism() - 1));
  const url = new URL("./compression-worker.js", import.meta.url);
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let turn = 0;
  let closed = false;

  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const start = (): Worker => {
    const worker = new Worker(url);
    // Idle workers must not keep a finished process alive.
    worker.unref();
    worker.on("message", (answer: WorkerAnswer) => {
      const p = pending.get(answer.id);
      if (!p) return;
      pending.delete(answer.id);
      if ("error" in answer) p.reject(new Error(`compression failed: ${answer.error}`));
      else p.resolve({ encoding: answer.encoding, data: answer.data });
    });
    // A worker that died is dropped (a new one starts when needed): a request posted to it would
    // never be answered.
    const drop = (error: Error) => {
      const at = workers.indexOf(worker);
      if (at !== -1) workers.splice(at, 1);
      failAll(error);
    };
    worker.on("error", drop);
    worker.on("messageerror", drop);
    worker.on("exit", (code) => {
      if (!closed) drop(new Error(`compression worker exited with code ${code}`));
    });
    return worker;
  };

  return {
    async encode(chunk, policy) {
      if (closed || policy === "never" || chunk.length < WORKER_MIN_BYTES) return encodeChunk(chunk, policy);
      // The incompressibility sample is cheap: random data never pays for the trip to a worker.
      if (policy === "auto" && isIncompressible(chunk)) return { encoding: "raw", data: chunk };
      if (workers.length < count) workers.push(start());
      const worker = workers[turn++ % workers.length] as Worker;
      const id = nextId++;
      const answer = new Promise<EncodedChunk>((resolve, reject) => pending.set(id, { resolve, reject }));
      worker.ref();
      try {
        // The sample is taken: the worker only deflates (and keeps raw bytes when that saves < 5 %).
        const request: CompressRequest = { id, data: chunk, policy: "always" };
        worker.postMessage(request);
        return await answer;
      } finally {
        if (pending.size === 0) for (const w of workers) w.unref();
      }
    },
    async close() {
      closed = true;
      failAll(new Error("compression pool closed"));
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
    },
  };
}
