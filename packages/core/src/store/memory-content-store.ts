import type { ContentHash } from "../types.js";
import type { ContentStore, Manifest, StoredChunk } from "./content-store.js";

/** Keeps all content in memory: the default when the hub has no state directory. */
export class MemoryContentStore implements ContentStore {
  readonly #chunks = new Map<string, StoredChunk>();
  readonly #manifests = new Map<string, Manifest>();

  async hasContent(hash: ContentHash): Promise<boolean> {
    return this.#manifests.has(hash);
  }
  async getManifest(hash: ContentHash): Promise<Manifest | undefined> {
    return this.#manifests.get(hash);
  }
  async getChunk(chunkHash: string): Promise<StoredChunk | undefined> {
    return this.#chunks.get(chunkHash);
  }
  async hasChunk(chunkHash: string): Promise<boolean> {
    return this.#chunks.has(chunkHash);
  }
  async putChunk(chunkHash: string, chunk: StoredChunk): Promise<void> {
    if (!this.#chunks.has(chunkHash)) this.#chunks.set(chunkHash, chunk);
  }
  async chunkSize(chunkHash: string): Promise<number | undefined> {
    return this.#chunks.get(chunkHash)?.size;
  }
  async putManifest(hash: ContentHash, manifest: Manifest): Promise<void> {
    this.#manifests.set(hash, manifest);
  }

  /** Bytes held, as stored (after compression). */
  get storedBytes(): number {
    let total = 0;
    for (const chunk of this.#chunks.values()) total += chunk.data.length;
    return total;
  }
}
