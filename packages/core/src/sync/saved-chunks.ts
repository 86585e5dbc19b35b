import { Packr } from "msgpackr";
import { sha256, toHex } from "../content/hash.js";
import { type ChunkList, fromHex } from "../content/manifest.js";
import { isInternalPath, isValidPath } from "../paths.js";
import { CHUNK_MAX_BYTES, DELTA_MIN_BYTES } from "../protocol/constants.js";
import type { ContentHash, RelPath } from "../types.js";

/** One large file's chunks as the client recorded them (see LocalChunks), with the file's stat then. */
export interface SavedChunks {
  path: RelPath;
  hash: ContentHash;
  size: number;
  mtimeMs: number;
  list: ChunkList;
}

const FORMAT = 1;
/**
 * At most this many chunks are saved, about 36 bytes each (a 4.5 MiB state file, ~8 GiB of large
 * files at the 64 KiB average chunk): the most recently recorded files first, files that do not
 * fit are left out (their chunks are found again when they are next hashed).
 */
export const MAX_SAVED_CHUNKS = 131_072;
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/**
 * Encodes chunk records, most wanted first (see MAX_SAVED_CHUNKS). Each record is `[path, hash,
 * size, mtimeMs, digests, sizes]`: the content hash and the chunk digests as raw 32-byte SHA-256
 * values (digests concatenated), the chunk sizes as little-endian uint32 values.
 */
export function encodeSavedChunks(space: string, records: Iterable<SavedChunks>): Uint8Array {
  const out: unknown[] = [];
  let budget = MAX_SAVED_CHUNKS;
  for (const { path, hash, size, mtimeMs, list } of records) {
    const count = list.chunks.length;
    if (count > budget) continue;
    budget -= count;
    const digests = new Uint8Array(count * 32);
    const sizes = new Uint8Array(count * 4);
    const view = new DataView(sizes.buffer);
    for (let i = 0; i < count; i++) {
      digests.set(fromHex(list.chunks[i] as string), i * 32);
      view.setUint32(i * 4, list.sizes[i] as number, true);
    }
    out.push([path, fromHex(hash), size, mtimeMs, digests, sizes]);
  }
  return packr.pack({ v: FORMAT, space, records: out });
}

/**
 * Reads saved chunk records, or returns `undefined` when the bytes are from another format or
 * space, or damaged. A record that does not hold together — an invalid path, sizes that are not
 * positive, at most `CHUNK_MAX_BYTES`, and summing to the file's size, or digests that do not hash
 * to its content hash — is dropped alone. The records are hints: the client still checks a file's
 * stat before it reads a chunk there and the chunk's digest before it uses it.
 */
export async function decodeSavedChunks(
  space: string,
  bytes: Uint8Array,
): Promise<SavedChunks[] | undefined> {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch {
    return undefined;
  }
  const v = value as { v?: unknown; space?: unknown; records?: unknown };
  if (!v || v.v !== FORMAT || v.space !== space || !Array.isArray(v.records)) return undefined;
  const records: SavedChunks[] = [];
  for (const item of v.records) {
    const record = await decodeRecord(item);
    if (record) records.push(record);
  }
  return records;
}

async function decodeRecord(item: unknown): Promise<SavedChunks | undefined> {
  if (!Array.isArray(item) || item.length !== 6) return undefined;
  const [path, hash, size, mtimeMs, digests, sizes] = item as unknown[];
  if (!isValidPath(path) || isInternalPath(path)) return undefined;
  if (!(hash instanceof Uint8Array) || hash.length !== 32) return undefined;
  if (!(digests instanceof Uint8Array) || !(sizes instanceof Uint8Array)) return undefined;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= DELTA_MIN_BYTES) return undefined;
  if (typeof mtimeMs !== "number" || !Number.isFinite(mtimeMs)) return undefined;
  const count = sizes.length / 4;
  if (!Number.isInteger(count) || count < 2 || digests.length !== count * 32) return undefined;
  const list: ChunkList = { chunks: [], sizes: [] };
  const view = new DataView(sizes.buffer, sizes.byteOffset, sizes.length);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const chunkSize = view.getUint32(i * 4, true);
    if (chunkSize === 0 || chunkSize > CHUNK_MAX_BYTES) return undefined;
    total += chunkSize;
    list.sizes.push(chunkSize);
    list.chunks.push(toHex(digests.subarray(i * 32, i * 32 + 32)));
  }
  if (total !== size) return undefined;
  const contentHash = toHex(hash);
  if (toHex(await sha256(digests)) !== contentHash) return undefined;
  return { path, hash: contentHash as ContentHash, size, mtimeMs, list };
}
