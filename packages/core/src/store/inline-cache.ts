import type { InlineContent } from "../protocol/messages.js";
import type { ContentHash } from "../types.js";

/**
 * The content of small files, kept by the hub so it can ride inside deliveries (no `fetch` round
 * trip per file). Bounded: the oldest entries go first once `maxBytes` is reached; a miss only
 * means the client fetches the content.
 */
export class InlineCache {
  readonly #entries = new Map<ContentHash, InlineContent>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = 64 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  get(hash: ContentHash): InlineContent | undefined {
    return this.#entries.get(hash);
  }

  set(hash: ContentHash, content: InlineContent): void {
    if (this.#entries.has(hash) || content.data.length > this.#maxBytes) return;
    this.#entries.set(hash, content);
    this.#bytes += content.data.length;
    for (const [key, value] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(key);
      this.#bytes -= value.data.length;
    }
  }
}
