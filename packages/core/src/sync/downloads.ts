import { decodeChunk } from "../content/compression.js";
import { concatBytes } from "../content/concat-bytes.js";
import { ContentHasher, sha256, toHex } from "../content/hash.js";
import { type ChunkList, ManifestAssembler, toRanges } from "../content/manifest.js";
import { ContentError, type DistSyncError, ProtocolError } from "../errors.js";
import type { FileSystem, FileWriter } from "../file-system.js";
import { CHUNK_MAX_BYTES, DELTA_MIN_BYTES, MANIFEST_PAGE_CHUNKS } from "../protocol/constants.js";
import type {
  ClientMessage,
  ContentEndMessage,
  ContentMessage,
  ManifestMessage,
} from "../protocol/messages.js";
import type { ContentHash, RelPath } from "../types.js";
import { type LocalChunk, type LocalChunks, RangeReader } from "./local-chunks.js";

interface Target {
  writer: FileWriter;
  /** The size the hub announced for this content: no more bytes than that are written. */
  size: number;
  resolve: (list: ChunkList) => void;
  reject: (error: unknown) => void;
}

/** A delta download: the manifest, where each chunk comes from, and the hub's chunks in order. */
interface Delta {
  base: ContentHash | undefined;
  assembler?: ManifestAssembler;
  list?: ChunkList;
  /** Indexes fetched from the hub, ascending; `nextRemote` is the position of the next one due. */
  remote: number[];
  nextRemote: number;
  /** Verified chunks from the hub waiting to be written, in order. */
  queue: { index: number; raw: Uint8Array; digest: Uint8Array }[];
  queuedBytes: number;
  /** Wakes the writer loop (a chunk arrived) or the receiver (the queue drained). */
  wake?: () => void;
  drained?: () => void;
  /** Set once the hub's stream of chunks ended (`content-end`), or when none was asked for. */
  ended: boolean;
}

interface Transfer {
  targets: Target[];
  hasher: ContentHasher;
  list: ChunkList;
  next: number;
  started: boolean;
  /** Writes of the previous chunk, so chunks land in order without buffering many. */
  writing: Promise<void>;
  delta?: Delta;
}

/** Bytes a delta download writes at once, and reads at once from a local file. */
const BATCH_BYTES = 4 * 1024 * 1024;

/** Bytes of the hub's chunks a delta download may hold while it copies local chunks before them. */
const QUEUE_MAX_BYTES = 8 * 1024 * 1024;

/** What downloads may reuse: the client's file system and its index of local chunks. */
export interface LocalSource {
  fs: FileSystem;
  chunks: LocalChunks;
}

/**
 * Fetches content from the hub into file writers. One fetch per hash at a time; several files
 * waiting for the same content share it. Each chunk is checked (bounded inflation, SHA-256) as it
 * arrives, the whole content against its hash at the end: writers only ever receive verified
 * chunks, and the caller commits only after `fetchInto` resolves.
 *
 * Content above `DELTA_MIN_BYTES` is fetched by manifest first (PROTOCOL.md rule 9): chunks found
 * in local files (checked against their digests as they are read) are copied from there, and only
 * the others are fetched.
 */
export class Downloads {
  readonly #send: (message: ClientMessage) => void;
  readonly #local: LocalSource | undefined;
  readonly #transfers = new Map<ContentHash, Transfer>();
  readonly #queued = new Map<ContentHash, { targets: Target[]; base?: ContentHash }>();
  /** Streams of abandoned delta downloads still arriving: their frames are dropped until the end. */
  readonly #draining = new Map<ContentHash, number>();

