import { joinRest, splitChunks } from "./chunker.js";
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
  const { chunks, rest } = splitChunks(joinRest(request.rest, request.block), request.final);
  const digests = await Promise.all(chunks.map((chunk) => sha256(chunk)));
  const answer: ChunkBlocksAnswer = { sizes: chunks.map((chunk) => chunk.length), digests, rest };
  if (request.withData) answer.chunks = chunks;
  return answer;
}
