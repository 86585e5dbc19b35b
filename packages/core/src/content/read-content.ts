import type { FileReadHandle, FileStat, FileSystem } from "../file-system.js";
import { DELTA_MIN_BYTES, INLINE_MAX_BYTES } from "../protocol/constants.js";
import type { ContentHash, RelPath } from "../types.js";
import type { ChunkBlocks, ChunkBlocksAnswer } from "./chunk-blocks.js";
import { Chunker } from "./chunker.js";
import { ContentHasher, sha256, toHex } from "./hash.js";
import type { ChunkList } from "./manifest.js";

/** Bytes asked of the file system per read, at most. */
export const READ_BLOCK_BYTES = 1024 * 1024;
/** Bytes asked at least, once the file's stat size is read (it may have grown). */
const MIN_READ_BYTES = 64 * 1024;

export interface ContentChunk {
  index: number;
  data: Uint8Array;
  digest: Uint8Array;
  hash: string;
}

export interface ReadResult {
  /** The stat when the file was opened. */
  stat: FileStat;
  hash: ContentHash;
  size: number;
  chunks: number;
  /** The whole content when it is one chunk of at most `INLINE_MAX_BYTES`. */
  inline?: Uint8Array;
  /** False when the file changed while it was read: the result describes no real version. */
  stable: boolean;
  /** Every chunk's digest (hex) and size, in order: the content's manifest. */
  list: ChunkList;
}

export interface ReadContentOptions {
  /**
   * Chunks and hashes the content of files above `DELTA_MIN_BYTES`, e.g. in worker threads
   * (`createCompressionPool().chunkBlocks` from `@distsync/core/node`). Default: on this thread.
   * Smaller files are always read on this thread: a trip to a worker would cost more.
   */
  chunkBlocks?: ChunkBlocks;
}

/**
 * Reads a file once, chunked and hashed; `onChunk` sees each chunk in order (for uploads). Returns
 * `undefined` when the file is missing. Memory stays within one read block plus two chunks.
 */
export async function readContent(
  fs: FileSystem,
  path: RelPath,
  onChunk?: (chunk: ContentChunk) => Promise<void>,
  options: ReadContentOptions = {},
): Promise<ReadResult | undefined> {
  const handle = await fs.openRead(path);
  if (handle === undefined) return undefined;
  const opened = handle.stat;
  let found = new Found(onChunk);
  let chunkerFailed = false;
  try {
    const chunkBlocks = opened.size > DELTA_MIN_BYTES ? options.chunkBlocks : undefined;
    if (chunkBlocks) chunkerFailed = !(await readInBlocks(handle, found, chunkBlocks));
    else await readHere(handle, found);
  } finally {
    await handle.close();
  }
  let sameVersion = true;
  if (chunkerFailed) {
    // The chunker failed (its worker died, or its pool closed) and may have taken the bytes in
    // flight with it: the file is read again here. `onChunk` is not shown a chunk twice.
    const seen = found.list.chunks;
    const again = await fs.openRead(path);
    // Gone meanwhile: missing, as if it had been gone at the start (what was read is incomplete).
    if (again === undefined) return undefined;
    const retry = new Found(
      onChunk &&
        (async (chunk) => {
          if (chunk.index >= seen.length) await onChunk(chunk);
          else if (chunk.hash !== seen[chunk.index]) sameVersion = false;
        }),
    );
    try {
      await readHere(again, retry);
    } finally {
      await again.close();
    }
    if (!sameStat(again.stat, opened)) sameVersion = false;
    found = retry;
  }
  const { hasher } = found;
  const after = await fs.stat(path);
  const stable =
    sameVersion &&
    after !== undefined &&
    after.kind === "file" &&
    sameStat(after, opened) &&
    opened.size === hasher.size;
  const result: ReadResult = {
    stat: opened,
    hash: await hasher.digest(),
    size: hasher.size,
    chunks: hasher.chunkCount,
    stable,
    list: found.list,
  };
  if (hasher.chunkCount <= 1 && hasher.size <= INLINE_MAX_BYTES)
    result.inline = found.first ?? new Uint8Array(0);
  return result;
}

