import { decodeChunk } from "../content/compression.js";
import { ContentHasher, sha256 } from "../content/hash.js";
import { ContentError, type DistSyncError, ProtocolError } from "../errors.js";
import type { FileWriter } from "../file-system.js";
import { CHUNK_MAX_BYTES } from "../protocol/constants.js";
import type { ContentEndMessage, ContentMessage } from "../protocol/messages.js";
import type { ContentHash } from "../types.js";

interface Target {
  writer: FileWriter;
  /** The size the hub announced for this content: no more bytes than that are written. */
  size: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Transfer {
  targets: Target[];
  hasher: ContentHasher;
  next: number;
  started: boolean;
  /** Writes of the previous chunk, so chunks land in order without buffering many. */
  writing: Promise<void>;
}

/**
 * Fetches content from the hub into file writers. One fetch per hash at a time; several files
 * waiting for the same content share it. Each chunk is checked (bounded inflation, SHA-256) as it
 * arrives, the whole content against its hash at the end: writers only ever receive verified
 * chunks, and the caller commits only after `fetchInto` resolves.
 */
export class Downloads {
  readonly #requestFetch: (hash: ContentHash) => void;
  readonly #transfers = new Map<ContentHash, Transfer>();
  readonly #queued = new Map<ContentHash, Target[]>();

  constructor(requestFetch: (hash: ContentHash) => void) {
    this.#requestFetch = requestFetch;
  }

  get active(): number {
    return this.#transfers.size + this.#queued.size;
  }

  /** Bytes received so far of the transfers still running (for progress reports). */
  get receivedInFlight(): number {
    let bytes = 0;
    for (const transfer of this.#transfers.values()) bytes += transfer.hasher.size;
    return bytes;
  }

  fetchInto(hash: ContentHash, writer: FileWriter, size: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const target = { writer, size, resolve, reject };
      const transfer = this.#transfers.get(hash);
      if (transfer && !transfer.started) {
        transfer.targets.push(target);
        return;
      }
      if (transfer) {
        const queue = this.#queued.get(hash) ?? [];
        queue.push(target);
        this.#queued.set(hash, queue);
        return;
      }
      this.#begin(hash, [target]);
    });
  }

  async onContent(message: ContentMessage): Promise<void> {
    const transfer = this.#transfers.get(message.hash);
    if (!transfer) return;
    transfer.started = true;
    try {
      if (message.index !== transfer.next)
        throw new ProtocolError(`content chunk ${message.index} out of order`);
      if (message.size === 0 || message.size > CHUNK_MAX_BYTES) {
        throw new ProtocolError(`content chunk of ${message.size} bytes is outside 1..${CHUNK_MAX_BYTES}`);
      }
      transfer.next++;
      // A hub that sends more than it announced must not fill the disk before the final check.
      const limit = Math.min(...transfer.targets.map((t) => t.size));
      if (transfer.hasher.size + message.size > limit) {
        throw new ContentError(
          "content-mismatch",
          `content ${message.hash} is larger than the ${limit} bytes announced`,
        );
      }
      const raw = decodeChunk(message.encoding, message.data, message.size);
      transfer.hasher.add(await sha256(raw), raw.length);
      await transfer.writing;
      transfer.writing = Promise.all(transfer.targets.map((t) => t.writer.write(raw))).then(() => undefined);
      await transfer.writing;
    } catch (error) {
      this.#finish(message.hash, error);
    }
  }

  async onEnd(message: ContentEndMessage): Promise<void> {
    const transfer = this.#transfers.get(message.hash);
    if (!transfer) return;
    try {
      await transfer.writing;
      const actual = await transfer.hasher.digest();
      if (actual !== message.hash || transfer.hasher.size !== message.size) {
        throw new ContentError("content-mismatch", `received content does not match ${message.hash}`);
      }
      this.#finish(message.hash);
    } catch (error) {
      this.#finish(message.hash, error);
    }
  }

  onAbort(hash: ContentHash, reason: string): void {
    this.#finish(hash, new ContentError("content-mismatch", `the hub aborted content ${hash}: ${reason}`));
  }

  /** Fails every transfer (the connection is gone). */
  failAll(error: DistSyncError): void {
    for (const hash of [...this.#transfers.keys()]) this.#finish(hash, error, false);
    for (const [hash, targets] of this.#queued) {
      this.#queued.delete(hash);
      for (const t of targets) t.reject(error);
    }
  }

  #begin(hash: ContentHash, targets: Target[]): void {
    this.#transfers.set(hash, {
      targets,
      hasher: new ContentHasher(),
      next: 0,
      started: false,
      writing: Promise.resolve(),
    });
    this.#requestFetch(hash);
  }

  #finish(hash: ContentHash, error?: unknown, continueQueue = true): void {
    const transfer = this.#transfers.get(hash);
    if (!transfer) return;
    this.#transfers.delete(hash);
    for (const t of transfer.targets) {
      if (error === undefined) t.resolve();
      else t.reject(error);
    }
    const queued = this.#queued.get(hash);
    if (queued && continueQueue) {
      this.#queued.delete(hash);
      this.#begin(hash, queued);
    }
  }
}
