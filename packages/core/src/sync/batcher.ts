import { MAX_BATCH_ITEMS } from "../protocol/constants.js";

/**
 * Splits items into batches that stay under a byte budget (an estimate per item) and
 * `MAX_BATCH_ITEMS`, so that every batch fits in one frame.
 */
export function batchBySize<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= MAX_BATCH_ITEMS)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** A generous size estimate of one index item or delivery on the wire. */
export function itemBytes(item: { path: string; data?: { data: Uint8Array } }): number {
  return 256 + item.path.length * 3 + (item.data?.data.length ?? 0);
}