  constructor(send: (message: ClientMessage) => void, local?: LocalSource) {
    this.#send = send;
    this.#local = local;
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

  /**
   * Writes content `hash` into `writer`; resolves with its chunk list once it is whole and checked.
   * `base` names content the client holds locally (the old version of the same path), so the hub
   * can describe the new content relative to it.
   */
  fetchInto(hash: ContentHash, writer: FileWriter, size: number, base?: ContentHash): Promise<ChunkList> {
    return new Promise<ChunkList>((resolve, reject) => {
      const target = { writer, size, resolve, reject };
      const transfer = this.#transfers.get(hash);
      if (transfer && !transfer.started) {
        transfer.targets.push(target);
        return;
      }
      if (transfer || this.#draining.has(hash)) {
        const queue = this.#queued.get(hash) ?? { targets: [], base };
        queue.targets.push(target);
        this.#queued.set(hash, queue);
        return;
      }
      this.#begin(hash, [target], size, base);
    });
  }

  /** A page of a manifest the client asked for. */
  async onManifest(message: ManifestMessage): Promise<void> {
    const transfer = this.#transfers.get(message.hash);
    const delta = transfer?.delta;
    if (!transfer || !delta || delta.list) return;
    try {
      if (!delta.assembler) {
        const baseList =
          message.base !== undefined && message.base === delta.base
            ? this.#local?.chunks.list(message.base)
            : undefined;
        delta.assembler = new ManifestAssembler(
          message,
          baseList && message.base !== undefined ? { hash: message.base, list: baseList } : undefined,
        );
        const limit = Math.min(...transfer.targets.map((t) => t.size));
        if (message.size !== limit) {
          throw new ContentError(
            "content-mismatch",
            `content ${message.hash} is ${message.size} bytes, ${limit} announced`,
          );
        }
      }
      delta.assembler.add(message);
      if (!delta.assembler.complete) return;
      const list = await delta.assembler.finish();
      await this.#plan(message.hash, transfer, delta, list);
    } catch (error) {
      this.#finish(message.hash, error);
    }
  }

  async onContent(message: ContentMessage): Promise<void> {
    if (this.#draining.has(message.hash)) return;
    const transfer = this.#transfers.get(message.hash);
    if (!transfer) return;
    if (transfer.delta) {
      await this.#deltaContent(message, transfer, transfer.delta);
      return;
    }
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
      const digest = await sha256(raw);
      transfer.hasher.add(digest, raw.length);
      transfer.list.chunks.push(toHex(digest));
      transfer.list.sizes.push(raw.length);
      await transfer.writing;
      transfer.writing = Promise.all(transfer.targets.map((t) => t.writer.write(raw))).then(() => undefined);
      await transfer.writing;
    } catch (error) {
      this.#finish(message.hash, error);
    }
  }

  async onEnd(message: ContentEndMessage): Promise<void> {
    const draining = this.#draining.get(message.hash);
    if (draining !== undefined) {
      if (draining <= 1) this.#draining.delete(message.hash);
      else this.#draining.set(message.hash, draining - 1);
      if (draining <= 1) this.#startQueued(message.hash);
      return;
    }
    const transfer = this.#transfers.get(message.hash);
    if (!transfer) return;
    if (transfer.delta) {
      const delta = transfer.delta;
      if (
        !delta.list ||
        delta.nextRemote !== delta.remote.length ||
        message.chunks !== delta.list.chunks.length
      ) {
        this.#finish(
          message.hash,
          new ContentError("content-mismatch", `the hub's chunks of ${message.hash} are incomplete`),
        );
        return;
      }
      delta.ended = true;
      delta.wake?.();
      return;
    }
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
    this.#draining.clear();
    for (const hash of [...this.#transfers.keys()]) this.#finish(hash, error, false);
    for (const [hash, { targets }] of this.#queued) {
      this.#queued.delete(hash);
      for (const t of targets) t.reject(error);
    }
  }

  #begin(hash: ContentHash, targets: Target[], size: number, base?: ContentHash): void {
    const transfer: Transfer = {
      targets,
      hasher: new ContentHasher(),
      list: { chunks: [], sizes: [] },
      next: 0,
      started: false,
      writing: Promise.resolve(),
    };
    this.#transfers.set(hash, transfer);
    if (this.#local && size > DELTA_MIN_BYTES) {
      const known = base !== undefined && base !== hash && this.#local.chunks.list(base) ? base : undefined;
      transfer.delta = { base: known, remote: [], nextRemote: 0, queue: [], queuedBytes: 0, ended: false };
      this.#send({ type: "fetch-manifest", hash, ...(known ? { base: known } : {}) });
      return;
    }
    this.#send({ type: "fetch", hash });
  }

  /** The manifest is whole and checked: decides where each chunk comes from and starts writing. */
  async #plan(hash: ContentHash, transfer: Transfer, delta: Delta, list: ChunkList): Promise<void> {
    delta.list = list;
    transfer.started = true;
    // Only files whose size and mtime are still those recorded are read.
    const sources = new Set<string>();
    for (const chunk of list.chunks) {
      const found = this.#local?.chunks.find(chunk);
      if (found) sources.add(found.path);
    }
    for (const path of sources) await this.#local?.chunks.current(this.#local.fs, path as RelPath);
    if (this.#transfers.get(hash) !== transfer) return;
    const local: (LocalChunk | undefined)[] = list.chunks.map((c) => this.#local?.chunks.find(c));
    list.chunks.forEach((_, i) => {
      if (!local[i]) delta.remote.push(i);
    });
    const ranges = toRanges(delta.remote);
    if (ranges.length > MANIFEST_PAGE_CHUNKS) {
      // Too scattered to name in one fetch: the whole content comes from the hub.
      delta.remote = list.chunks.map((_, i) => i);
      local.fill(undefined);
      this.#send({ type: "fetch", hash, ranges: [[0, list.chunks.length]] });
    } else if (ranges.length > 0) {
      this.#send({ type: "fetch", hash, ranges });
    } else {
      delta.ended = true;
    }
    void this.#assemble(hash, transfer, delta, list, local);
  }

  async #deltaContent(message: ContentMessage, transfer: Transfer, delta: Delta): Promise<void> {
    try {
      const index = delta.remote[delta.nextRemote];
      if (!delta.list || index === undefined || message.index !== index) {
        throw new ProtocolError(
          `content chunk ${message.index} of ${message.hash} not asked for or out of order`,
        );
      }
      delta.nextRemote++;
      const expected = delta.list.sizes[index] as number;
      if (message.size !== expected) {
        throw new ContentError(
          "content-mismatch",
          `chunk ${index} of ${message.hash} is not the manifest's size`,
        );
      }
      const raw = decodeChunk(message.encoding, message.data, message.size);
      const digest = await sha256(raw);
      if (toHex(digest) !== delta.list.chunks[index]) {
        throw new ContentError(
          "content-mismatch",
          `chunk ${index} of ${message.hash} does not match its manifest`,
        );
      }
      delta.queue.push({ index, raw, digest });
      delta.queuedBytes += raw.length;
      delta.wake?.();
      // Backpressure: the writer may be copying local chunks that come before these.
      while (delta.queuedBytes > QUEUE_MAX_BYTES && this.#transfers.get(message.hash) === transfer) {
        await new Promise<void>((resolve) => {
          delta.drained = resolve;
        });
      }
    } catch (error) {
      this.#abandon(message.hash, transfer);
      this.#finish(message.hash, error);
    }
  }

  /** Writes every chunk in order: local ones read (and checked) from local files, the others from the hub. */
  async #assemble(
    hash: ContentHash,
    transfer: Transfer,
    delta: Delta,
    list: ChunkList,
    local: (LocalChunk | undefined)[],
  ): Promise<void> {
    const reader = this.#local ? new RangeReader(this.#local.fs) : undefined;
    // Written in batches of a few MiB: fewer writes (and fewer watcher events) than one per chunk.
    let batch: Uint8Array[] = [];
    let batched = 0;
    const flush = async () => {
      if (batched === 0) return;
      const data = batch.length === 1 ? (batch[0] as Uint8Array) : concatBytes(batch);
      batch = [];
      batched = 0;
      await Promise.all(transfer.targets.map((t) => t.writer.write(data)));
    };
    try {
      for (let i = 0; i < list.chunks.length; ) {
        if (this.#transfers.get(hash) !== transfer) return;
        const source = local[i];
        if (source && reader) {
          // A run of chunks that lie back to back in one local file: one read, hashed in parallel.
          let end = i + 1;
          let length = source.size;
          for (; end < list.chunks.length && length < BATCH_BYTES; end++) {
            const next = local[end];
            if (next?.path !== source.path || next.offset !== source.offset + length) break;
            length += next.size;
          }
          const data = await reader.read(source.path, source.offset, length);
          const digests = data
            ? await Promise.all(
                list.sizes.slice(i, end).map((_, k) => {
                  const from = (local[i + k] as LocalChunk).offset - source.offset;
                  return sha256(data.subarray(from, from + (local[i + k] as LocalChunk).size));
                }),
              )
            : [];
          for (let k = 0; k < end - i; k++) {
            const digest = digests[k];
            if (!data || !digest || toHex(digest) !== list.chunks[i + k]) {
              // The local file changed since it was indexed: it is not used again, and the
              // download starts over (the writer may not be rewound).
              this.#local?.chunks.forget(source.path);
              throw new ContentError(
                "content-mismatch",
                `a local copy of a chunk of ${hash} changed while it was read`,
              );
            }
            transfer.hasher.add(digest, (local[i + k] as LocalChunk).size);
          }
          batch.push(data as Uint8Array);
          batched += length;
          i = end;
        } else {
          let item = delta.queue[0];
          while (!item) {
            if (this.#transfers.get(hash) !== transfer) return;
            await new Promise<void>((resolve) => {
              delta.wake = resolve;
            });
            item = delta.queue[0];
          }
          delta.queue.shift();
          delta.queuedBytes -= item.raw.length;
          if (delta.queuedBytes <= QUEUE_MAX_BYTES / 2) delta.drained?.();
          if (item.index !== i)
            throw new ProtocolError(`chunk ${item.index} of ${hash} arrived out of order`);
          transfer.hasher.add(item.digest, item.raw.length);
          batch.push(item.raw);
          batched += item.raw.length;
          i++;
        }
        if (batched >= BATCH_BYTES) await flush();
      }
      await flush();
      while (!delta.ended) {
        if (this.#transfers.get(hash) !== transfer) return;
        await new Promise<void>((resolve) => {
          delta.wake = resolve;
        });
      }
      const actual = await transfer.hasher.digest();
      if (actual !== hash || transfer.hasher.size !== list.sizes.reduce((a, b) => a + b, 0)) {
        throw new ContentError("content-mismatch", `assembled content does not match ${hash}`);
      }
      transfer.list = list;
      this.#finish(hash);
    } catch (error) {
      if (this.#transfers.get(hash) !== transfer) return;
      this.#abandon(hash, transfer);
      this.#finish(hash, error);
    } finally {
      await reader?.close();
    }
  }

  /** A delta download given up while the hub may still be streaming its chunks: drop the rest. */
  #abandon(hash: ContentHash, transfer: Transfer): void {
    const delta = transfer.delta;
    if (!delta || delta.ended || delta.remote.length === 0 || !delta.list) return;
    delta.ended = true;
    this.#draining.set(hash, (this.#draining.get(hash) ?? 0) + 1);
  }

  #finish(hash: ContentHash, error?: unknown, continueQueue = true): void {
    const transfer = this.#transfers.get(hash);
    if (!transfer) return;
    this.#transfers.delete(hash);
    if (transfer.delta) {
      transfer.delta.wake?.();
      transfer.delta.drained?.();
    }
    for (const t of transfer.targets) {
      if (error === undefined) t.resolve(transfer.list);
      else t.reject(error);
    }
    if (continueQueue && !this.#draining.has(hash)) this.#startQueued(hash);
  }

  #startQueued(hash: ContentHash): void {
    const queued = this.#queued.get(hash);
    if (!queued || this.#transfers.has(hash)) return;
    this.#queued.delete(hash);
    const size = Math.min(...queued.targets.map((t) => t.size));
    this.#begin(hash, queued.targets, size, queued.base);
  }
}
