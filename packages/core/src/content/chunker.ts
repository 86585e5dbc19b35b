import { CHUNK_AVG_BYTES, CHUNK_MAX_BYTES, CHUNK_MIN_BYTES } from "../protocol/constants.js";

// A fixed gear table (protocol v1): every implementation must cut at the same places, so the
// table comes from a seeded generator rather than from Math.random.
const GEAR = (() => {
  const table = new Int32Array(256);
  let state = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    table[i] = (t ^ (t >>> 14)) | 0;
  }
  return table;
})();

// Normalized chunking (FastCDC) of level 1: a mask one bit harder before the average size, one bit
// easier after, which narrows the spread of chunk sizes around the average. Masks test high bits
// because the shifted gear hash mixes the most recent 32 bytes into them.
//
// The level is a trade-off measured on random data (PROTOCOL.md §5): a cut point's test depends on
// where its chunk started, so after an edit the new chunking finds the old cut points again only
// where both tests agree. With level 2 (masks 4 bits apart) that took several chunks — a 256 KiB
// overwrite cost ~1.5 MB; with level 1 it takes about one chunk.
const AVG_BITS = Math.round(Math.log2(CHUNK_AVG_BYTES));
const MASK_HARD = highBits(AVG_BITS + 1);
const MASK_EASY = highBits(AVG_BITS - 1);

function highBits(count: number): number {
  return count >= 32 ? -1 : ~((1 << (32 - count)) - 1);
}

/**
 * Where the first chunk of `data[start..end)` ends, as an index into `data`. Returns `end` when no
 * cut point lies within the maximum chunk size and `end - start` is below it (more data may follow).
 */
export function findCutPoint(data: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length <= CHUNK_MIN_BYTES) return end;
  const limit = start + Math.min(length, CHUNK_MAX_BYTES);
  const normal = start + Math.min(length, CHUNK_AVG_BYTES);
  // Absolute positions, and the table and masks in locals (the bundler turns module constants into
  // `var`s, read from the module context at every byte): ~3× faster in V8 (measured).
  const gear = GEAR;
  const hard = MASK_HARD;
  const easy = MASK_EASY;
  let hash = 0;
  let p = start + CHUNK_MIN_BYTES;
  for (; p < normal; p++) {
    hash = ((hash << 1) + (gear[data[p] as number] as number)) | 0;
    if ((hash & hard) === 0) return p + 1;
  }
  for (; p < limit; p++) {
    hash = ((hash << 1) + (gear[data[p] as number] as number)) | 0;
    if ((hash & easy) === 0) return p + 1;
  }
  return limit;
}

/**
 * Where `Chunker` cuts `data` (the bytes after the last cut so far): the end of each chunk, in
 * order. Without `final` it cuts only where a full maximum-size window lies ahead (more bytes may
 * follow, and they could move a cut); with it, up to the end. Shared by `Chunker` and the worker
 * threads of `createCompressionPool`, so both cut at the same places.
 */
export function cutPoints(data: Uint8Array, final: boolean): number[] {
  const cuts: number[] = [];
  let start = 0;
  while (final ? start < data.length : data.length - start > CHUNK_MAX_BYTES) {
    start = findCutPoint(data, start, data.length);
    cuts.push(start);
  }
  return cuts;
}

/**
 * Splits a byte stream into content-defined chunks. Push blocks of any size; each call returns the
 * chunks completed so far; `finish` returns the rest. Memory stays below two maximum chunks plus
 * the pushed block.
 */
export class Chunker {
  #pending: Uint8Array = new Uint8Array(0);

  push(block: Uint8Array): Uint8Array[] {
    const { chunks, rest } = splitChunks(joinRest(this.#pending, block), false);
    this.#pending = rest;
    return chunks;
  }

  finish(): Uint8Array[] {
    const { chunks } = splitChunks(this.#pending, true);
    this.#pending = new Uint8Array(0);
    return chunks;
  }
}

/** `data` cut where `cutPoints` says: each chunk and the bytes after the last cut, all copies. */
export function splitChunks(data: Uint8Array, final: boolean): { chunks: Uint8Array[]; rest: Uint8Array } {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cutPoints(data, final)) {
    chunks.push(data.slice(start, cut));
    start = cut;
  }
  return { chunks, rest: data.slice(start) };
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
