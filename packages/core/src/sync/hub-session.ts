import { decodeChunk } from "../content/compression.js";
import { ContentHasher, sha256, toHex } from "../content/hash.js";
import {
  AuthError,
  ContentError,
  DistSyncError,
  FrameTooLargeError,
  ProtocolError,
  ProtocolVersionError,
} from "../errors.js";
import { linkTargetProblem } from "../link-target.js";
import type { Logger } from "../logger.js";
import { decodeMessage, encodeMessage } from "../protocol/codec.js";
import {
  CHUNK_MAX_BYTES,
  FRAME_OVERHEAD_BYTES,
  INLINE_MAX_BYTES,
  PROTOCOL_VERSIONS,
} from "../protocol/constants.js";
import type {
  Accepted,
  ContentMessage,
  Delivery,
  ErrorMessage,
  HelloMessage,
  HubMessage,
  ManifestMessage,
  Message,
  Proposal,
} from "../protocol/messages.js";
import type { ContentStore, Manifest, StoredChunk } from "../store/content-store.js";
import type { InlineCache } from "../store/inline-cache.js";
import type { Connection } from "../transport.js";
import type { ClientId, ContentHash, IndexEntry } from "../types.js";
import { Backlog } from "./backlog.js";
import { batchBySize, itemBytes } from "./batcher.js";
import { beats } from "./decide.js";
import { HubDeltaUpload, manifestFor } from "./hub-delta.js";
import type { HubSpace, SpaceOutcome } from "./hub-space.js";
import { toDelivery } from "./hub-space.js";
import { SerialQueue } from "./serial-queue.js";

/** What a session needs from its hub. */
export interface SessionHost {
  readonly store: ContentStore;
  readonly logger: Logger;
  readonly heartbeatMs: number;
  readonly timeoutMs: number;
  readonly epoch: string;
  readonly maxFileBytes: number;
  /** Bytes a client's send queue may hold before the hub drops it. */
  readonly maxQueueBytes: number;
  /** Small files' content, to send inside deliveries. */
  readonly inline: InlineCache;
  /** How far ahead of the hub's clock an mtime may be before it is clamped to the hub's clock. */
  readonly maxFutureMs: number;
  /** Resolves once every committed version is durable (undefined when nothing is persisted). */
  durable(): Promise<void> | undefined;
  /** Checks the token (constant time); resolves true when it may join. */
  authorize(token: string | undefined): Promise<boolean>;
  /** Registers the session in its space; `undefined` when its client id is taken (another key). */
  join(session: HubSession, hello: HelloMessage): HubSpace | undefined;
  /** Sends committed versions to every other live session of the space. */
  fanout(space: HubSpace, committed: IndexEntry[], origin: HubSession, loser?: ClientId): void;
  report(space: HubSpace, outcome: SpaceOutcome, proposal: Proposal, origin: HubSession): void;
  /** A client reported progress: the others may now count their changes as delivered. */
  appliedChanged(session: HubSession): void;
  leave(session: HubSession, reason: string): void;
}

type State = "hello" | "joining" | "live" | "closed";

interface Upload {
  hasher: ContentHasher;
  nextIndex: number;
  chunks: string[];
  sizes: number[];
  /** The first chunk as it arrived, kept in case the file turns out to be small. */
  first?: { encoding: "raw" | "deflate"; data: Uint8Array };
  /** The base offered in `upload` for a delta manifest (the path's current content). */
  base?: ContentHash;
  /** Set when the client sends a manifest first (a delta upload, PROTOCOL.md rule 9). */
  delta?: HubDeltaUpload;
  /** The upload was refused (already answered): its remaining frames are dropped. */
  failed?: boolean;
  /** Chunk writes still running (see `#storeChunk`), and the first that failed. */
  stores: Set<Promise<void>>;
  storeError?: unknown;
}

/**
 * Chunk writes of one upload that may run while the next frames are handled. One at a time, the
 * store's file system round trips (open, write, close, rename per chunk) were most of an upload's
 * time: 2 ms per 64 KiB chunk, about 30 MiB/s, with every process mostly idle.
 */