/** The chunks of one read so far: the content hash, the manifest, and `onChunk` told of each. */
class Found {
  readonly hasher = new ContentHasher();
  readonly list: ChunkList = { chunks: [], sizes: [] };
  first: Uint8Array | undefined;
  readonly onChunk: ((chunk: ContentChunk) => Promise<void>) | undefined;

  constructor(onChunk: ((chunk: ContentChunk) => Promise<void>) | undefined) {
    this.onChunk = onChunk;
  }

  /** The next chunk; `data` may be missing only when there is no `onChunk`. */
  async add(size: number, digest: Uint8Array, data: Uint8Array | undefined): Promise<void> {
    const index = this.list.chunks.length;
    const hash = toHex(digest);
    this.hasher.add(digest, size);
    this.list.chunks.push(hash);
    this.list.sizes.push(size);
    if (index === 0) this.first = data;
    if (this.onChunk) await this.onChunk({ index, data: data as Uint8Array, digest, hash });
  }
}

/** Same size, mtime and ctime (a same-size rewrite that restores the mtime still moves the ctime). */
function sameStat(a: FileStat, b: FileStat): boolean {
  return (
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    (a.ctimeMs === undefined || b.ctimeMs === undefined || a.ctimeMs === b.ctimeMs)
  );
}

/** Bytes to ask for at `offset`: what the file holds (one byte more, to see growth), at most a block. */
function readSize(stat: FileStat, offset: number): number {
  // Not always a whole block: a 1 MiB buffer per 4 KiB file was most of the time of reading many
  // small files.
  return Math.min(READ_BLOCK_BYTES, Math.max(MIN_READ_BYTES, stat.size - offset + 1));
}

/** Chunks and hashes the file on this thread. */
async function readHere(handle: FileReadHandle, found: Found): Promise<void> {
  const chunker = new Chunker();
  const take = async (chunks: Uint8Array[]) => {
    // The digests of one block's chunks run in parallel (WebCrypto works off the main thread).
    const digests = await Promise.all(chunks.map((data) => sha256(data)));
    for (const [k, data] of chunks.entries()) await found.add(data.length, digests[k] as Uint8Array, data);
  };
  let offset = 0;
  for (;;) {
    const block = await handle.read(readSize(handle.stat, offset));
    if (block.length === 0) break;
    offset += block.length;
    await take(chunker.push(block));
  }
  await take(chunker.finish());
}

/**
 * Chunks and hashes the file through `chunkBlocks`, one block at a time (the next block is read
 * once the last one is cut, so memory stays within a block and its chunks). False when
 * `chunkBlocks` failed: the bytes it was given may be gone.
 */
async function readInBlocks(
  handle: FileReadHandle,
  found: Found,
  chunkBlocks: ChunkBlocks,
): Promise<boolean> {
  let rest: Uint8Array = new Uint8Array(0);
  let offset = 0;
  for (;;) {
    const block = await handle.read(readSize(handle.stat, offset));
    offset += block.length;
    const final = block.length === 0;
    // Without `onChunk`, chunk bytes are only needed as the inline content of a one-chunk file.
    const withData = found.onChunk !== undefined || (final && found.list.chunks.length === 0);
    let answer: ChunkBlocksAnswer;
    try {
      answer = await chunkBlocks({ rest, block, final, withData });
    } catch {
      return false;
    }
    rest = answer.rest;
    for (const [k, size] of answer.sizes.entries()) {
      await found.add(size, answer.digests[k] as Uint8Array, answer.chunks?.[k]);
    }
    if (final) return true;
  }
}

/** The content hash of bytes held in memory (same definition as for files). */
export async function hashBytes(data: Uint8Array): Promise<ContentHash> {
  const hasher = new ContentHasher();
  const chunker = new Chunker();
  for (const chunk of [...chunker.push(data), ...chunker.finish()]) {
    hasher.add(await sha256(chunk), chunk.length);
  }
  return hasher.digest();
}
