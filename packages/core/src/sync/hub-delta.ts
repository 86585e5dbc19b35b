import { decodeChunk } from "../content/compression.js";
import { sha256, toHex } from "../content/hash.js";
import { type ChunkList, ManifestAssembler, manifestPages } from "../content/manifest.js";
import { ContentError, ProtocolError } from "../errors.js";
import type { ChunkRanges, ContentMessage, ManifestMessage } from "../protocol/messages.js";
import type { ContentStore, Manifest } from "../store/content-store.js";
import type { ContentHash } from "../types.js";

/**
 * A stored manifest with its chunk sizes (read from the chunks' headers for manifests stored
 * before sizes were kept); `undefined` when the content or one of its chunks is missing.
 */
export async function chunkListOf(store: ContentStore, hash: ContentHash): Promise<ChunkList | undefined> {
  const manifest = await store.getManifest(hash);
  if (!manifest) return undefined;
  return withSizes(store, manifest);
}

async function withSizes(store: ContentStore, manifest: Manifest): Promise<ChunkList | undefined> {
  if (manifest.sizes && manifest.sizes.length === manifest.chunks.length) {
    return { chunks: manifest.chunks, sizes: manifest.sizes };
  }
  const sizes: number[] = [];
  for (const chunk of manifest.chunks) {
    const size = await chunkSize(store, chunk);
    if (size === undefined) return undefined;
    sizes.push(size);
  }
  return { chunks: manifest.chunks, sizes };
}

async function chunkSize(store: ContentStore, chunkHash: string): Promise<number | undefined> {
  if (store.chunkSize) return store.chunkSize(chunkHash);
  return (await store.getChunk(chunkHash))?.size;
}

/** The manifest pages of `hash` for a client, relative to `base` when the store holds that too. */
export async function manifestFor(
  store: ContentStore,
  hash: ContentHash,
  base: ContentHash | undefined,
): Promise<ManifestMessage[] | undefined> {
  const list = await chunkListOf(store, hash);
  if (!list) return undefined;
  const baseList = base !== undefined && base !== hash ? await chunkListOf(store, base) : undefined;
  return manifestPages(
    hash,
    list,
    base !== undefined && baseList ? { hash: base, list: baseList } : undefined,
  );
}

/**
 * The hub's side of one delta upload (PROTOCOL.md rule 9): the client's manifest pages, the chunks
 * of each page the store lacks (each asked for once), then exactly those chunks, each checked
 * against its manifest entry. The manifest itself is checked against the content hash and size
 * before any chunk is accepted.
 */
export class HubDeltaUpload {
  readonly #assembler: ManifestAssembler;
  /** Indexes of the chunks asked for, ascending; `#next` is the position of the next one due. */
  readonly #need: number[] = [];
  #next = 0;
  readonly #asked = new Set<string>();
  #complete = false;

  private constructor(assembler: ManifestAssembler) {
    this.#assembler = assembler;
  }

  /**
   * Starts from the first page. `offered` is the base the hub named in its `upload` (only that one
   * may be used for copies).
   */
  static async start(
    store: ContentStore,
    first: ManifestMessage,
    offered: ContentHash | undefined,
  ): Promise<HubDeltaUpload> {
    if (first.first !== 0) throw new ProtocolError(`manifest of ${first.hash} does not start at chunk 0`);
    let base: { hash: ContentHash; list: ChunkList } | undefined;
    if (first.base !== undefined) {
      if (first.base !== offered) {
        throw new ProtocolError(`manifest of ${first.hash} names a base the hub did not offer`);
      }
      const list = await chunkListOf(store, first.base);
      if (!list) throw new ProtocolError(`manifest of ${first.hash} names a base the hub does not hold`);
      base = { hash: first.base, list };
    }
    return new HubDeltaUpload(new ManifestAssembler(first, base));
  }

  get size(): number {
    return this.#assembler.size;
  }

  /**
   * Adds a page; answers the page's chunks the store lacks. Throws `content-mismatch` when a chunk
   * the store holds has another size than declared, or (last page) the manifest does not hash to
   * its content hash or its sizes do not add up.
   */
  async page(store: ContentStore, message: ManifestMessage): Promise<ChunkRanges> {
    if (this.#complete) throw new ProtocolError(`manifest page of ${message.hash} after its last page`);
    const literals = this.#assembler.add(message);
    const { list } = this.#assembler;
    const ranges: ChunkRanges = [];
    for (const index of literals) {
      const chunk = list.chunks[index] as string;
      if (this.#asked.has(chunk)) continue;
      const held = await chunkSize(store, chunk);
      if (held !== undefined) {
        if (held !== list.sizes[index]) {
          throw new ContentError(
            "content-mismatch",
            `manifest of ${message.hash}: chunk ${index} is ${held} bytes, declared ${list.sizes[index]}`,
          );
        }
        continue;
      }
      this.#asked.add(chunk);
      this.#need.push(index);
      const last = ranges[ranges.length - 1];
      if (last && last[1] === index) last[1] = index + 1;
      else ranges.push([index, index + 1]);
    }
    if (this.#assembler.complete) {
      await this.#assembler.finish();
      this.#complete = true;
    }
    return ranges;
  }

  /**
   * Checks one chunk of the upload: the next one asked for, matching its manifest entry. Returns
   * its hash and raw size for the store. A chunk not matching is `content-mismatch`.
   */
  async chunk(message: ContentMessage): Promise<{ chunkHash: string; size: number }> {
    const index = this.#need[this.#next];
    if (!this.#complete || index === undefined || message.index !== index) {
      throw new ProtocolError(
        `content chunk ${message.index} of ${message.hash} not asked for or out of order`,
      );
    }
    this.#next++;
    const { list } = this.#assembler;
    const raw = decodeChunk(message.encoding, message.data, message.size);
    const chunkHash = toHex(await sha256(raw));
    if (chunkHash !== list.chunks[index] || raw.length !== list.sizes[index]) {
      throw new ContentError(
        "content-mismatch",
        `chunk ${index} of ${message.hash} does not match its manifest`,
      );
    }
    return { chunkHash, size: raw.length };
  }

  /** Raw bytes of the chunks asked for (what the upload moves; the rest was deduplicated). */
  get askedBytes(): number {
    let total = 0;
    for (const index of this.#need) total += this.#assembler.list.sizes[index] as number;
    return total;
  }

  /**
   * At `content-end`: the manifest to store, or why the upload is not whole (every chunk asked for
   * must have arrived, and `chunks`/`size` must match the manifest).
   */
  async end(store: ContentStore, chunks: number, size: number): Promise<Manifest | string> {
    if (!this.#complete || this.#next !== this.#need.length) return "chunks it asked for are missing";
    const { list } = this.#assembler;
    if (chunks !== list.chunks.length || size !== this.#assembler.size) {
      return "content-end disagrees with its manifest";
    }
    for (const chunk of this.#asked) {
      if (!(await store.hasChunk(chunk))) return `chunk ${chunk} is not stored`;
    }
    return { size, chunks: list.chunks, sizes: list.sizes };
  }
}