const STORES_AHEAD = 8;

/** Proposals of one batch whose content is checked (and inline content stored) at once. */
const CONTENT_CHECKS_AT_ONCE = 16;

/** Uploads by manifest one client may have open at once (a client sends one at a time). */
const MAX_OPEN_MANIFESTS = 2;

/** The hub's side of one client connection. */
export class HubSession {
  readonly connection: Connection;
  readonly connectedAt = Date.now();
  clientId: ClientId | undefined;
  name: string | undefined;
  space: HubSpace | undefined;
  lastSeen = Date.now();
  /** The client process's secret from its hello (see HelloMessage.key). */
  key: string | undefined;
  /** The hub sequence number this client reports having applied everything up to. */
  applied = 0;
  /** The `delivered` value last sent to this client. */
  deliveredSent = -1;
  #state: State = "hello";
  #refused = false;
  readonly #host: SessionHost;
  readonly #incoming = new SerialQueue();
  readonly #outgoing = new SerialQueue();
  /** Frames received and not yet handled: past a limit the socket is paused (bounded memory). */
  readonly #backlog: Backlog;
  readonly #fetches = new SerialQueue();
  readonly #mentioned = new Set<string>();
  /** Proposals that won their first decision and wait for their content, by content hash. */
  readonly #awaiting = new Map<ContentHash, Proposal[]>();
  readonly #uploads = new Map<ContentHash, Upload>();
  /** Proposals whose mtime was clamped: their ack tells the proposer the recorded mtime. */
  readonly #clamped = new WeakSet<Proposal>();
  readonly #log: Logger;
  #queuedBytes = 0;

