import type { FileStat, FileSystem } from "../file-system.js";
import { INLINE_MAX_BYTES } from "../protocol/constants.js";
import type { ContentHash, RelPath } from "../types.js";
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

/**
 * Reads a file once, chunked and hashed; `onChunk` sees each chunk in order (for uploads). Returns
 * `undefined` when the file is missing. Memory stays within one read block plus two chunks.
 */
export async function readContent(
  fs: FileSystem,
  path: RelPath,
  onChunk?: (chunk: ContentChunk) => Promise<void>,
): Promise<ReadResult | undefined> {
  const handle = await fs.openRead(path);
  if (handle === undefined) return undefined;
  const hasher = new ContentHasher();
  const chunker = new Chunker();
  let first: Uint8Array | undefined;
  let index = 0;
  const list: ChunkList = { chunks: [], sizes: [] };
  const take = async (chunks: Uint8Array[]) => {
    // The digests of one block's chunks run in parallel (WebCrypto works off the main thread).
    const digests = await Promise.all(chunks.map((data) => sha256(data)));
    for (const [k, data] of chunks.entries()) {
      const digest = digests[k] as Uint8Array;
      hasher.add(digest, data.length);
      if (index === 0) first = data;
      const hash = toHex(digest);
      list.chunks.push(hash);
      list.sizes.push(data.length);
      if (onChunk) await onChunk({ index, data, digest, hash });
      index++;
    }
  };
  try {
    let offset = 0;
    for (;;) {
      // Asked for what the file holds (one byte more, to see growth), not always a whole block:
      // a 1 MiB buffer per 4 KiB file was most of the time of reading many small files.
      const want = Math.min(READ_BLOCK_BYTES, Math.max(MIN_READ_BYTES, handle.stat.size - offset + 1));
      const block = await handle.read(want);
      if (block.length === 0) break;
      offset += block.length;
      await take(chunker.push(block));
    }
    await take(chunker.finish());
  } finally {
    await handle.close();
  }
  const after = await fs.stat(path);
  const stable =
    after !== undefined &&
    after.kind === "file" &&
    after.size === hasher.size &&
    after.mtimeMs === handle.stat.mtimeMs &&
    // A same-size rewrite that restores the mtime still moves the ctime.
    (after.ctimeMs === undefined ||
      handle.stat.ctimeMs === undefined ||
      after.ctimeMs === handle.stat.ctimeMs) &&
    handle.stat.size === hasher.size;
  const result: ReadResult = {
    stat: handle.stat,
    hash: await hasher.digest(),
    size: hasher.size,
    chunks: hasher.chunkCount,
    stable,
    list,
  };
  if (hasher.chunkCount <= 1 && hasher.size <= INLINE_MAX_BYTES) result.inline = first ?? new Uint8Array(0);
  return result;
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
