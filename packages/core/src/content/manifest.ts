import { ContentError, ProtocolError } from "../errors.js";
import { MANIFEST_PAGE_CHUNKS } from "../protocol/constants.js";
import type { ChunkRanges, ManifestMessage } from "../protocol/messages.js";
import type { ContentHash } from "../types.js";
import { sha256, toHex } from "./hash.js";

/** A file's chunks in order: lower-case hex SHA-256 digests and raw sizes (same length). */
export interface ChunkList {
  chunks: string[];
  sizes: number[];
}

/** The bytes of a hex string (a SHA-256 digest): by character codes, not a `parseInt` per byte. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
  }
  return out;
}

/** The value of one hex digit's character code: '0'-'9', 'a'-'f' or 'A'-'F'. */
function nibble(code: number): number {
  return code <= 57 ? code - 48 : (code | 32) - 87;
}

/** The content hash of a chunk list (PROTOCOL.md §5): SHA-256 over the concatenated digests. */
export async function contentHashOf(chunks: readonly string[]): Promise<ContentHash> {
  const all = new Uint8Array(chunks.length * 32);
  chunks.forEach((hex, i) => {
    all.set(fromHex(hex), i * 32);
  });
  return toHex(await sha256(all)) as ContentHash;
}

/** Sorted indexes as half-open ranges. */
export function toRanges(indexes: Iterable<number>): ChunkRanges {
  const ranges: ChunkRanges = [];
  for (const index of indexes) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === index) last[1] = index + 1;
    else ranges.push([index, index + 1]);
  }
  return ranges;
}

/**
 * Splits a chunk list into `manifest` pages. With a `base` (another chunk list the receiver holds,
 * named by its content hash), runs of chunks equal to the base's travel as copies `[at, from,
 * length]`: a small edit of a large file costs a few bytes of manifest, not 36 bytes per chunk.
 */
export function manifestPages(
  hash: ContentHash,
  list: ChunkList,
  base?: { hash: ContentHash; list: ChunkList },
): ManifestMessage[] {
  const total = list.chunks.length;
  const size = list.sizes.reduce((a, b) => a + b, 0);
  const where = new Map<string, number>();
  if (base) {
    base.list.chunks.forEach((c, i) => {
      if (!where.has(c)) where.set(c, i);
    });
  }
  const pages: ManifestMessage[] = [];
  let page: ManifestMessage | undefined;
  let digests: Uint8Array[] = [];
  const close = () => {
    if (!page) return;
    page.digests = joinDigests(digests);
    pages.push(page);
    page = undefined;
    digests = [];
  };
  for (let i = 0; i < total; i++) {
    if (page && (page.sizes.length >= MANIFEST_PAGE_CHUNKS || page.copies.length >= MANIFEST_PAGE_CHUNKS)) {
      close();
    }
    if (!page) {
      page = {
        type: "manifest",
        hash,
        size,
        chunks: total,
        first: i,
        count: 0,
        copies: [],
        digests: new Uint8Array(0),
        sizes: [],
      };
      if (base) page.base = base.hash;
    }
    const chunk = list.chunks[i] as string;
    const from = where.get(chunk);
    page.count++;
    if (from === undefined) {
      digests.push(fromHex(chunk));
      page.sizes.push(list.sizes[i] as number);
      continue;
    }
    const last = page.copies[page.copies.length - 1];
    // Extend the last run when this chunk follows it in both lists.
    if (last && last[0] + last[2] === i && base?.list.chunks[last[1] + last[2]] === chunk) last[2]++;
    else page.copies.push([i, from, 1]);
  }
  close();
  if (base && pages.every((p) => p.copies.length === 0)) for (const p of pages) delete p.base;
  return pages;
}

function joinDigests(digests: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => {
    out.set(d, i * 32);
  });
  return out;
}

/**
 * Rebuilds a chunk list from `manifest` pages received in order. `base` resolves copies (the
 * chunk list of the content the page names as its base). `finish` checks the content hash and size.
 * Structural faults (a page out of order, a copy outside the base) are protocol errors; a list that
 * does not hash to its content hash or whose sizes do not add up is `content-mismatch`.
 */
export class ManifestAssembler {
  readonly hash: ContentHash;
  readonly size: number;
  readonly count: number;
  readonly list: ChunkList = { chunks: [], sizes: [] };
  readonly #base: { hash: ContentHash; list: ChunkList } | undefined;

  constructor(first: ManifestMessage, base: { hash: ContentHash; list: ChunkList } | undefined) {
    this.hash = first.hash;
    this.size = first.size;
    this.count = first.chunks;
    this.#base = base;
  }

  get complete(): boolean {
    return this.list.chunks.length === this.count;
  }

  /** Adds one page; returns the positions of its literal (not copied) chunks. */
  add(page: ManifestMessage): number[] {
    if (page.hash !== this.hash || page.size !== this.size || page.chunks !== this.count) {
      throw new ProtocolError(`manifest page of ${page.hash} disagrees with its first page`);
    }
    if (page.first !== this.list.chunks.length) {
      throw new ProtocolError(`manifest page of ${page.hash} out of order (starts at ${page.first})`);
    }
    const base = page.copies.length > 0 ? this.#base : undefined;
    if (page.copies.length > 0 && (!base || page.base !== base.hash)) {
      throw new ProtocolError(
        `manifest page of ${page.hash} copies from content ${page.base} it may not use`,
      );
    }
    const literals: number[] = [];
    let literal = 0;
    let run = 0;
    for (let i = page.first; i < page.first + page.count; i++) {
      const copy = page.copies[run];
      if (copy && i >= copy[0]) {
        const from = copy[1] + (i - copy[0]);
        const chunk = base?.list.chunks[from];
        if (chunk === undefined) throw new ProtocolError(`manifest of ${page.hash} copies beyond its base`);
        this.list.chunks.push(chunk);
        this.list.sizes.push(base?.list.sizes[from] as number);
        if (i === copy[0] + copy[2] - 1) run++;
        continue;
      }
      this.list.chunks.push(toHex(page.digests.subarray(literal * 32, literal * 32 + 32)));
      this.list.sizes.push(page.sizes[literal] as number);
      literals.push(i);
      literal++;
    }
    return literals;
  }

  /** Checks the whole list against the content hash and size; throws `content-mismatch` if not. */
  async finish(): Promise<ChunkList> {
    if (!this.complete) throw new ProtocolError(`manifest of ${this.hash} is incomplete`);
    let total = 0;
    for (const s of this.list.sizes) total += s;
    if (total !== this.size) {
      throw new ContentError(
        "content-mismatch",
        `manifest of ${this.hash}: chunk sizes add up to ${total}, not ${this.size}`,
      );
    }
    if ((await contentHashOf(this.list.chunks)) !== this.hash) {
      throw new ContentError("content-mismatch", `manifest of ${this.hash} does not hash to it`);
    }
    return this.list;
  }
}