  constructor(connection: Connection, host: SessionHost) {
    this.connection = connection;
    this.#host = host;
    this.#log = host.logger;
    this.#backlog = new Backlog(connection);
    connection.on("message", (frame) => {
      this.lastSeen = Date.now();
      this.#backlog.add(frame.length);
      void this.#incoming
        .run(() => {
          // A client whose frames are still being handled is alive, even while reading is paused.
          this.lastSeen = Date.now();
          return this.#receive(frame);
        })
        .finally(() => this.#backlog.remove(frame.length));
    });
  }

  get state(): State {
    return this.#state;
  }

  get live(): boolean {
    return this.#state === "live" || this.#state === "joining";
  }

  /** Queues a message; frames leave in the order queued. */
  send(message: HubMessage): Promise<void> {
    if (this.#state === "closed") return Promise.resolve();
    const frame = encodeMessage(message);
    this.#queuedBytes += frame.length;
    if (this.#queuedBytes > this.#host.maxQueueBytes) {
      // A client that cannot keep up must not grow the hub's memory: it is dropped and resyncs
      // when it joins again.
      this.#log.warn("client cannot keep up; disconnecting it", {
        client: this.clientId,
        queued: this.#queuedBytes,
      });
      void this.close(`send queue above ${this.#host.maxQueueBytes} bytes: the client cannot keep up`, true);
      return Promise.resolve();
    }
    return this.#outgoing.run(async () => {
      try {
        if (this.#state === "closed" || this.connection.closed) return;
        // A frame may announce versions committed just now: they reach the disk before the wire.
        await this.#host.durable();
        if (this.connection.closed) return;
        await this.connection.send(frame);
      } catch (error) {
        if (FrameTooLargeError.isInstance(error))
          this.#log.error("frame too large to send", { type: message.type });
        else throw error;
      } finally {
        this.#queuedBytes -= frame.length;
      }
    });
  }

  /** Bytes queued for this client and not yet taken by the transport. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  deliver(items: Delivery[]): void {
    items = items.map((d) => this.#withInline(d));
    for (const batch of batchBySize(items, itemBytes, this.connection.maxFrameBytes - FRAME_OVERHEAD_BYTES)) {
      void this.send({ type: "entries", items: batch }).catch(() => {});
    }
  }

  #withInline(delivery: Delivery): Delivery {
    const { entry } = delivery;
    if (delivery.data || entry.kind !== "file" || entry.deleted || entry.size > INLINE_MAX_BYTES)
      return delivery;
    const data = this.#host.inline.get(entry.hash as ContentHash);
    return data ? { ...delivery, data } : delivery;
  }

  /** True until the peer's `hello` is handled: a connection that has not said who it is. */
  get awaitingHello(): boolean {
    return this.#state === "hello" && !this.#refused;
  }

  /** Turns the connection away (the hub is full): nothing it sends is read, it gets `error`. */
  refuse(error: DistSyncError): Promise<void> {
    this.#refused = true;
    return this.fail(error, true);
  }

  /** Sends an error frame; when fatal, closes the connection after it. */
  async fail(
    error: DistSyncError,
    fatal: boolean,
    extra: { path?: string; hash?: string } = {},
  ): Promise<void> {
    this.#log.warn("client error", {
      client: this.clientId,
      code: error.code,
      message: error.message,
      fatal,
    });
    // The frame must itself be valid (PROTOCOL.md: strings of at most 4096): a message naming a
    // path of 4096 bytes would otherwise make the client reject the error frame as malformed.
    const frame: ErrorMessage = { type: "error", code: error.code, message: clip(error.message), fatal };
    if (extra.path !== undefined) frame.path = clip(extra.path);
    if (extra.hash !== undefined) frame.hash = extra.hash;
    await this.send(frame).catch(() => {});
    if (fatal) await this.close(error.message);
  }

  /** Closes the connection; `force` drops it at once (a dead peer would only stall a handshake). */
  async close(reason: string, force = false): Promise<void> {
    if (this.#state === "closed") return;
    // Let queued frames (an error frame, say) leave before the connection goes.
    if (!force) await Promise.race([this.#outgoing.idle(), new Promise((r) => setTimeout(r, 1000))]);
    this.#state = "closed";
    this.#host.leave(this, reason);
    await this.connection.close(reason, { force });
  }

  /** Marks the session closed after the transport closed underneath it. */
  closedByTransport(reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#host.leave(this, reason);
  }

  async #receive(frame: Uint8Array): Promise<void> {
    if (this.#state === "closed" || this.#refused) return;
    let message: Message;
    try {
      message = decodeMessage(frame);
    } catch (error) {
      await this.fail(asDistSyncError(error), true);
      return;
    }
    try {
      await this.#handle(message);
    } catch (error) {
      await this.fail(asDistSyncError(error), !ContentError.isInstance(error));
    }
  }

  async #handle(message: Message): Promise<void> {
    if (this.#state === "hello") {
      if (message.type !== "hello") throw new ProtocolError(`expected 'hello', got '${message.type}'`);
      await this.#hello(message);
      return;
    }
    switch (message.type) {
      case "ping":
        await this.send({ type: "pong", time: message.time });
        if (message.applied !== undefined && message.applied > this.applied) {
          this.applied = message.applied;
          this.#host.appliedChanged(this);
        }
        return;
      case "pong":
        return;
      case "index":
        await this.#proposals(message.items, true);
        if (message.final) this.#finishJoin();
        return;
      case "propose":
        await this.#proposals(message.items, false);
        return;
      case "content":
        await this.#content(message);
        return;
      case "content-end":
        await this.#contentEnd(message.hash, message.chunks, message.size);
        return;
      case "manifest":
        await this.#manifest(message);
        return;
      case "fetch-manifest": {
        const { hash, base } = message;
        void this.#fetches
          .run(() => this.#serveManifest(hash, base))
          .catch((error) => this.#log.error("fetch failed", { error }));
        return;
      }
      case "content-abort":
        this.#uploads.delete(message.hash);
        this.#awaiting.delete(message.hash);
        return;
      case "fetch": {
        const { hash, ranges } = message;
        void this.#fetches
          .run(() => this.#serve(hash, ranges))
          .catch((error) => this.#log.error("fetch failed", { error }));
        return;
      }
      case "bye":
        await this.close("client left");
        return;
      case "error":
        this.#log.warn("client reported an error", { client: this.clientId, code: message.code });
        return;
      default:
        throw new ProtocolError(`a client may not send '${message.type}'`);
    }
  }

  async #hello(hello: HelloMessage): Promise<void> {
    const [min, max] = hello.versions;
    const version = Math.min(max, PROTOCOL_VERSIONS.max);
    if (version < Math.max(min, PROTOCOL_VERSIONS.min)) {
      await this.fail(
        new ProtocolVersionError([min, max], [PROTOCOL_VERSIONS.min, PROTOCOL_VERSIONS.max]),
        true,
      );
      return;
    }
    if (!(await this.#host.authorize(hello.token))) {
      await this.fail(new AuthError(), true);
      return;
    }
    this.clientId = hello.clientId;
    this.name = hello.name;
    this.key = hello.key;
    const space = this.#host.join(this, hello);
    if (!space) {
      this.clientId = undefined;
      await this.fail(
        new DistSyncError(
          "client-id-in-use",
          `client id ${hello.clientId.slice(0, 80)} is connected already`,
        ),
        true,
      );
      return;
    }
    this.space = space;
    this.#state = "joining";
    await this.send({
      type: "welcome",
      version,
      clientId: hello.clientId,
      epoch: this.#host.epoch,
      seq: space.seq,
      heartbeatMs: this.#host.heartbeatMs,
      timeoutMs: this.#host.timeoutMs,
    });
  }

  #finishJoin(): void {
    const space = this.#requireSpace();
    this.deliver(space.unmentioned(this.#mentioned));
    this.#mentioned.clear();
    this.#state = "live";
    void this.send({ type: "synced", seq: space.seq }).catch(() => {});
  }

  async #proposals(items: Proposal[], join: boolean): Promise<void> {
    const space = this.#requireSpace();
    const clientId = this.clientId as ClientId;
    // Content checks are asynchronous; they all happen before the synchronous decisions below.
    // Per item: content present, content still to upload, or refused (answered below, in order).
    const ready: (boolean | "refused")[] = new Array(items.length).fill("refused");
    const refusals: { index: number; error: DistSyncError }[] = [];
    const toCheck: number[] = [];
    const latest = Date.now() + this.#host.maxFutureMs;
    for (const [index, item] of items.entries()) {
      if (join) this.#mentioned.add(item.path);
      if (item.entry.mtimeMs > latest) {
        // A clock running ahead must not win every later clash: the version is recorded at the
        // hub's time, and the proposer told so in its ack.
        this.#log.warn("mtime from the future clamped to the hub's clock", {
          client: this.clientId,
          path: item.path,
          aheadMs: Math.round(item.entry.mtimeMs - Date.now()),
        });
        item.entry = { ...item.entry, mtimeMs: Date.now() };
        this.#clamped.add(item);
      }
      if (item.entry.size > this.#host.maxFileBytes) {
        const text = `${item.path} is ${item.entry.size} bytes, above the hub's limit`;
        refusals.push({ index, error: new ContentError("content-too-large", text) });
        continue;
      }
      const linkProblem =
        item.entry.kind === "symlink" && !item.entry.deleted
          ? linkTargetProblem(item.path, item.entry.target)
          : undefined;
      if (linkProblem !== undefined) {
        // A link that could lead out of the folder is refused on its own; the batch goes on.
        const text = `${item.path}: symbolic link not allowed (${linkProblem})`;
        refusals.push({ index, error: new DistSyncError("link-not-allowed", text) });
        continue;
      }
      toCheck.push(index);
    }
    // A few at once: one by one, storing each small file's inline content (two files in the
    // store) took turns with the next, and a batch of 10,000 files took seconds of round trips.
    let next = 0;
    const checker = async (): Promise<void> => {
      while (next < toCheck.length) {
        const index = toCheck[next++] as number;
        try {
          ready[index] = await this.#contentReady(items[index] as Proposal);
        } catch (error) {
          // Bad content, or content the hub cannot store, refuses its own proposal only; the rest
          // of the batch is decided as usual.
          const refused =
            ContentError.isInstance(error) ||
            (DistSyncError.isInstance(error) && error.code === "file-system");
          if (!refused) throw error;
          refusals.push({ index, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONTENT_CHECKS_AT_ONCE, toCheck.length) }, checker));
    refusals.sort((a, b) => a.index - b.index);
    for (const { index, error } of refusals) {
      await this.fail(error, false, { path: (items[index] as Proposal).path });
    }
    const acks: Accepted[] = [];
    const replies: Delivery[] = [];
    const uploads: Proposal[] = [];
    items.forEach((item, i) => {
      if (ready[i] === "refused") return;
      if (!ready[i]) {
        // Decide now only to avoid uploading a sure loser; the final decision waits for content.
        const current = space.index.get(item.path);
        if (current && wouldLose(space, item, clientId)) {
          replies.push(toDelivery(current, "lost"));
          return;
        }
        uploads.push(item);
        return;
      }
      this.#decide(space, item, acks, replies);
    });
    if (acks.length > 0) void this.send({ type: "ack", items: acks }).catch(() => {});
    if (replies.length > 0) this.deliver(replies);
    for (const item of uploads) {
      const hash = item.entry.hash as ContentHash;
      const waiting = this.#awaiting.get(hash);
      if (waiting) {
        waiting.push(item);
        continue;
      }
      this.#awaiting.set(hash, [item]);
      // The path's current content may serve as the base of a delta manifest (rule 9).
      const current = space.index.get(item.path);
      const base =
        current && current.kind === "file" && !current.deleted && current.hash !== hash
          ? (current.hash as ContentHash)
          : undefined;
      this.#uploads.set(hash, {
        hasher: new ContentHasher(),
        nextIndex: 0,
        chunks: [],
        sizes: [],
        base,
        stores: new Set(),
      });
      void this.send({ type: "upload", hash, path: item.path, ...(base ? { base } : {}) }).catch(() => {});
    }
  }

  /** Decides a proposal whose content the hub holds; queues the answer for the proposer. */
  #decide(space: HubSpace, item: Proposal, acks: Accepted[], replies: Delivery[]): void {
    const outcome = space.apply(item, this.clientId as ClientId);
    this.#host.report(space, outcome, item, this);
    switch (outcome.verdict) {
      case "accept": {
        const last = outcome.committed[outcome.committed.length - 1] as IndexEntry;
        acks.push({
          path: last.path,
          seq: last.seq,
          hash: last.hash,
          ...(this.#clamped.has(item) ? { mtimeMs: last.mtimeMs } : {}),
        });
        // Revived ancestors are news for the proposer too; its own entry is acknowledged.
        const ancestors = outcome.committed.slice(0, -1).map((e) => toDelivery(e, "current"));
        replies.push(...ancestors);
        this.#host.fanout(space, outcome.committed, this, outcome.conflict?.loser.origin);
        return;
      }
      case "same":
        if (outcome.current) replies.push(toDelivery(outcome.current, "current"));
        return;
      case "lose":
        if (outcome.current) replies.push(toDelivery(outcome.current, "lost"));
        return;
      case "conflict-path":
        void this.fail(
          new DistSyncError(
            "path-conflict",
            `${item.path}: a parent of this path is a file or a symbolic link at the hub`,
          ),
          false,
          {
            path: item.path,
          },
        );
    }
  }

  /** Whether the hub holds the content of a proposal, storing inline content on the way. */
  async #contentReady(item: Proposal): Promise<boolean> {
    const { entry } = item;
    if (entry.kind !== "file" || entry.deleted) return true;
    const hash = entry.hash as ContentHash;
    if (await this.#host.store.hasContent(hash)) {
      // The size is part of the version every other client receives: it must be the content's.
      const held = await this.#host.store.getManifest(hash);
      if (held && held.size !== entry.size) throw sizeMismatch(item, held.size);
      return true;
    }
    if (!item.data) return false;
    if (entry.size > CHUNK_MAX_BYTES) throw new ProtocolError(`${item.path}: inline content above one chunk`);
    const raw = decodeChunk(item.data.encoding, item.data.data, entry.size);
    const hasher = new ContentHasher();
    const chunkHashes: string[] = [];
    if (raw.length > 0) {
      const digest = await sha256(raw);
      hasher.add(digest, raw.length);
      chunkHashes.push(toHex(digest));
    }
    if ((await hasher.digest()) !== hash) {
      throw new ContentError("content-mismatch", `${item.path}: inline content does not match its hash`);
    }
    try {
      if (chunkHashes[0] !== undefined) {
        await this.#host.store.putChunk(chunkHashes[0], { size: raw.length, ...item.data });
      }
      await this.#host.store.putManifest(hash, {
        size: raw.length,
        chunks: chunkHashes,
        sizes: chunkHashes.length > 0 ? [raw.length] : [],
      });
    } catch (error) {
      // A full disk at the hub refuses this proposal only (the client offers it again later).
      throw this.#storageFailed(item.path, hash, error);
    }
    this.#host.inline.set(hash, item.data);
    return true;
  }

  async #content(message: ContentMessage): Promise<void> {
    const upload = this.#uploads.get(message.hash);
    if (!upload) throw new ProtocolError(`content for ${message.hash} that the hub did not ask for`);
    if (upload.failed) return;
    if (message.size > CHUNK_MAX_BYTES || message.size === 0) {
      throw new ProtocolError(`content chunk of ${message.size} bytes is outside 1..${CHUNK_MAX_BYTES}`);
    }
    if (upload.delta) {
      await this.#deltaContent(message, upload, upload.delta);
      return;
    }
    if (message.index !== upload.nextIndex)
      throw new ProtocolError(`content chunk ${message.index} out of order`);
    upload.nextIndex++;
    const raw = decodeChunk(message.encoding, message.data, message.size);
    const digest = await sha256(raw);
    const chunkHash = toHex(digest);
    upload.hasher.add(digest, raw.length);
    upload.chunks.push(chunkHash);
    upload.sizes.push(raw.length);
    if (message.index === 0 && raw.length <= INLINE_MAX_BYTES) {
      upload.first = { encoding: message.encoding, data: message.data };
    }
    if (upload.hasher.size > this.#host.maxFileBytes) {
      this.#uploads.delete(message.hash);
      this.#awaiting.delete(message.hash);
      throw new ContentError(
        "content-too-large",
        `upload of ${message.hash} exceeds the hub's file size limit`,
      );
    }
    await this.#storeChunk(upload, chunkHash, {
      size: raw.length,
      encoding: message.encoding,
      data: message.data,
    });
  }

  /**
   * Stores a verified chunk without waiting for the write, at most `STORES_AHEAD` at once (beyond,
   * it waits, which holds up the frames behind it and so, through the backlog, the sender). The
   * upload's `content-end` waits for them all before anything is committed.
   */
  async #storeChunk(upload: Upload, chunkHash: string, chunk: StoredChunk): Promise<void> {
    while (upload.stores.size >= STORES_AHEAD) await Promise.race(upload.stores);
    const store: Promise<void> = this.#host.store
      .putChunk(chunkHash, chunk)
      .catch((error: unknown) => {
        upload.storeError ??= error;
      })
      .finally(() => upload.stores.delete(store));
    upload.stores.add(store);
  }

  /**
   * Waits for an upload's chunk writes. When one failed (a full disk at the hub), the upload is
   * refused and false returned (see `#storageFailed`): nothing of it is committed.
   */
  async #storesDone(hash: ContentHash, upload: Upload): Promise<boolean> {
    await Promise.all(upload.stores);
    if (upload.storeError === undefined) return true;
    await this.#refuseUpload(hash, upload, this.#storageFailed(hash, hash, upload.storeError));
    return false;
  }

  /**
   * The non-fatal `file-system` error for content of `what` the store could not take, logged: the
   * client stays connected and offers the change again later.
   */
  #storageFailed(what: string, hash: ContentHash, error: unknown): DistSyncError {
    const cause = error instanceof Error ? error.message : String(error);
    this.#log.error("cannot store content", { client: this.clientId, hash, error: cause });
    return new DistSyncError("file-system", `the hub cannot store ${what}: ${cause}`);
  }

  async #contentEnd(hash: ContentHash, chunks: number, size: number): Promise<void> {
    const upload = this.#uploads.get(hash);
    if (!upload) throw new ProtocolError(`content-end for ${hash} that the hub did not ask for`);
    this.#uploads.delete(hash);
    if (upload.failed) return;
    if (!(await this.#storesDone(hash, upload))) return;
    let manifest: Manifest;
    if (upload.delta) {
      const checked = await upload.delta.end(this.#host.store, chunks, size);
      if (typeof checked === "string") {
        await this.#refuseUpload(
          hash,
          upload,
          new ContentError("content-mismatch", `upload of ${hash}: ${checked}`),
        );
        return;
      }
      // Verified chunk by chunk against a manifest that hashes to `hash`: the content is whole.
      manifest = checked;
    } else {
      const actual = await upload.hasher.digest();
      if (actual !== hash || upload.hasher.chunkCount !== chunks || upload.hasher.size !== size) {
        this.#awaiting.delete(hash);
        throw new ContentError("content-mismatch", `uploaded content does not match ${hash}`);
      }
      manifest = { size, chunks: upload.chunks, sizes: upload.sizes };
    }
    try {
      await this.#host.store.putManifest(hash, manifest);
    } catch (error) {
      await this.#refuseUpload(hash, upload, this.#storageFailed(hash, hash, error));
      return;
    }
    const waiting = this.#awaiting.get(hash) ?? [];
    this.#awaiting.delete(hash);
    if (upload.first && upload.chunks.length === 1) this.#host.inline.set(hash, upload.first);
    const space = this.#requireSpace();
    const acks: Accepted[] = [];
    const replies: Delivery[] = [];
    for (const item of waiting) {
      if (item.entry.size !== size) {
        await this.fail(sizeMismatch(item, size), false, { path: item.path });
        continue;
      }
      this.#decide(space, item, acks, replies);
    }
    if (acks.length > 0) void this.send({ type: "ack", items: acks }).catch(() => {});
    if (replies.length > 0) this.deliver(replies);
  }

  /** Refuses an upload: its proposals are dropped (the client hears of it), nothing is stored. */
  async #refuseUpload(hash: ContentHash, upload: Upload, error: DistSyncError): Promise<void> {
    upload.failed = true;
    const waiting = this.#awaiting.get(hash) ?? [];
    this.#awaiting.delete(hash);
    const first = waiting[0];
    await this.fail(error, false, first ? { hash, path: first.path } : { hash });
    for (const item of waiting.slice(1)) await this.fail(error, false, { path: item.path });
  }

  /** One page of an upload's manifest: answers with the page's chunks the store lacks. */
  async #manifest(message: ManifestMessage): Promise<void> {
    const { hash } = message;
    const upload = this.#uploads.get(hash);
    if (!upload) throw new ProtocolError(`manifest for ${hash} that the hub did not ask for`);
    if (upload.failed) return;
    if (upload.nextIndex > 0) throw new ProtocolError(`manifest for ${hash} after its content`);
    if (!upload.delta) {
      // An honest client uploads one file at a time; each open manifest holds memory at the hub.
      const open = [...this.#uploads.values()].filter((u) => u.delta !== undefined && !u.failed).length;
      if (open >= MAX_OPEN_MANIFESTS) {
        throw new ProtocolError(`more than ${MAX_OPEN_MANIFESTS} uploads by manifest at once`);
      }
      upload.delta = await HubDeltaUpload.start(this.#host.store, message, upload.base);
      if (message.size > this.#host.maxFileBytes) {
        await this.#refuseUpload(
          hash,
          upload,
          new ContentError("content-too-large", `upload of ${hash} exceeds the hub's file size limit`),
        );
        return;
      }
    }
    let ranges: [number, number][];
    try {
      ranges = await upload.delta.page(this.#host.store, message);
    } catch (error) {
      if (!ContentError.isInstance(error)) throw error;
      await this.#refuseUpload(hash, upload, error);
      return;
    }
    await this.send({ type: "need", hash, ranges });
  }

  /** A chunk of a delta upload: one the hub asked for, in order, matching its manifest entry. */
  async #deltaContent(message: ContentMessage, upload: Upload, delta: HubDeltaUpload): Promise<void> {
    let checked: { chunkHash: string; size: number };
    try {
      checked = await delta.chunk(message);
    } catch (error) {
      if (!ContentError.isInstance(error)) throw error;
      await this.#refuseUpload(message.hash, upload, error);
      return;
    }
    await this.#storeChunk(upload, checked.chunkHash, {
      size: checked.size,
      encoding: message.encoding,
      data: message.data,
    });
  }

  /** Tells the client the hub holds no content `hash` (non-fatal: its download is retried). */
  #contentMissing(hash: ContentHash): Promise<void> {
    return this.send({
      type: "error",
      code: "content-missing",
      message: `the hub holds no content ${hash}`,
      fatal: false,
      hash,
    });
  }

  /** Sends the manifest of stored content (relative to `base` when the store holds it too). */
  async #serveManifest(hash: ContentHash, base: ContentHash | undefined): Promise<void> {
    const pages = await manifestFor(this.#host.store, hash, base);
    if (!pages) {
      await this.#contentMissing(hash);
      return;
    }
    for (const page of pages) {
      if (this.#state === "closed") return;
      await this.send(page);
    }
  }

  /**
   * Streams stored content to the client, chunk by chunk, with backpressure; with `ranges`, only
   * the chunks at those manifest indexes (PROTOCOL.md rule 9).
   */
  async #serve(hash: ContentHash, ranges?: [number, number][]): Promise<void> {
    const manifest = await this.#host.store.getManifest(hash);
    if (!manifest) {
      await this.#contentMissing(hash);
      return;
    }
    const last = ranges?.[ranges.length - 1];
    if (last && last[1] > manifest.chunks.length) {
      const text = `fetch of ${hash}: chunk ${last[1] - 1} beyond its ${manifest.chunks.length} chunks`;
      await this.fail(new ProtocolError(text), true);
      return;
    }
    const indexes = ranges
      ? ranges.flatMap(([from, to]) => Array.from({ length: to - from }, (_, i) => from + i))
      : manifest.chunks.map((_, i) => i);
    for (const index of indexes) {
      if (this.#state === "closed") return;
      const chunkHash = manifest.chunks[index] as string;
      const chunk = await this.#host.store.getChunk(chunkHash);
      if (!chunk) {
        await this.send({ type: "content-abort", hash, reason: "chunk missing at the hub" });
        return;
      }
      await this.send({
        type: "content",
        hash,
        index,
        size: chunk.size,
        encoding: chunk.encoding,
        data: chunk.data,
      });
    }
    await this.send({ type: "content-end", hash, chunks: manifest.chunks.length, size: manifest.size });
  }

  #requireSpace(): HubSpace {
    if (!this.space) throw new ProtocolError("no space joined");
    return this.space;
  }
}

function wouldLose(space: HubSpace, item: Proposal, proposer: ClientId): boolean {
  const current = space.index.get(item.path);
  if (!current || current.seq === item.base) return false;
  return !beats(item.entry, proposer, current, current.origin);
}

function sizeMismatch(item: Proposal, actual: number): ContentError {
  return new ContentError(
    "content-mismatch",
    `${item.path}: declared size ${item.entry.size} bytes, but its content is ${actual} bytes`,
  );
}

/** Longest string the hub puts in an error frame, in UTF-16 units (the validator allows 4096). */
const MAX_ERROR_TEXT = 1024;

function clip(text: string): string {
  return text.length <= MAX_ERROR_TEXT ? text : `${text.slice(0, MAX_ERROR_TEXT - 1)}…`;
}

function asDistSyncError(error: unknown): DistSyncError {
  if (DistSyncError.isInstance(error)) return error;
  return new DistSyncError("internal", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
