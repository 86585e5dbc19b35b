import { createHash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { cutPoints } from "../content/chunker.js";
import { type CompressionPolicy, type EncodedChunk, encodeChunk } from "../content/compression.js";

/** A request of the pool: compress `data` under `policy` and answer with `id`. */
export interface CompressRequest {
  kind: "compress";
  id: number;
  data: Uint8Array;
  policy: CompressionPolicy;
}

/**
 * A request of the pool: cut and hash the first `length` bytes of `window` (the bytes left after
 * the last cut, then the next block of a file; see `ChunkBlocks`), answer with `id`.
 */
export interface ChunkRequest {
  kind: "chunk";
  id: number;
  window: SharedArrayBuffer;
  length: number;
  final: boolean;
  withData: boolean;
}

export type WorkerRequest = CompressRequest | ChunkRequest;

/**
 * The chunks of a `ChunkRequest`; `digests` holds 32 bytes per chunk, in one buffer; the bytes
 * from `restStart` to the request's `length` follow the last cut.
 */
export interface ChunkAnswer {
  id: number;
  sizes: number[];
  digests: Uint8Array;
  chunks?: Uint8Array[];
  restStart: number;
}

export type WorkerAnswer = ({ id: number } & EncodedChunk) | ChunkAnswer | { id: number; error: string };

function compress(request: CompressRequest): void {
  const { encoding, data } = encodeChunk(request.data, request.policy);
  // A copy owned by this answer, so transferring it detaches nothing fflate still holds.
  const out = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  parentPort?.postMessage({ id: request.id, encoding, data: out }, [out.buffer as ArrayBuffer]);
}

// The same cut points as `Chunker` (`cutPoints`) and the same SHA-256 as WebCrypto's.
function chunk(request: ChunkRequest): void {
  // Read in place: nothing is allocated here per block, so the worker keeps no garbage buffers
  // (it collects rarely, and each moved 1 MiB block used to stay until it did).
  const data = new Uint8Array(request.window, 0, request.length);
  const cuts = cutPoints(data, request.final);
  const digests = new Uint8Array(cuts.length * 32);
  const sizes: number[] = [];
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const [k, cut] of cuts.entries()) {
    const bytes = data.subarray(start, cut);
    digests.set(createHash("sha256").update(bytes).digest(), k * 32);
    sizes.push(bytes.length);
    if (request.withData) chunks.push(bytes.slice());
    start = cut;
  }
  // Copies (`slice`) own their buffers: transferring them back detaches nothing else.
  const answer: ChunkAnswer = { id: request.id, sizes, digests, restStart: start };
  if (request.withData) answer.chunks = chunks;
  const transfer = [digests, ...chunks].map((bytes) => bytes.buffer as ArrayBuffer);
  parentPort?.postMessage(answer, transfer);
}

// The worker side of `createCompressionPool`: fflate's deflate, and the chunking and hashing of
// large files, off the main thread.
parentPort?.on("message", (request: WorkerRequest) => {
  try {
    if (request.kind === "chunk") chunk(request);
    else compress(request);
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: String(error) });
  }
});
