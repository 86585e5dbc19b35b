import { cutPoints } from "./chunker.js";
import { sha256 } from "./hash.js";

/** One step of chunking a file: the bytes left after its last cut, then the next block read. */
export interface ChunkBlocksRequest {
  /** The previous answer's `rest`; empty at the start of the file. */
  rest: Uint8Array;
  /** The next bytes of the file; empty at its end. */
  block: Uint8Array;
  /** No bytes follow: `rest` + `block` is cut to its end (the answer's `rest` is then empty). */
  final: boolean;
  /** Whether the answer carries each chunk's bytes (`chunks`); otherwise sizes and digests only. */
  withData: boolean;
}

/** The chunks completed by one request. */
export interface ChunkBlocksAnswer {
  /** Each chunk's size in bytes, in order. */
  sizes: number[];
  /** Each chunk's SHA-256 digest (32 bytes), in order. */
  digests: Uint8Array[];
  /** Each chunk's bytes, when the request asked for them. */
  chunks?: Uint8Array[];
  /** The bytes after the last cut (less than one maximum chunk), for the next request. */
  rest: Uint8Array;
}

/**
 * Cuts `rest` + `block` into content-defined chunks exactly where `Chunker` would and digests each
 * with SHA-256, for `readContent` (files above `DELTA_MIN_BYTES`). An implementation may take the
 * request's arrays (transfer their buffers to a worker thread): the caller must not use them
 * afterwards. `createCompressionPool().chunkBlocks` from `@distsync/core/node` runs in worker
 * threads. When it rejects, `readContent` reads the file again on the calling thread.
 */
export type ChunkBlocks = (request: ChunkBlocksRequest) => Promise<ChunkBlocksAnswer>;

/** `ChunkBlocks` on the calling thread (SHA-256 through WebCrypto): the reference behaviour. */
export async function chunkBlocksInThread(request: ChunkBlocksRequest): Promise<ChunkBlocksAnswer> {
  const data = joinRest(request.rest, request.block);
  const sizes: number[] = [];
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cutPoints(data, request.final)) {
    sizes.push(cut - start);
    chunks.push(data.slice(start, cut));
    start = cut;
  }
  const digests = await Promise.all(chunks.map((chunk) => sha256(chunk)));
  const answer: ChunkBlocksAnswer = { sizes, digests, rest: data.slice(start) };
  if (request.withData) answer.chunks = chunks;
  return answer;
}

/** `rest` followed by `block`: one of them when the other is empty, else a copy of both. */
export function joinRest(rest: Uint8Array, block: Uint8Array): Uint8Array {
  if (rest.length === 0) return block;
  if (block.length === 0) return rest;
  const data = new Uint8Array(rest.length + block.length);
  data.set(rest, 0);
  data.set(block, rest.length);
  return data;
}
