import type { ChunkBlocks } from "../content/chunk-blocks.js";
import {
  type ChunkEncoder,
  type CompressionPolicy,
  decodeChunk,
  encodeChunk,
} from "../content/compression.js";
import { concatBytes } from "../content/concat-bytes.js";
import type { ChunkList } from "../content/manifest.js";
import { hashBytes, type ReadContentOptions, type ReadResult, readContent } from "../content/read-content.js";
import { Emitter, type Unsubscribe } from "../emitter.js";
import {
  AuthError,
  ConnectionError,
  ContentError,
  DistSyncError,
  FileSystemError,
  PathNotAllowedError,
  ProtocolError,
  ProtocolVersionError,
  TimeoutError,
} from "../errors.js";
import type { FileStat, FileSystem, WatchEvent, Watcher } from "../file-system.js";
import { linkTargetProblem } from "../link-target.js";
import { type Logger, noopLogger } from "../logger.js";
import { isInternalPath, isUnder, isValidPath, parentPath, pathDepth } from "../paths.js";
import { decodeMessage, encodeMessage } from "../protocol/codec.js";
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_SPACE,
  DEFAULT_TIMEOUT_MS,
  DELTA_MIN_BYTES,
  FRAME_OVERHEAD_BYTES,
  INLINE_MAX_BYTES,
  MIN_FRAME_BYTES,
  PROTOCOL_VERSIONS,
} from "../protocol/constants.js";
import type {
  Accepted,
  ClientMessage,
  Delivery,
  Message,
  Proposal,
  UploadMessage,
} from "../protocol/messages.js";
import type { ClientTransport, CloseInfo, Connection } from "../transport.js";
import type { ClientId, ContentHash, EntryMeta, RelPath } from "../types.js";
import { Backlog } from "./backlog.js";
import { batchBySize, itemBytes } from "./batcher.js";
import { conflictName } from "./conflict-name.js";
import { sameContent, sameVersion } from "./decide.js";
import { DeltaUploads, UploadStopped } from "./delta-upload.js";
import { Downloads } from "./downloads.js";
import { randomId } from "./hub.js";
import { IGNORE_FILE, IgnoreRules } from "./ignore-rules.js";
import { Limiter } from "./limiter.js";
import { LocalChunks } from "./local-chunks.js";
import { NameGuard, type NameVerdict } from "./name-guard.js";
import { decodeSavedChunks, encodeSavedChunks, type SavedChunks } from "./saved-chunks.js";
import { decodeSavedIndex, encodeSavedIndex, type SavedRecord } from "./saved-index.js";
import { KeyedQueue, SerialQueue } from "./serial-queue.js";

/** Why a client stopped. */
export type CloseReason =
  | "stopped"
  | "hub-unreachable"
  | "hub-lost"
  | "directory-removed"
  | "auth-refused"
  | "protocol-error"
  | "error";

export interface ClientClosed {
  reason: CloseReason;
  error?: DistSyncError;
}

export interface ReconnectOptions {
  /** First delay after a loss. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 5000 ms. */
  maxDelayMs?: number;
}

export interface ClientOptions {
  transport: ClientTransport;
  fs: FileSystem;
  /** The sync space to join. Default `"default"`. */
  space?: string;
  /** The hub's token, when it requires one. */
  token?: string;
  /** A readable name for logs, status and conflict file names. Default: the client id. */
  name?: string;
  /** A stable id; default a random one per client instance. */
  clientId?: string;
  /** `"lww"` overwrites a losing version (default); `"keep"` saves it beside the winner first. */
  conflicts?: "lww" | "keep";
  /** Survive hub loss by reconnecting with backoff. Default false (stop with `hub-lost`). */
  reconnect?: boolean | ReconnectOptions;
  logger?: Logger;
  /**
   * Quiet time a path needs before its change is read and sent. Default 5 ms; a file above 64 KiB,
   * or an empty one, modified less than 50 ms ago waits until it has been quiet for 50 ms.
   */
  settleMs?: number;
  /** Quiet time before deletions are sent (after checking the root still exists). Default 20 ms. */
  deleteSettleMs?: number;
  /** When to compress content. Default `"auto"` (skip incompressible data). */
  compression?: CompressionPolicy;
  /**
   * Compresses uploaded chunks. Default: fflate on this thread. `createCompressionPool()` from
   * `@distsync/core/node` runs it in worker threads, which keeps the event loop free during large
   * uploads of compressible data (inline content of small files is always compressed here).
   */
  encodeChunk?: ChunkEncoder;
  /**
   * Cuts files above `DELTA_MIN_BYTES` into chunks and hashes them (when they are read to see
   * whether they changed, and before a delta upload or download). Default: on this thread.
   * `createCompressionPool().chunkBlocks` from `@distsync/core/node` runs it in worker threads, so
   * hashing a large file leaves the event loop free for heartbeats and other changes.
   */
  chunkBlocks?: ChunkBlocks;
  /**
   * Keep the index of versions agreed with the hub in the file system's state (for the Node file
   * system: `<dir>/.distsync/`, never synced), so what changed while the client was stopped —
   * deletions included — is noticed at the next start instead of being undone; and, beside it, the
   * chunk lists of large files, so a download after a restart still copies chunks they hold.
   * Default true (ignored by file systems without `saveState`).
   */
  persistIndex?: boolean;
  /**
   * When most files vanish at once (a folder emptied or unmounted), the deletions are held, not
   * sent: the client reports a `mass-deletion` error and keeps watching; files that come back are
   * simply there again. `minFiles` and `fraction` say what counts as "most" (default 20 files and
   * more than half); `false` sends every deletion.
   */
  massDeletionGuard?: { minFiles?: number; fraction?: number } | false;
  /**
   * This client's own ignore patterns (gitignore syntax), on top of the defaults (`.git/`) and the
   * space's shared `.distsyncignore`. Ignored paths are neither sent nor applied nor deleted.
   */
  ignore?: readonly string[];
}

export type ChangeOp = "write" | "delete" | "mkdir";

export interface ChangeInfo {
  path: string;
  op: ChangeOp;
  seq: number;
  size: number;
  /** The client whose change this is (applied changes only). */
  origin?: string;
  /** Why the hub sent it (applied changes only). */
  cause?: Delivery["cause"];
}

export interface ClientConflict {
  path: string;
  winner: { origin: string; mtimeMs: number };
  loser: { origin: string; mtimeMs: number };
  /** Where the losing version was kept (`conflicts: "keep"`). */
  keptAs?: string;
}

export interface ClientEvents {
  ready: (info: { files: number; seq: number }) => void;
  "change-sent": (change: ChangeInfo) => void;
  "change-applied": (change: ChangeInfo) => void;
  conflict: (conflict: ClientConflict) => void;
  error: (error: DistSyncError) => void;
  connected: () => void;
  disconnected: (reason: string) => void;
  reconnecting: (info: { attempt: number; delayMs: number }) => void;
}

export interface ClientStatus {
  state: "idle" | "connecting" | "joining" | "live" | "reconnecting" | "closed";
  clientId: string;
  files: number;
  pending: number;
  /** The hub's sequence number of this client's latest accepted change (0: none yet). */
  acked: number;
  /**
   * The hub's word that every other connected client has applied everything up to this sequence
   * number. When `pending` is 0 and `delivered >= acked`, every local change reached every client.
   */
  delivered: number;
  /** Files and bytes moved since the client started (downloads and uploads), and the work queued. */
  transfer: TransferProgress;
}

export interface TransferProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface Client {
  readonly clientId: ClientId;
  /** Connects, joins, reconciles; resolves once the folder matches the hub. */
  start(): Promise<void>;
  /** Leaves the hub cleanly and stops watching. */
  stop(): Promise<void>;
  /** Resolves once the client has stopped, with the reason. */
  readonly closed: Promise<ClientClosed>;
  status(): ClientStatus;
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): Unsubscribe;
}

/** Creates a client that keeps `fs` in sync with every other client of its space. */
export function createClient(options: ClientOptions): Client {
  return new ClientEngine(options);
}

/** What the client knows of one path. */
/** A file's stat as last seen, and when it was seen (unknown for a stamp from the saved index). */
interface DiskStamp {
  size: number;
  mtimeMs: number;
  executable: boolean;
  seenAt?: number;
  ctimeMs?: number;
  /** The bytes are the ones this client just wrote, hash-checked, and renamed into place. */
  written?: boolean;
}

interface LocalRecord {
  /** The version agreed with the hub (what disk held when they last matched); none before that. */
  entry?: EntryMeta;
  /** The hub's sequence number of `entry`; 0 when not agreed. */
  seq: number;
  /** Disk stat when it last matched `entry`, for a cheap unchanged check. */
  disk?: DiskStamp;
  /** The proposal awaiting the hub's answer; one per path at a time. */
  inflight?: Proposal;
  inflightDisk?: DiskStamp;
  /** A local change arrived while a proposal was in flight: look again after the answer. */
  rescan?: boolean;
  /** A version not applied yet (the file was being written, or the write failed). */
  missed?: Delivery;
  /** Failed attempts at applying `missed`, for the retry backoff. */
  retries?: number;
}

interface DiskState {
  meta: EntryMeta;
  stat: FileStat;
  inline?: Uint8Array;
  stable: boolean;
  /** The file could not be read (permission denied…): `stable` is false, `meta` has no hash. */
  unreadable?: boolean;
}

type State = ClientStatus["state"];

/** Re-joins without `reconnect` after transports reported lost frames, before giving up. */
const MAX_RESYNCS = 100;

/** Longest a large file's deletion waits for large files being hashed (a rename's new name). */
const LARGE_DELETE_HOLD_MS = 30_000;

/** How long the saved index may lag behind the agreed versions (it is also saved at stop). */
const SAVE_INDEX_DELAY_MS = 1000;

/** Files read and hashed at once while building the join index. */
const INDEX_READ_WINDOW = 16;

/** The coarsest mtime granule of a file system we may run on (FAT: 2 s); see `provesContent`. */
const RACY_GRANULE_MS = 2000;

/** How long a large file must have gone unmodified before it is read (see `#settled`). */
const LARGE_FILE_QUIET_MS = 50;
/** How long after the hub failed to store a change (`file-system`) it is offered again. */
const HUB_STORAGE_RETRY_MS = 2000;

const TOMBSTONE_FILE: Omit<EntryMeta, "mtimeMs"> = {
  kind: "file",
  deleted: true,
  size: 0,
  hash: "",
  executable: false,
};

class ClientEngine implements Client {
  readonly clientId: ClientId;
  readonly closed: Promise<ClientClosed>;
  readonly #transport: ClientTransport;
  readonly #fs: FileSystem;
  readonly #space: string;
  readonly #token: string | undefined;
  readonly #name: string;
  readonly #keepConflicts: boolean;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  readonly #log: Logger;
  readonly #settleMs: number;
  readonly #deleteSettleMs: number;
  readonly #compression: CompressionPolicy;
  readonly #encodeChunk: ChunkEncoder;
  /** How `readContent` chunks large files (`chunkBlocks`). */
  readonly #readOptions: ReadContentOptions;
  readonly #events: Emitter<ClientEvents>;
  readonly #index = new Map<RelPath, LocalRecord>();
  #liveFileCount = 0;
  /** Records with a version not applied yet (`missed`): counted, not searched for, by status. */
  #missedCount = 0;
  readonly #paths = new KeyedQueue<RelPath>();
  readonly #incoming = new SerialQueue();
  /** Versions applied at once: a join that brings thousands must not open them all together. */
  readonly #applyLimit = new Limiter(16);
  readonly #uploads = new SerialQueue();
  readonly #settleTimers = new Map<RelPath, ReturnType<typeof setTimeout>>();
  readonly #deleteCandidates = new Set<RelPath>();
  readonly #deferred = new Set<RelPath>();
  readonly #downloads: Downloads;
  /** Chunks of this folder's large files, for delta transfers (see local-chunks.ts). */
  readonly #localChunks = new LocalChunks(() => this.#scheduleSave());
  /** `#localChunks.changes` when its records were last saved or loaded (-1: save them next time). */
  #chunksSaved = 0;
  readonly #deltaUploads = new DeltaUploads();
  /** Large files being hashed now, and since when deletions of large files wait for them. */
  #largeReads = 0;
  /** Versions of large files being applied (or queued), by path: downloads that may reuse chunks. */
  readonly #largeApplies = new Map<RelPath, number>();
  #largeDeletesHeldSince: number | undefined;
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #persistIndex: boolean;
  readonly #massGuard: { minFiles: number; fraction: number } | undefined;
  /** Deletions held back by the mass-deletion guard, until the files come back or a restart. */
  readonly #held = new Set<RelPath>();
  /** Files whose last read failed (permission denied…), with their failures: reported once, retried with backoff. */
  readonly #unreadable = new Map<RelPath, { failures: number; timer?: ReturnType<typeof setTimeout> }>();
  #heldTimer: ReturnType<typeof setInterval> | undefined;
  readonly #extraIgnores: readonly string[];
  #rules: IgnoreRules;
  /** Hub versions of ignored paths, applied if the rules change to let them in. */
  readonly #skipped = new Map<RelPath, Delivery>();
  /** Paths whose symbolic link was skipped (received or local), each reported once. */
  readonly #linkWarnings = new Set<RelPath>();
  /** Received names this file system cannot hold or tell apart from a held one (see name-guard). */
  readonly #names: NameGuard;
  /** The current batch of deletions already waited longer once (see #flushDeletes). */
  #deletesExtended = false;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #state: State = "idle";
  #connection: Connection | undefined;
  #watcher: Watcher | undefined;
  #epoch: string | undefined;
  #hubSeq = 0;
  #acked = 0;
  /** Proves to the hub that a new connection with our id is ours (see HelloMessage.key). */
  readonly #key = randomId() + randomId();
  /** Files and bytes finished (downloads and uploads) and queued, since start. */
  readonly #progress = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
  /** Bytes of uploads still running (downloads in flight are counted by #downloads). */
  #uploading = 0;
  #delivered = 0;
  #appliedSent = 0;
  #appliedTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatMs = DEFAULT_HEARTBEAT_MS;
  #timeoutMs = DEFAULT_TIMEOUT_MS;
  #lastHeard = 0;
  #lastTick = 0;
  #synced = false;
  #inflight = 0;
  #applying = 0;
  #outbox: Proposal[] = [];
  #outboxScheduled = false;
  #attempt = 0;
  /** Re-joins after a transport lost frames, in this client's life (bounded: see MAX_RESYNCS). */
  #resyncs = 0;
  #resolveClosed!: (closed: ClientClosed) => void;
  #ready: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void; settled: boolean };

  constructor(options: ClientOptions) {
    this.#transport = options.transport;
    this.#fs = options.fs;
    this.#space = options.space ?? DEFAULT_SPACE;
    this.#token = options.token;
    this.clientId = (options.clientId ?? randomId()) as ClientId;
    this.#name = options.name ?? this.clientId;
    this.#keepConflicts = options.conflicts === "keep";
    const r = options.reconnect;
    this.#reconnect = r
      ? { initialDelayMs: 100, maxDelayMs: 5_000, ...(typeof r === "object" ? r : {}) }
      : undefined;
    this.#log = (options.logger ?? noopLogger).child("distsync:client");
    this.#settleMs = options.settleMs ?? 5;
    this.#deleteSettleMs = options.deleteSettleMs ?? 20;
    this.#compression = options.compression ?? "auto";
    this.#encodeChunk = options.encodeChunk ?? encodeChunk;
    this.#readOptions = options.chunkBlocks ? { chunkBlocks: options.chunkBlocks } : {};
    this.#persistIndex = (options.persistIndex ?? true) && typeof options.fs.saveState === "function";
    this.#extraIgnores = [...(options.ignore ?? [])];
    this.#rules = new IgnoreRules("", this.#extraIgnores);
    const guard = options.massDeletionGuard;
    this.#massGuard =
      guard === false ? undefined : { minFiles: guard?.minFiles ?? 20, fraction: guard?.fraction ?? 0.5 };
    this.#events = new Emitter((error) => this.#log.error("client listener threw", { error }));
    this.#downloads = new Downloads((message) => this.#send(message), {
      fs: options.fs,
      chunks: this.#localChunks,
    });
    this.#names = new NameGuard(options.fs, (path, below) => this.#holdsName(path, below));
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    this.#ready = { promise, resolve, reject, settled: false };
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  /** @internal What the client knows of a path, for debugging tests. */
  _record(path: string): unknown {
    const rec = this.#index.get(path as RelPath);
    return rec && { ...rec, inflight: rec.inflight?.entry, missed: rec.missed?.seq };
  }

  /** @internal Why the client is not idle, for debugging tests. */
  _pendingDetail(): unknown {
    const inflight = [...this.#index].filter(([, r]) => r.inflight).map(([p, r]) => [p, r.inflight?.entry]);
    const missed = [...this.#index].filter(([, r]) => r.missed).map(([p, r]) => [p, r.missed?.seq]);
    return {
      inflight,
      missed,
      inflightCount: this.#inflight,
      applying: this.#applying,
      settling: [...this.#settleTimers.keys()],
      deletes: [...this.#deleteCandidates],
      downloads: this.#downloads.active,
      synced: this.#synced,
    };
  }

  status(): ClientStatus {
    return {
      state: this.#state,
      clientId: this.clientId,
      files: this.#liveFiles(),
      // A version waiting to be written again (after a failed write) is pending work too.
      pending:
        this.#inflight +
        this.#applying +
        this.#settleTimers.size +
        this.#deleteCandidates.size +
        this.#missedCount,
      acked: this.#acked,
      delivered: this.#delivered,
      transfer: {
        ...this.#progress,
        bytesDone: this.#progress.bytesDone + this.#downloads.receivedInFlight + this.#uploading,
      },
    };
  }

  async start(): Promise<void> {
    if (this.#state !== "idle") return this.#ready.promise;
    this.#state = "connecting";
    if (this.#transport.capabilities.maxFrameBytes < MIN_FRAME_BYTES) {
      await this.#finish(
        "error",
        new ConnectionError(
          `the transport carries frames of at most ${this.#transport.capabilities.maxFrameBytes} bytes; DistSync needs ${MIN_FRAME_BYTES}`,
        ),
      );
      return this.#ready.promise;
    }
    try {
      if (!(await this.#fs.rootExists())) {
        await this.#finish(
          "directory-removed",
          new FileSystemError("the synced directory is missing", { systemCode: "ENOENT" }),
        );
        return this.#ready.promise;
      }
      await this.#loadIndex();
      await this.#loadLocalChunks();
      await this.#loadIgnoreRules();
      this.#watcher = await this.#fs.watch((event) => this.#onWatch(event));
    } catch (error) {
      await this.#finish("error", asError(error));
      return this.#ready.promise;
    }
    await this.#connect();
    return this.#ready.promise;
  }

  async stop(): Promise<void> {
    if (this.#state === "closed") return;
    this.#trySend({ type: "bye" });
    await this.#finish("stopped");
  }

  // ---------------------------------------------------------------- connection lifecycle

  async #connect(): Promise<void> {
    if (this.#state === "closed") return;
    let connection: Connection;
    try {
      connection = await this.#transport.connect();
    } catch (error) {
      const e = ConnectionError.isInstance(error)
        ? error
        : new ConnectionError(String(error), { cause: error });
      if (this.#reconnect && !this.#closedNow()) {
        this.#scheduleReconnect(e.message);
        return;
      }
      await this.#finish("hub-unreachable", e);
      return;
    }
    if (this.#closedNow()) {
      await connection.close("client stopped");
      return;
    }
    this.#connection = connection;
    this.#state = "joining";
    this.#synced = false;
    this.#lastHeard = Date.now();
    const backlog = new Backlog(connection);
    connection.on("message", (frame) => {
      if (connection !== this.#connection) return;
      this.#lastHeard = Date.now();
      backlog.add(frame.length);
      void this.#incoming
        .run(() => {
          // Frames still being handled are news from the hub, even while reading is paused.
          if (connection === this.#connection) this.#lastHeard = Date.now();
          return this.#receive(frame);
        })
        .finally(() => backlog.remove(frame.length));
    });
    // Through the same queue as frames: an error frame that came just before the close (a refused
    // token, say) is handled first, so the client stops for the right reason.
    connection.on("close", (info) => {
      void this.#incoming.run(async () => {
        if (connection === this.#connection) await this.#lost(info.reason, info);
      });
    });
    this.#send({
      type: "hello",
      versions: [PROTOCOL_VERSIONS.min, PROTOCOL_VERSIONS.max],
      space: this.#space,
      clientId: this.clientId,
      name: this.#name,
      key: this.#key,
      ...(this.#token === undefined ? {} : { token: this.#token }),
    });
    // The hub may stay silent (wrong endpoint, hung process): the heartbeat check covers that too.
    this.#startHeartbeat();
  }

  #startHeartbeat(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => void this.#tick(), Math.min(this.#heartbeatMs, 1000));
  }

  async #tick(): Promise<void> {
    if (this.#state === "closed") return;
    // Silence counts only while this process could listen: when our own event loop was stalled
    // (a long synchronous stretch, a GC pause), frames waited in the socket unread — not the hub's
    // fault. The stall is forgiven, so only real silence reaches the timeout.
    const now = Date.now();
    const interval = Math.min(this.#heartbeatMs, 1000);
    if (this.#lastTick > 0 && now - this.#lastTick > interval * 3) {
      this.#lastHeard = Math.max(this.#lastHeard, now - interval);
    }
    this.#lastTick = now;
    if (this.#connection && Date.now() - this.#lastHeard > this.#timeoutMs) {
      const silent = Date.now() - this.#lastHeard;
      this.#log.warn("hub silent past the heartbeat timeout", { silentMs: silent });
      const connection = this.#connection;
      void this.#lost(`no heartbeat from the hub for ${silent} ms`, {
        reason: "heartbeat timeout",
        error: new TimeoutError(`no heartbeat from the hub for ${silent} ms`, this.#timeoutMs),
        local: true,
      });
      void connection.close("heartbeat timeout", { force: true }).catch(() => {});
      return;
    }
    if (this.#state === "live" || this.#state === "joining") {
      const applied = this.#idle() ? this.#hubSeq : undefined;
      this.#trySend({ type: "ping", time: Date.now(), ...(applied === undefined ? {} : { applied }) });
      if (applied !== undefined) this.#appliedSent = applied;
    }
    if (!(await this.#fs.rootExists().catch(() => false))) await this.#rootGone();
  }

  async #lost(reason: string, info: CloseInfo): Promise<void> {
    if (this.#state === "closed" || this.#state === "reconnecting") return;
    this.#connection = undefined;
    this.#synced = false;
    const error = info.error ?? new ConnectionError(`connection to the hub lost: ${reason}`);
    this.#resetInflight(error);
    this.#events.emit("disconnected", reason);
    if (this.#reconnect || (info.resync && this.#resyncs++ < MAX_RESYNCS)) {
      this.#scheduleReconnect(reason);
      return;
    }
    await this.#finish("hub-lost", new ConnectionError(`hub lost: ${reason}`, { cause: error }));
  }

  #scheduleReconnect(reason: string): void {
    const opts = this.#reconnect ?? { initialDelayMs: 20, maxDelayMs: 1000 };
    this.#state = "reconnecting";
    this.#attempt++;
    const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** (this.#attempt - 1));
    const delayMs = Math.round(base / 2 + (Math.random() * base) / 2);
    this.#log.info("reconnecting", { attempt: this.#attempt, delayMs, reason });
    this.#events.emit("reconnecting", { attempt: this.#attempt, delayMs });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#state = "connecting";
      void this.#connect();
    }, delayMs);
  }

  #resetInflight(error: DistSyncError): void {
    for (const rec of this.#index.values()) {
      if (rec.inflight) {
        rec.inflight = undefined;
        rec.inflightDisk = undefined;
      }
    }
    this.#inflight = 0;
    this.#outbox = [];
    this.#downloads.failAll(error);
    this.#deltaUploads.failAll(error);
  }

  async #finish(reason: CloseReason, error?: DistSyncError): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (error) this.#log.info("client stopping", { reason, error: error.message });
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    if (this.#deleteTimer) clearTimeout(this.#deleteTimer);
    if (this.#heldTimer) clearInterval(this.#heldTimer);
    if (this.#appliedTimer) clearTimeout(this.#appliedTimer);
    if (this.#saveTimer) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
      if (reason !== "directory-removed") await this.#saveIndex();
    }
    await this.#saving;
    for (const t of this.#settleTimers.values()) clearTimeout(t);
    this.#settleTimers.clear();
    this.#deleteCandidates.clear();
    const connection = this.#connection;
    this.#connection = undefined;
    this.#downloads.failAll(error ?? new ConnectionError("client stopped"));
    this.#deltaUploads.failAll(error ?? new ConnectionError("client stopped"));
    if (!this.#ready.settled) {
      this.#ready.settled = true;
      this.#ready.reject(error ?? new ConnectionError(`client stopped (${reason}) before it was ready`));
    }
    await Promise.allSettled([connection?.close(reason), this.#watcher?.close()]);
    this.#resolveClosed(error ? { reason, error } : { reason });
  }

  // ---------------------------------------------------------------- sending

  #send(message: ClientMessage): void {
    const connection = this.#connection;
    if (!connection) return;
    connection.send(encodeMessage(message)).catch((error) => {
      if (connection === this.#connection)
        this.#log.warn("send failed", { type: message.type, error: String(error) });
    });
  }

  #trySend(message: ClientMessage): void {
    try {
      this.#send(message);
    } catch {
      // A closing connection: nothing to do.
    }
  }

  /** Sends a message and waits for the transport to take it (backpressure for uploads). */
  async #sendAwait(message: ClientMessage): Promise<void> {
    const connection = this.#connection;
    if (!connection) throw new ConnectionError("not connected");
    await connection.send(encodeMessage(message));
  }

  #queueProposal(proposal: Proposal): void {
    this.#outbox.push(proposal);
    if (this.#outboxScheduled) return;
    this.#outboxScheduled = true;
    // Proposals made in the same turn travel together.
    queueMicrotask(() => {
      this.#outboxScheduled = false;
      const items = this.#outbox;
      this.#outbox = [];
      const limit = (this.#connection?.maxFrameBytes ?? MIN_FRAME_BYTES) - FRAME_OVERHEAD_BYTES;
      for (const batch of batchBySize(items, itemBytes, limit)) this.#send({ type: "propose", items: batch });
    });
  }

  #propose(
    path: RelPath,
    meta: EntryMeta,
    base: number,
    disk: DiskState | undefined,
    inline?: Uint8Array,
  ): void {
    // The connection went away while the disk was read: a proposal now would go nowhere, yet mark
    // the path in flight, and the re-join's index skips paths in flight, so the change would never
    // be sent (seen under repeated cuts). The path is looked at again once the client is live.
    if (this.#connection === undefined) {
      this.#deferred.add(path);
      return;
    }
    const rec = this.#record(path);
    const proposal: Proposal = { path, base, entry: meta };
    if (inline !== undefined) proposal.data = encodeChunk(inline, this.#compression);
    if (!rec.inflight) this.#inflight++;
    rec.inflight = proposal;
    rec.inflightDisk = disk ? stampOf(disk.stat) : undefined;
    rec.rescan = false;
    this.#queueProposal(proposal);
  }

  // ---------------------------------------------------------------- receiving

  async #receive(frame: Uint8Array): Promise<void> {
    let message: Message;
    try {
      message = decodeMessage(frame);
    } catch (error) {
      this.#trySend({ type: "error", code: "protocol", message: asError(error).message, fatal: true });
      await this.#finish("protocol-error", asError(error));
      return;
    }
    try {
      await this.#handle(message);
    } catch (error) {
      this.#emitError(asError(error));
    }
  }

  async #handle(message: Message): Promise<void> {
    switch (message.type) {
      case "welcome":
        await this.#welcome(message.epoch, message.seq, message.heartbeatMs, message.timeoutMs);
        return;
      case "ping":
        this.#send({ type: "pong", time: message.time });
        if (message.delivered !== undefined) this.#delivered = message.delivered;
        return;
      case "pong":
        return;
      case "entries":
        for (const delivery of message.items) this.#onDelivery(delivery);
        return;
      case "ack":
        for (const accepted of message.items) this.#onAck(accepted);
        this.#maybeReady();
        return;
      case "synced":
        this.#hubSeq = Math.max(this.#hubSeq, message.seq);
        this.#synced = true;
        this.#state = "live";
        this.#attempt = 0;
        for (const path of this.#deferred) this.#settle(path);
        this.#deferred.clear();
        this.#maybeReady();
        return;
      case "upload":
        void this.#uploads.run(() => this.#upload(message)).catch((error) => this.#emitError(asError(error)));
        return;
      case "need":
        this.#deltaUploads.onNeed(message);
        return;
      case "manifest":
        await this.#downloads.onManifest(message);
        return;
      case "content":
        await this.#downloads.onContent(message);
        return;
      case "content-end":
        await this.#downloads.onEnd(message);
        return;
      case "content-abort":
        this.#downloads.onAbort(message.hash, message.reason);
        return;
      case "error":
        await this.#hubError(message.code, message.message, message.fatal, message.path, message.hash);
        return;
      default:
        throw new ProtocolError(`a hub may not send '${message.type}'`);
    }
  }

  async #welcome(epoch: string, seq: number, heartbeatMs: number, timeoutMs: number): Promise<void> {
    this.#heartbeatMs = heartbeatMs;
    this.#timeoutMs = timeoutMs;
    this.#startHeartbeat();
    if (this.#epoch !== undefined && this.#epoch !== epoch) {
      // Another hub state: our sequence numbers mean nothing there.
      for (const rec of this.#index.values()) rec.seq = 0;
    }
    this.#epoch = epoch;
    this.#hubSeq = seq;
    // A new session: the hub knows nothing of our progress, and we nothing of the others'.
    this.#appliedSent = 0;
    this.#delivered = 0;
    this.#events.emit("connected");
    // Not awaited: answers to the first batches must flow while later ones are still hashed.
    void this.#sendIndex().catch(async (error) => {
      const e = asError(error);
      if (FileSystemError.isInstance(e) && !(await this.#fs.rootExists().catch(() => false))) {
        await this.#rootGone();
        return;
      }
      this.#emitError(e);
    });
  }

  async #hubError(code: string, text: string, fatal: boolean, path?: string, hash?: string): Promise<void> {
    this.#log.warn("hub reported an error", { code, message: text, fatal, path });
    if (fatal) {
      if (code === "too-many-connections") {
        // The hub is full for now: with reconnect, the close that follows retries with backoff.
        if (this.#reconnect) return;
        await this.#finish("hub-unreachable", new ConnectionError(`hub: ${text}`));
        return;
      }
      if (code === "auth-refused") await this.#finish("auth-refused", new AuthError(text));
      else if (code === "protocol-version")
        await this.#finish("protocol-error", new ProtocolVersionError([], []));
      else await this.#finish("protocol-error", new ProtocolError(`hub: ${text}`));
      return;
    }
    if (code === "content-missing" && hash) {
      this.#downloads.onAbort(hash as ContentHash, text);
      return;
    }
    if (hash !== undefined) this.#deltaUploads.onRefused(hash);
    // A refused proposal: forget it and look at the path again later.
    if (path !== undefined && isValidPath(path)) {
      const rec = this.#index.get(path);
      if (rec?.inflight) this.#clearInflight(rec);
      this.#maybeReady();
      // The hub could not store it (its disk is full): the same change is offered again later.
      if (code === "file-system") this.#settle(path, HUB_STORAGE_RETRY_MS);
    }
    this.#emitError(new DistSyncError(knownCode(code), `hub: ${text}`));
  }

  #onAck(accepted: Accepted): void {
    const rec = this.#index.get(accepted.path);
    const proposal = rec?.inflight;
    if (!rec || !proposal) return;
    this.#setEntry(rec, proposal.entry);
    rec.seq = accepted.seq;
    rec.disk = rec.inflightDisk;
    if (accepted.mtimeMs !== undefined && accepted.mtimeMs !== proposal.entry.mtimeMs) {
      // The hub recorded the hub's time instead of an mtime from the future: so does the disk.
      this.#setEntry(rec, { ...proposal.entry, mtimeMs: accepted.mtimeMs });
      this.#adoptMtime(accepted.path, rec, accepted.mtimeMs);
    }
    this.#scheduleSave();
    // A version we could not write earlier is older than the one the hub just took from us.
    if (rec.missed && rec.missed.seq <= accepted.seq) {
      this.#setMissed(rec, undefined);
      rec.retries = 0;
    }
    this.#clearInflight(rec);
    if (proposal.entry.deleted) this.#retryNames();
    this.#hubSeq = Math.max(this.#hubSeq, accepted.seq);
    this.#acked = Math.max(this.#acked, accepted.seq);
    this.#reportApplied();
    this.#events.emit("change-sent", {
      path: accepted.path,
      op: opOf(proposal.entry),
      seq: accepted.seq,
      size: proposal.entry.size,
    });
    if (rec.rescan) this.#settle(accepted.path);
  }

  #adoptMtime(path: RelPath, rec: LocalRecord, mtimeMs: number): void {
    const expected = rec.disk;
    void this.#paths
      .run(path, async () => {
        if (rec.entry?.deleted) return;
        const stat = await this.#fs.stat(path);
        // Only the version the hub took: an edit made since is a change of its own.
        if (!stat || (expected && !sameStat(stat, expected))) return;
        await this.#fs.setAttributes(path, { mtimeMs });
        const now = await this.#fs.stat(path);
        if (now) rec.disk = stampOf(now);
      })
      .catch((error) => this.#emitError(asError(error)));
  }

  #clearInflight(rec: LocalRecord): void {
    if (!rec.inflight) return;
    rec.inflight = undefined;
    rec.inflightDisk = undefined;
    this.#inflight--;
  }

  #onDelivery(delivery: Delivery): void {
    this.#hubSeq = Math.max(this.#hubSeq, delivery.seq);
    const rec = this.#index.get(delivery.path);
    const relayed = delivery.cause === "change" || delivery.cause === "overruled";
    if (this.#rules.ignores(delivery.path, delivery.entry.kind)) {
      // Left alone here; kept in case the rules change to let it in.
      if (!relayed && rec?.inflight) this.#clearInflight(rec);
      this.#skipped.set(delivery.path, delivery);
      return;
    }
    if (this.#skipName(this.#names.check(delivery))) {
      if (!relayed && rec?.inflight) this.#clearInflight(rec);
      return;
    }
    // A relayed change meets our own proposal for the path: the hub's answer to ours settles it.
    if (relayed && rec?.inflight) return;
    let answered: Proposal | undefined;
    if (!relayed && rec?.inflight) {
      answered = rec.inflight;
      this.#clearInflight(rec);
    }
    this.#applying++;
    const claimed = !delivery.entry.deleted;
    if (claimed) this.#names.claim(delivery.path);
    const counted = delivery.entry.kind === "file" && !delivery.entry.deleted;
    if (counted) {
      this.#progress.filesTotal++;
      this.#progress.bytesTotal += delivery.entry.size;
    }
    const large = counted && delivery.entry.size > DELTA_MIN_BYTES;
    void this.#paths
      .run(delivery.path, () =>
        this.#applyLimit.run(async () => {
          // Counted only while it runs: a deletion waiting for large applies holds one of the
          // limited places, and must never wait for applies queued behind it.
          if (large) this.#largeApplies.set(delivery.path, (this.#largeApplies.get(delivery.path) ?? 0) + 1);
          try {
            return await this.#apply(delivery, answered);
          } finally {
            if (large) {
              const left = (this.#largeApplies.get(delivery.path) ?? 1) - 1;
              if (left > 0) this.#largeApplies.set(delivery.path, left);
              else this.#largeApplies.delete(delivery.path);
            }
          }
        }),
      )
      .catch((error) => {
        const e = asError(error);
        // A download cut by a lost connection is no fault of the file: retried soon, without the
        // growing backoff that would otherwise leave it waiting up to 30 s after many cuts.
        const cut = isConnectionLoss(e);
        if (!cut) this.#emitError(e);
        this.#retryLater(delivery, cut);
      })
      .finally(() => {
        this.#applying--;
        if (claimed) this.#names.release(delivery.path);
        if (counted) {
          this.#progress.filesDone++;
          this.#progress.bytesDone += delivery.entry.size;
        }
        this.#maybeReady();
        this.#reportApplied();
      });
  }

  // ---------------------------------------------------------------- applying remote versions

  async #apply(delivery: Delivery, answered: Proposal | undefined): Promise<void> {
    if (this.#state === "closed") return;
    if (this.#skipName(await this.#names.checkDisk(delivery))) return;
    const { path, entry } = delivery;
    const rec = this.#record(path);
    const relayed = delivery.cause === "change" || delivery.cause === "overruled";
    // A proposal made since this was queued: the hub's answer to it settles this path.
    if (rec.inflight) return;
    // Overtaken while it waited in the queue: we already hold a later version of the hub's.
    if (delivery.seq < rec.seq || (relayed && delivery.seq === rec.seq)) return;
    const disk = await this.#diskState(path, rec);
    const diskMeta = disk?.meta;
    if (disk?.stable !== false && sameContent(diskMeta ?? tombstoneOf(entry), entry)) {
      // Already there (our own version, an echo, or both sides deleted): adopt the hub's metadata.
      if (
        disk &&
        !entry.deleted &&
        entry.kind !== "symlink" &&
        Math.round(disk.stat.mtimeMs) !== Math.round(entry.mtimeMs)
      ) {
        await this.#fs.setAttributes(path, { mtimeMs: entry.mtimeMs }).catch(() => {});
      }
      this.#agree(
        rec,
        delivery,
        disk && !entry.deleted ? { ...disk.stat, mtimeMs: entry.mtimeMs } : undefined,
      );
      if (rec.rescan) this.#settle(path);
      return;
    }
    if (disk && !disk.stable) {
      // Still being written: look again once it settles, and apply this then if nothing changed.
      this.#setMissed(rec, delivery);
      this.#settle(path);
      return;
    }
    const reference = answered?.entry ?? rec.entry;
    // A held deletion is no local edit: the hub's version simply comes back.
    const held = diskMeta === undefined && this.#held.delete(path);
    const dirty =
      !held &&
      (reference === undefined
        ? diskMeta !== undefined
        : !sameContent(diskMeta ?? tombstoneOf(reference), reference));
    if (dirty) {
      // A local edit the hub has not heard of meets this version: the hub decides (rule 3).
      if (diskMeta) this.#propose(path, diskMeta, rec.seq, disk, disk?.inline);
      else
        this.#propose(
          path,
          { ...tombstoneOf(reference as EntryMeta), mtimeMs: Date.now() },
          rec.seq,
          undefined,
        );
      return;
    }
    // A link is never written through: a version below one (a malicious or confused hub) is refused.
    const link = await this.#linkAbove(path);
    if (link !== undefined) {
      this.#skipLink(path, `a parent (${JSON.stringify(link)}) is a symbolic link`);
      return;
    }
    if (delivery.cause === "lost" || delivery.cause === "overruled")
      await this.#conflict(path, delivery, disk);
    await this.#write(path, delivery, disk);
  }

  /** The nearest ancestor of `path` that is a symbolic link, by the agreed versions or on disk. */
  async #linkAbove(path: RelPath): Promise<RelPath | undefined> {
    const onDisk = typeof this.#fs.readLink === "function";
    for (let p = parentPath(path); p !== undefined; p = parentPath(p)) {
      const entry = this.#index.get(p)?.entry;
      if (entry?.kind === "symlink" && !entry.deleted) return p;
      if (entry?.kind === "directory" && !entry.deleted) continue; // agreed as a real directory
      if (onDisk && (await this.#fs.stat(p).catch(() => undefined))?.kind === "symlink") return p;
    }
    return undefined;
  }

  /** Leaves a symbolic link out (received or local), saying so once per path. */
  #skipLink(path: RelPath, reason: string): void {
    if (this.#linkWarnings.has(path)) return;
    this.#linkWarnings.add(path);
    const message = `skipped the symbolic link ${JSON.stringify(path)}: ${reason}`;
    this.#log.warn(message, { path });
    this.#events.emit("error", new DistSyncError("link-not-allowed", message));
  }

  /** Creates a received link; false (the link skipped, said once) when it cannot be made here. */
  async #writeLink(path: RelPath, entry: EntryMeta): Promise<boolean> {
    const target = entry.target;
    if (this.#fs.createSymlink === undefined || this.#fs.readLink === undefined) {
      this.#skipLink(path, "this file system does not hold symbolic links");
      return false;
    }
    // Checked again here: a malicious hub must not plant a link leading out of the folder.
    const problem = linkTargetProblem(path, target);
    if (problem !== undefined || target === undefined) {
      this.#skipLink(path, problem ?? "no target");
      return false;
    }
    try {
      await this.#fs.createSymlink(path, target, { mtimeMs: entry.mtimeMs });
    } catch (error) {
      const e = asError(error);
      // Windows without the privilege to create links (EPERM), or a target that leads outside
      // through what this disk holds: skipped, not retried.
      if (PathNotAllowedError.isInstance(e) || (FileSystemError.isInstance(e) && e.systemCode === "EPERM")) {
        this.#skipLink(path, e.message);
        return false;
      }
      throw e;
    }
    return true;
  }

  async #conflict(path: RelPath, delivery: Delivery, disk: DiskState | undefined): Promise<void> {
    const loser = disk?.meta;
    const conflict: ClientConflict = {
      path,
      winner: { origin: delivery.origin, mtimeMs: delivery.entry.mtimeMs },
      loser: { origin: this.clientId, mtimeMs: loser?.mtimeMs ?? 0 },
    };
    if (this.#keepConflicts && loser && !loser.deleted && loser.kind === "file") {
      const keptAs = conflictName(path, this.#name, loser.mtimeMs) as RelPath;
      if (isValidPath(keptAs)) {
        const writer = await this.#fs.createWriter(keptAs);
        try {
          const result = await readContent(
            this.#fs,
            path,
            (chunk) => writer.write(chunk.data),
            this.#readOptions,
          );
          if (!result)
            throw new FileSystemError(`${path} vanished while keeping the conflict copy`, { path });
          await writer.commit({ mtimeMs: loser.mtimeMs, executable: loser.executable });
          conflict.keptAs = keptAs;
          this.#settle(keptAs);
        } catch (error) {
          await writer.abort();
          throw error;
        }
      }
    }
    this.#log.info("conflict", { path, winner: delivery.origin, keptAs: conflict.keptAs });
    this.#events.emit("conflict", conflict);
  }

  async #write(path: RelPath, delivery: Delivery, disk: DiskState | undefined): Promise<void> {
    const { entry } = delivery;
    const rec = this.#record(path);
    if (entry.deleted) {
      if (disk?.meta.kind === "directory") await this.#removeTree(path);
      else if (disk) {
        // A download may be copying chunks from this file (a rename: new name first).
        if (disk.stat.size > DELTA_MIN_BYTES) {
          await this.#largeAppliesDone(path);
          // A local write landing while we waited wins over the deletion, as below.
          if (!sameStat(await this.#fs.stat(path), disk.stat)) {
            this.#setMissed(rec, delivery);
            this.#settle(path);
            return;
          }
        }
        await this.#fs.remove(path);
      }
      this.#agree(rec, delivery, undefined);
    } else if (entry.kind === "directory") {
      if (disk && disk.meta.kind !== "directory") await this.#fs.remove(path);
      await this.#fs.mkdir(path, { mtimeMs: entry.mtimeMs });
      this.#agree(rec, delivery, undefined);
    } else if (entry.kind === "symlink") {
      if (disk?.meta.kind === "directory") await this.#fs.rmdir(path);
      // The narrowest window we can offer: a local change landing since we looked wins over us.
      if (!sameStat(await this.#fs.stat(path), disk?.stat)) {
        this.#setMissed(rec, delivery);
        this.#settle(path);
        return;
      }
      if (!(await this.#writeLink(path, entry))) return;
      this.#agree(rec, delivery, await this.#fs.stat(path));
    } else {
      if (disk?.meta.kind === "directory") await this.#fs.rmdir(path);
      let fetched: { hash: ContentHash; list: ChunkList } | undefined;
      const writer = await this.#fs.createWriter(path);
      try {
        if (delivery.data) {
          const raw = decodeChunk(delivery.data.encoding, delivery.data.data, entry.size);
          if ((await hashBytes(raw)) !== entry.hash) {
            throw new ContentError("content-mismatch", `${path}: inline content does not match its hash`);
          }
          await writer.write(raw);
        } else {
          // The version on disk is the base of a delta download: its chunks need not travel.
          const base = await this.#localBase(path, disk, entry.size);
          const list = await this.#downloads.fetchInto(entry.hash as ContentHash, writer, entry.size, base);
          fetched = { hash: entry.hash as ContentHash, list };
        }
        // The narrowest window we can offer: a local write landing since we looked wins over us.
        const now = await this.#fs.stat(path);
        if (!sameStat(now, disk?.stat)) {
          await writer.abort();
          this.#setMissed(rec, delivery);
          this.#settle(path);
          return;
        }
        await writer.commit({ mtimeMs: entry.mtimeMs, executable: entry.executable });
      } catch (error) {
        await writer.abort();
        throw error;
      }
      const stat = await this.#fs.stat(path);
      if (fetched && stat) this.#localChunks.record(path, fetched.hash, stat, fetched.list);
      else this.#localChunks.forget(path);
      this.#agree(rec, delivery, stat, true);
    }
    if (path === IGNORE_FILE) await this.#loadIgnoreRules();
    this.#log.debug("applied", { path, seq: delivery.seq, origin: delivery.origin });
    this.#events.emit("change-applied", {
      path,
      op: opOf(entry),
      seq: delivery.seq,
      size: entry.size,
      origin: delivery.origin,
      cause: delivery.cause,
    });
  }

  /** Removes a directory the hub deleted, keeping anything local the hub has not seen. */
  async #removeTree(path: RelPath): Promise<void> {
    const below = [...this.#index.entries()]
      .filter(([p, rec]) => p !== path && isUnder(p, path) && rec.entry && !rec.entry.deleted)
      .sort(([a], [b]) => pathDepth(b) - pathDepth(a));
    for (const [p, rec] of below) {
      const stat = await this.#fs.stat(p);
      if (!stat) continue;
      if (stat.kind !== "directory" && rec.entry?.kind === stat.kind && sameStat(stat, rec.disk))
        await this.#fs.remove(p);
      else if (stat.kind === "directory") await this.#fs.rmdir(p).catch(() => {});
    }
    try {
      await this.#fs.rmdir(path);
    } catch (error) {
      if (FileSystemError.isInstance(error) && error.systemCode === "ENOTEMPTY") {
        // Local content the hub never saw keeps the directory: it will be proposed, reviving it.
        this.#settle(path);
        for await (const stat of walkUnder(this.#fs, path)) this.#settle(stat.path);
        return;
      }
      throw error;
    }
  }

  /**
   * A version that could not be written (a parent removed meanwhile, a full disk…) is kept and
   * tried again with growing delays, unless a newer version or a local edit supersedes it.
   */
  #retryLater(delivery: Delivery, connectionLost = false): void {
    const rec = this.#record(delivery.path);
    if (rec.seq >= delivery.seq) return;
    this.#setMissed(rec, delivery);
    if (!connectionLost) rec.retries = (rec.retries ?? 0) + 1;
    const delayMs = connectionLost ? 250 : Math.min(30_000, 50 * 2 ** Math.min(rec.retries ?? 1, 10));
    setTimeout(() => {
      if (this.#state !== "closed" && rec.missed === delivery) this.#settle(delivery.path);
    }, delayMs);
  }

  /** Looks at a file that could not be read again later: 250 ms, doubling up to 30 s. */
  #retryRead(path: RelPath): void {
    const unreadable = this.#unreadable.get(path);
    if (!unreadable || unreadable.timer || this.#state === "closed") return;
    const delayMs = Math.min(30_000, 250 * 2 ** Math.min(unreadable.failures - 1, 7));
    unreadable.timer = setTimeout(() => {
      unreadable.timer = undefined;
      this.#settle(path);
    }, delayMs);
  }

  async #applyMissed(rec: LocalRecord): Promise<void> {
    const missed = rec.missed;
    if (!missed) return;
    this.#setMissed(rec, undefined);
    try {
      await this.#apply(missed, undefined);
    } catch (error) {
      const e = asError(error);
      const cut = isConnectionLoss(e);
      if (!cut) this.#emitError(e);
      this.#retryLater(missed, cut);
    }
  }

  #agree(rec: LocalRecord, delivery: Delivery, stat: FileStat | undefined, written = false): void {
    this.#setMissed(rec, undefined);
    rec.retries = 0;
    this.#setEntry(rec, delivery.entry);
    rec.seq = delivery.seq;
    rec.disk = stat ? stampOf(stat, written) : undefined;
    this.#scheduleSave();
    if (delivery.entry.deleted) this.#retryNames();
  }

  // ---------------------------------------------------------------- names this disk cannot hold

  /** Reports a skipped name (once per path); true when the version must not be applied. */
  #skipName(verdict: NameVerdict): boolean {
    if (verdict === undefined) return false;
    if (verdict.skip === "blocked" && verdict.error !== undefined) this.#emitError(verdict.error);
    this.#maybeReady();
    return true;
  }

  /** A path went away: skipped collisions may fit now (those that still collide stay skipped, unreported). */
  #retryNames(): void {
    if (this.#names.blockedCount === 0) return;
    for (const delivery of this.#names.retry()) {
      this.#onDelivery(delivery);
      this.#names.applied(delivery.path);
    }
  }

  /** For the name guard: a live version of `path` (or, with `below`, of anything under it) is held. */
  #holdsName(path: string, below: boolean): boolean {
    const live = (rec: LocalRecord): boolean =>
      (rec.entry !== undefined && !rec.entry.deleted) ||
      (rec.inflight !== undefined && !rec.inflight.entry.deleted) ||
      (rec.missed !== undefined && !rec.missed.entry.deleted);
    const rec = this.#index.get(path as RelPath);
    if (rec !== undefined && live(rec)) return true;
    if (!below) return false;
    for (const [p, r] of this.#index) if (isUnder(p, path) && live(r)) return true;
    return false;
  }

  // ---------------------------------------------------------------- progress reports

  /** Sets a record's version not applied yet, keeping `#missedCount` (status counts it). */
  #setMissed(rec: LocalRecord, delivery: Delivery | undefined): void {
    if (rec.missed === undefined && delivery !== undefined) this.#missedCount++;
    else if (rec.missed !== undefined && delivery === undefined) this.#missedCount--;
    rec.missed = delivery;
  }

  #idle(): boolean {
    return this.#state === "live" && this.#synced && this.status().pending === 0;
  }

  /** Tells the hub, soon after we go idle, how far we have applied (for others' `delivered`). */
  #reportApplied(): void {
    if (this.#appliedTimer) return;
    this.#appliedTimer = setTimeout(() => {
      this.#appliedTimer = undefined;
      // Not idle yet: a later trigger, or the next heartbeat ping, reports it.
      if (!this.#idle() || this.#hubSeq <= this.#appliedSent) return;
      this.#appliedSent = this.#hubSeq;
      this.#trySend({ type: "ping", time: Date.now(), applied: this.#hubSeq });
    }, 10);
  }

  // ---------------------------------------------------------------- ignore rules

  /**
   * Reads `.distsyncignore` and applies it at once: paths it now lets in are looked at (local
   * files proposed, skipped hub versions applied); paths it now ignores are simply left alone.
   */
  async #loadIgnoreRules(): Promise<void> {
    let text = "";
    try {
      const chunks: Uint8Array[] = [];
      await readContent(this.#fs, IGNORE_FILE as RelPath, async (chunk) => {
        chunks.push(chunk.data.slice());
      });
      text = new TextDecoder().decode(concatBytes(chunks));
    } catch {
      // Missing or unreadable: no shared rules.
    }
    if (text === this.#rules.source) return;
    const before = this.#rules;
    this.#rules = new IgnoreRules(text, this.#extraIgnores);
    this.#log.info("ignore rules changed", { file: IGNORE_FILE });
    if (this.#state !== "live") return;
    for (const [path, delivery] of [...this.#skipped]) {
      if (this.#rules.ignores(path, delivery.entry.kind)) continue;
      this.#skipped.delete(path);
      this.#onDelivery(delivery);
    }
    for await (const stat of this.#fs.walk()) {
      if (isInternalPath(stat.path)) continue;
      if (before.ignores(stat.path, stat.kind) && !this.#rules.ignores(stat.path, stat.kind))
        this.#settle(stat.path);
    }
  }

  // ---------------------------------------------------------------- the saved index

  #stateName(): string {
    return `index-${this.#space}`;
  }

  /** Loads the index a previous run saved: what this folder held when it last agreed with the hub. */
  async #loadIndex(): Promise<void> {
    const bytes = await this.#readState(
      this.#stateName(),
      "cannot read the saved index; starting without it",
    );
    if (!bytes) return;
    const saved = decodeSavedIndex(this.#space, bytes);
    if (!saved) {
      this.#log.warn("the saved index is damaged or from another version; starting without it");
      return;
    }
    for (const [path, record] of saved.records) {
      this.#setEntry(this.#record(path), record.entry);
      // Only the stat: what proved content in the last run (when it was seen, the ctime) is not
      // trusted across a restart, remount or copy of the folder.
      const disk = record.disk && {
        size: record.disk.size,
        mtimeMs: record.disk.mtimeMs,
        executable: record.disk.executable,
      };
      Object.assign(this.#record(path), { seq: record.seq, disk });
      this.#names.note(path);
    }
    this.#epoch = saved.epoch;
    this.#log.info("loaded the saved index", { paths: saved.records.size });
  }

  /**
   * A state blob a previous run saved, or `undefined`: none, not kept (`persistIndex`), or
   * unreadable (logged as `warning`; the client then starts without it).
   */
  async #readState(name: string, warning: string): Promise<Uint8Array | undefined> {
    if (!this.#persistIndex) return undefined;
    try {
      return await this.#fs.loadState?.(name);
    } catch (error) {
      this.#log.warn(warning, { error: String(error) });
      return undefined;
    }
  }

  /** Separate from the index, so a large one stays out of it and a damaged one costs only reuse. */
  #chunksStateName(): string {
    return `chunks-${this.#space}`;
  }

  /** Loads the chunk lists of large files a previous run saved (see local-chunks.ts). */
  async #loadLocalChunks(): Promise<void> {
    const bytes = await this.#readState(
      this.#chunksStateName(),
      "cannot read the saved chunk lists; starting without them",
    );
    if (!bytes) return;
    const saved = await decodeSavedChunks(this.#space, bytes);
    if (!saved) {
      this.#log.warn("the saved chunk lists are damaged or from another version; starting without them");
      return;
    }
    // Files changed or gone since are dropped now (they would be at first use), and so not saved again.
    const current: SavedChunks[] = [];
    for (const record of saved) {
      const stat = await this.#fs.stat(record.path).catch(() => undefined);
      if (stat?.kind === "file" && stat.size === record.size && stat.mtimeMs === record.mtimeMs)
        current.push(record);
    }
    this.#localChunks.load(current);
    this.#chunksSaved = current.length === saved.length ? this.#localChunks.changes : -1;
    this.#log.info("loaded the saved chunk lists", {
      files: current.length,
      stale: saved.length - current.length,
    });
  }

  #scheduleSave(): void {
    if (!this.#persistIndex || this.#saveTimer || this.#state === "closed") return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#saveIndex();
    }, SAVE_INDEX_DELAY_MS);
  }

  #saveIndex(): Promise<void> {
    const records = new Map<RelPath, SavedRecord>();
    for (const [path, rec] of this.#index) {
      if (rec.entry) records.set(path, { entry: rec.entry, seq: rec.seq, disk: rec.disk });
    }
    const bytes = encodeSavedIndex(this.#space, { epoch: this.#epoch, records });
    // The chunk lists only when they changed: they can be megabytes.
    const changes = this.#localChunks.changes;
    const chunks =
      changes === this.#chunksSaved ? undefined : encodeSavedChunks(this.#space, this.#localChunks.saved());
    this.#chunksSaved = changes;
    this.#saving = this.#saving
      .then(async () => {
        await this.#fs.saveState?.(this.#stateName(), bytes);
        if (chunks) await this.#fs.saveState?.(this.#chunksStateName(), chunks);
      })
      .catch((error: unknown) => {
        this.#chunksSaved = -1;
        this.#log.warn("cannot save the index", { error: String(error) });
      });
    return this.#saving;
  }

  // ---------------------------------------------------------------- local changes

  #onWatch(event: WatchEvent): void {
    if (this.#state === "closed") return;
    switch (event.type) {
      case "root-removed":
        void this.#rootGone();
        return;
      case "error":
        this.#emitError(event.error);
        return;
      case "remove":
        if (this.#rules.ignores(event.path, event.kind)) return;
        this.#deleteCandidates.add(event.path);
        this.#armDeleteTimer();
        return;
      default:
        if (event.path === IGNORE_FILE) void this.#loadIgnoreRules();
        if (this.#rules.ignores(event.path, event.kind)) return;
        if (this.#deleteTimer) this.#armDeleteTimer();
        this.#settle(event.path);
    }
  }

  #settle(path: RelPath, delayMs = this.#settleMs): void {
    if (this.#state === "closed" || isInternalPath(path)) return;
    const timer = this.#settleTimers.get(path);
    if (timer) clearTimeout(timer);
    this.#settleTimers.set(
      path,
      setTimeout(() => {
        this.#settleTimers.delete(path);
        void this.#settled(path).catch((error) => this.#emitError(asError(error)));
      }, delayMs),
    );
  }

  /**
   * The settle time is short so a small change leaves at once; a large file modified moments ago
   * is most likely still being written, and reading it now would hash (and send) it twice. So is
   * an empty one: a file just created, whose content has not been written yet (sending that empty
   * version would show the other clients an empty file before the real one).
   */
  async #settled(path: RelPath): Promise<void> {
    await this.#paths.run(path, async () => {
      // Taken under the path's lock, so the scan may use it: no apply of ours lands in between
      // (a second stat per change was a tenth of the cost of a small file's echo).
      let stat: FileStat | undefined;
      if (this.#settleMs < LARGE_FILE_QUIET_MS) {
        stat = await this.#fs.stat(path).catch(() => undefined);
        const age = stat ? Date.now() - stat.mtimeMs : -1;
        const unfinished = stat?.kind === "file" && (stat.size > INLINE_MAX_BYTES || stat.size === 0);
        if (unfinished && age >= 0 && age < LARGE_FILE_QUIET_MS) {
          if (!this.#settleTimers.has(path)) this.#settle(path, LARGE_FILE_QUIET_MS);
          return;
        }
      }
      await this.#scan(path, stat);
    });
  }

  /** `known`: the path's stat just taken under its lock, if any (a missing path is looked at again). */
  async #scan(path: RelPath, known?: FileStat): Promise<void> {
    if (this.#state === "closed") return;
    if (this.#rules.ignores(path, this.#index.get(path)?.entry?.kind ?? "file")) return;
    if (this.#state !== "live") {
      this.#deferred.add(path);
      return;
    }
    const rec = this.#index.get(path);
    if (rec?.inflight) {
      rec.rescan = true;
      return;
    }
    const disk = await this.#diskState(path, rec, known);
    if (!disk) {
      if (rec?.entry && !rec.entry.deleted) {
        this.#deleteCandidates.add(path);
        this.#armDeleteTimer();
        return;
      }
      if (rec) await this.#applyMissed(rec);
      return;
    }
    if (!disk.stable) {
      if (disk.unreadable) this.#retryRead(path);
      else this.#settle(path);
      return;
    }
    if (rec?.entry && sameVersion(disk.meta, rec.entry)) {
      rec.disk = stampOf(disk.stat);
      await this.#applyMissed(rec);
      return;
    }
    if (rec) this.#setMissed(rec, undefined);
    const isNewDirectory = disk.meta.kind === "directory" && (!rec?.entry || rec.entry.deleted);
    this.#propose(path, disk.meta, rec?.seq ?? 0, disk, disk.inline);
    this.#maybeReady();
    // `mkdir -p a/b/c` and files written at once inside a new directory can outrun the watcher,
    // which then never reports them: what a new directory already holds is looked at now.
    if (isNewDirectory) {
      for await (const stat of walkUnder(this.#fs, path)) {
        if (!this.#index.get(stat.path)?.entry) this.#settle(stat.path);
      }
    }
  }

  #armDeleteTimer(delayMs = this.#deleteSettleMs): void {
    if (this.#deleteTimer) clearTimeout(this.#deleteTimer);
    this.#deleteTimer = setTimeout(() => {
      this.#deleteTimer = undefined;
      void this.#flushDeletes().catch((error) => this.#emitError(asError(error)));
    }, delayMs);
  }

  /**
   * A large file vanished while another large file is being hashed: most likely a rename (or a
   * move). Its deletion waits until the new name is proposed (at most `LARGE_DELETE_HOLD_MS`), so
   * the hub — and every other client — hears of the new name first, and the others copy its chunks
   * from the old file instead of fetching them.
   */
  #holdLargeDeletions(): boolean {
    const large = [...this.#deleteCandidates].some(
      (p) => (this.#index.get(p)?.entry?.size ?? 0) > DELTA_MIN_BYTES,
    );
    if (!large || this.#largeReads === 0) {
      this.#largeDeletesHeldSince = undefined;
      return false;
    }
    this.#largeDeletesHeldSince ??= Date.now();
    if (Date.now() - this.#largeDeletesHeldSince > LARGE_DELETE_HOLD_MS) {
      this.#largeDeletesHeldSince = undefined;
      return false;
    }
    this.#armDeleteTimer();
    return true;
  }

  /**
   * Sends deletions after a quiet time, and only while the root still exists: a removed or
   * unmounted folder must never turn into "delete everything" for the others (rule 10).
   */
  async #flushDeletes(): Promise<void> {
    if (this.#state === "closed" || this.#deleteCandidates.size === 0) return;
    if (!(await this.#fs.rootExists())) {
      await this.#rootGone();
      return;
    }
    if (this.#state !== "live") {
      for (const p of this.#deleteCandidates) this.#deferred.add(p);
      this.#deleteCandidates.clear();
      return;
    }
    if (this.#holdLargeDeletions()) return;
    const candidates = new Set(this.#deleteCandidates);
    this.#deleteCandidates.clear();
    // A vanished directory takes everything below it.
    for (const p of [...candidates]) {
      const rec = this.#index.get(p);
      if (rec?.entry?.kind !== "directory") continue;
      for (const [q, r] of this.#index) if (isUnder(q, p) && r.entry && !r.entry.deleted) candidates.add(q);
    }
    // The watcher can drop an event of a burst (seen under load): the siblings of what was removed
    // are looked at too, so a deletion it missed is not left behind (only those found gone count).
    const siblings = new Set<RelPath>();
    if (candidates.size >= 2) {
      const parents = new Set([...candidates].map((p) => parentPath(p) ?? ""));
      for (const [q, r] of this.#index) {
        if (siblings.size >= 2000) break;
        if (!r.entry || r.entry.deleted || candidates.has(q) || !parents.has(parentPath(q) ?? "")) continue;
        siblings.add(q);
      }
      for (const q of siblings) candidates.add(q);
    }
    const gone: RelPath[] = [];
    for (const p of candidates) {
      const rec = this.#index.get(p);
      // A new file removed while its first version is still in flight has no agreed entry yet:
      // the hub's answer must be followed by a look at the disk, or the deletion is never sent.
      if (rec?.inflight) {
        rec.rescan = true;
        continue;
      }
      if (!rec?.entry || rec.entry.deleted) continue;
      if (this.#rules.ignores(p, rec.entry.kind)) continue;
      if ((await this.#fs.stat(p)) === undefined) gone.push(p);
      else if (!siblings.has(p)) this.#settle(p);
    }
    if (!(await this.#fs.rootExists())) {
      await this.#rootGone();
      return;
    }
    gone.sort((a, b) => pathDepth(b) - pathDepth(a));
    // A large deletion reaches the watcher in bursts: look at the whole of it before judging it.
    const files = gone.filter((p) => this.#index.get(p)?.entry?.kind === "file").length;
    if (this.#massGuard && !this.#deletesExtended && files >= Math.max(3, this.#massGuard.minFiles / 4)) {
      this.#deletesExtended = true;
      for (const p of gone) this.#deleteCandidates.add(p);
      this.#armDeleteTimer(Math.max(500, this.#deleteSettleMs));
      return;
    }
    this.#deletesExtended = false;
    if (this.#holdMassDeletion(gone)) return;
    const now = Date.now();
    for (const p of gone) {
      const rec = this.#index.get(p) as LocalRecord;
      if (rec.inflight || !rec.entry || rec.entry.deleted) continue;
      this.#propose(p, { ...tombstoneOf(rec.entry), mtimeMs: now }, rec.seq, undefined);
    }
  }

  /**
   * True (and the deletions held) when `gone` is most of the folder at once: an emptied or
   * unmounted folder must not empty every other one.
   */
  #holdMassDeletion(gone: readonly RelPath[]): boolean {
    if (!this.#massGuard) return false;
    const files = gone.filter((p) => this.#index.get(p)?.entry?.kind === "file").length;
    const live = this.#liveFiles();
    if (files < this.#massGuard.minFiles || files <= live * this.#massGuard.fraction) return false;
    for (const p of gone) this.#held.add(p);
    const message = `${files} of ${live} files vanished at once; not sending these deletions (was the folder emptied or unmounted?). Files that come back sync again; if the deletion was intended, restart with the mass-deletion guard off (distsync sync --allow-mass-delete)`;
    this.#log.error(message);
    this.#emitError(new DistSyncError("mass-deletion", message));
    // Watch for the files coming back (a remount): they are then simply there again.
    this.#heldTimer ??= setInterval(() => void this.#recheckHeld(), 2000);
    return true;
  }

  async #recheckHeld(): Promise<void> {
    for (const p of [...this.#held]) {
      if ((await this.#fs.stat(p).catch(() => undefined)) === undefined) continue;
      this.#held.delete(p);
      this.#settle(p);
    }
    if (this.#held.size === 0 && this.#heldTimer) {
      clearInterval(this.#heldTimer);
      this.#heldTimer = undefined;
    }
  }

  async #rootGone(): Promise<void> {
    if (this.#state === "closed") return;
    this.#log.error("the synced directory was removed; stopping without sending deletions");
    this.#deleteCandidates.clear();
    this.#outbox = [];
    await this.#finish(
      "directory-removed",
      new FileSystemError("the synced directory was removed, replaced or unmounted", {
        systemCode: "ENOENT",
      }),
    );
  }

  /** Sends the whole local index (rule 7): metadata for every path, content only inline. */
  async #sendIndex(): Promise<void> {
    const items: Proposal[] = [];
    const seen = new Set<RelPath>();
    const limit = (this.#connection?.maxFrameBytes ?? MIN_FRAME_BYTES) - FRAME_OVERHEAD_BYTES;
    // The connection this index is for: after a cut and a reconnect, the next join sends its own.
    const connection = this.#connection;
    const current = () =>
      this.#state !== "closed" && connection !== undefined && this.#connection === connection;
    let bytes = 0;
    const flush = (final: boolean) => {
      if (!current()) return;
      const batch: Proposal[] = [];
      for (const p of items.splice(0)) {
        const rec = this.#record(p.path);
        if (rec.inflight) continue;
        rec.inflight = p;
        rec.rescan = false;
        this.#inflight++;
        batch.push(p);
      }
      this.#send({ type: "index", items: batch, final });
      bytes = 0;
    };
    const take = (stat: FileStat, disk: DiskState | undefined, base: number) => {
      if (!disk) return;
      if (!disk.stable) {
        this.#deferred.add(stat.path);
        return;
      }
      const proposal: Proposal = { path: stat.path, base, entry: disk.meta };
      if (disk.inline !== undefined) proposal.data = encodeChunk(disk.inline, this.#compression);
      const size = itemBytes(proposal);
      if (bytes + size > limit || items.length >= 512) flush(false);
      items.push(proposal);
      bytes += size;
      const r = this.#record(stat.path);
      r.inflightDisk = stampOf(disk.stat);
    };
    // Files are read and hashed a window at a time: the I/O of one overlaps the others'.
    let window: FileStat[] = [];
    const drain = async () => {
      // Under each path's lock: a version being applied right now (its file renamed into place,
      // its mtime or its agreement not yet set) must not be read half-way and proposed as ours.
      const states = await Promise.all(
        window.map((stat) =>
          this.#paths.run(stat.path, async () => {
            const rec = this.#index.get(stat.path);
            return { disk: await this.#diskState(stat.path, rec), base: rec?.seq ?? 0 };
          }),
        ),
      );
      for (let i = 0; i < window.length; i++) {
        const state = states[i] as { disk: DiskState | undefined; base: number };
        take(window[i] as FileStat, state.disk, state.base);
      }
      window = [];
    };
    for await (const stat of this.#fs.walk()) {
      if (!current()) return;
      if (isInternalPath(stat.path)) continue;
      seen.add(stat.path);
      if (this.#rules.ignores(stat.path, stat.kind)) continue;
      window.push(stat);
      if (window.length >= INDEX_READ_WINDOW) await drain();
    }
    await drain();
    if (!current()) return;
    // What we knew of and is gone now was deleted while we were away.
    const now = Date.now();
    const gone: RelPath[] = [];
    for (const [path, rec] of [...this.#index]) {
      if (seen.has(path) || this.#held.has(path) || !rec.entry || rec.entry.deleted) continue;
      // Ignored now: not ours to delete (the rules may have changed while we were away).
      if (this.#rules.ignores(path, rec.entry.kind)) continue;
      // Written since the walk passed its directory (a version still being applied, from before a
      // reconnect): not gone. Unsure (the stat failed): not gone either.
      const present = await this.#fs.stat(path).then(
        (stat) => stat !== undefined,
        () => true,
      );
      if (present) continue;
      gone.push(path);
    }
    if (!current()) return;
    if (!this.#holdMassDeletion(gone)) {
      for (const path of gone) {
        const rec = this.#index.get(path) as LocalRecord & { entry: EntryMeta };
        items.push({ path, base: rec.seq, entry: { ...tombstoneOf(rec.entry), mtimeMs: now } });
        if (items.length >= 512) flush(false);
      }
    }
    flush(true);
  }

  async #upload(request: UploadMessage): Promise<void> {
    const { hash, path } = request;
    if (!this.#connection) return;
    let ok = false;
    const size = this.#index.get(path)?.inflight?.entry.size ?? 0;
    this.#progress.filesTotal++;
    this.#progress.bytesTotal += size;
    try {
      if (size > DELTA_MIN_BYTES) {
        // Manifest first; only the chunks the hub lacks travel (PROTOCOL.md rule 9).
        const asked = this.#connection;
        ok = await this.#deltaUploads.upload(
          {
            fs: this.#fs,
            local: this.#localChunks,
            // Frames of this upload go on the connection that asked for it, or nowhere.
            send: (message) => {
              if (this.#connection !== asked) throw new UploadStopped("the connection changed");
              return this.#sendAwait(message);
            },
            encode: (data) => this.#encodeChunk(data, this.#compression),
            read: this.#readOptions,
            progress: (bytes) => {
              this.#uploading = Math.min(size, this.#uploading + bytes);
            },
          },
          hash,
          path,
          request.base,
        );
      } else {
        const result = await readContent(
          this.#fs,
          path,
          async (chunk) => {
            this.#uploading = Math.min(size, this.#uploading + chunk.data.length);
            const encoded = await this.#encodeChunk(chunk.data, this.#compression);
            await this.#sendAwait({
              type: "content",
              hash,
              index: chunk.index,
              size: chunk.data.length,
              ...encoded,
            });
          },
          // It may have grown past the size of a delta upload since it was proposed.
          this.#readOptions,
        );
        if (result?.stable && result.hash === hash) {
          await this.#sendAwait({ type: "content-end", hash, chunks: result.chunks, size: result.size });
          ok = true;
        }
      }
    } catch (error) {
      if (!this.#connection) return;
      if (!(error instanceof UploadStopped)) this.#emitError(asError(error));
    } finally {
      this.#uploading = 0;
      this.#progress.filesDone++;
      this.#progress.bytesDone += size;
    }
    if (ok) return;
    // The file changed under us: receivers must never get bytes that do not match the hash.
    this.#trySend({ type: "content-abort", hash, reason: "the file changed while it was read" });
    for (const [p, rec] of this.#index) {
      if (rec.inflight?.entry.hash === hash) {
        this.#clearInflight(rec);
        this.#settle(p);
      }
    }
    this.#maybeReady();
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Resolves once no version of a large file at another path is being applied (at most 30 s): the
   * deletion of a large file waits for them, so a rename seen as "new name, then deletion of the
   * old one" still copies its chunks from the old file instead of fetching them.
   */
  async #largeAppliesDone(path: RelPath): Promise<void> {
    const deadline = Date.now() + LARGE_DELETE_HOLD_MS;
    const busy = () => [...this.#largeApplies.keys()].some((p) => p !== path);
    while (busy() && Date.now() < deadline && this.#state !== "closed") {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * The content of the large file on disk at `path`, with its chunks indexed (hashing it now if they
   * were not), as the base of a delta download of a large version; `undefined` otherwise.
   */
  async #localBase(
    path: RelPath,
    disk: DiskState | undefined,
    size: number,
  ): Promise<ContentHash | undefined> {
    if (size <= DELTA_MIN_BYTES || disk?.meta.kind !== "file" || disk.stat.size <= DELTA_MIN_BYTES)
      return undefined;
    const known = this.#localChunks.at(path, disk.stat);
    if (known) return known.hash;
    const result = await readContent(this.#fs, path, undefined, this.#readOptions).catch(() => undefined);
    if (!result?.stable) return undefined;
    this.#localChunks.record(path, result.hash, result.stat, result.list);
    return result.hash;
  }

  /** The disk's version of a path; hashes a file only when its stat differs from what we know. */
  async #diskState(
    path: RelPath,
    rec: LocalRecord | undefined,
    known?: FileStat,
  ): Promise<DiskState | undefined> {
    const stat = known ?? (await this.#fs.stat(path));
    if (!stat) return undefined;
    if (stat.kind === "symlink") return this.#linkState(path, stat);
    if (stat.kind === "directory") {
      return {
        stat,
        stable: true,
        meta: {
          kind: "directory",
          deleted: false,
          size: 0,
          mtimeMs: stat.mtimeMs,
          hash: "",
          executable: false,
        },
      };
    }
    const agreed = rec?.entry;
    if (
      agreed &&
      agreed.kind === "file" &&
      !agreed.deleted &&
      sameStat(stat, rec?.disk) &&
      (stat.size > 65536 || provesContent(rec?.disk, stat))
    ) {
      return { stat, stable: true, meta: { ...agreed, mtimeMs: Math.round(stat.mtimeMs) } };
    }
    let result: ReadResult | undefined;
    const large = stat.size > DELTA_MIN_BYTES;
    if (large) this.#largeReads++;
    try {
      result = await readContent(this.#fs, path, undefined, this.#readOptions);
    } catch (error) {
      if (FileSystemError.isInstance(error)) {
        // Reported once per file, not at every retry; never mistaken for a deletion.
        const unreadable = this.#unreadable.get(path) ?? { failures: 0 };
        unreadable.failures++;
        this.#unreadable.set(path, unreadable);
        if (unreadable.failures === 1) this.#emitError(error);
        return { stat, stable: false, unreadable: true, meta: fileMeta(stat, "" as ContentHash) };
      }
      throw error;
    } finally {
      if (large) this.#largeReads--;
    }
    const recovered = this.#unreadable.get(path);
    if (recovered) {
      if (recovered.timer) clearTimeout(recovered.timer);
      this.#unreadable.delete(path);
      this.#log.info("the file can be read again", { path });
    }
    if (!result) return undefined;
    if (result.stable) this.#localChunks.record(path, result.hash, result.stat, result.list);
    else this.#localChunks.forget(path);
    const state: DiskState = {
      stat: result.stat,
      stable: result.stable,
      meta: fileMeta(result.stat, result.hash),
    };
    if (result.inline) state.inline = result.inline;
    return state;
  }

  /** A local symbolic link: its target, never followed; `undefined` (skipped) when it may not sync. */
  async #linkState(path: RelPath, stat: FileStat): Promise<DiskState | undefined> {
    const target = await this.#fs.readLink?.(path);
    if (target === undefined) return undefined;
    // The file system checked it already (the Node one against the disk too); this is the rule
    // every peer applies, so a link the hub would refuse is never proposed.
    const problem = linkTargetProblem(path, target);
    if (problem !== undefined) {
      this.#skipLink(path, problem);
      return undefined;
    }
    const meta: EntryMeta = {
      kind: "symlink",
      deleted: false,
      size: 0,
      mtimeMs: stat.mtimeMs,
      hash: "",
      executable: false,
      target,
    };
    return { stat, stable: true, meta };
  }

  #record(path: RelPath): LocalRecord {
    let rec = this.#index.get(path);
    if (!rec) {
      rec = { seq: 0 };
      this.#index.set(path, rec);
      this.#names.note(path);
    }
    return rec;
  }

  /** Files agreed with the hub and present (not tombstones). */
  #liveFiles(): number {
    return this.#liveFileCount;
  }

  /**
   * Every change of an agreed entry goes through here: the count of live files is kept as it
   * changes, because status() is read at every event and counting the index each time made
   * large syncs quadratic.
   */
  #setEntry(rec: LocalRecord, entry: EntryMeta): void {
    if (isLiveFile(rec.entry)) this.#liveFileCount--;
    rec.entry = entry;
    if (isLiveFile(entry)) this.#liveFileCount++;
  }

  #maybeReady(): void {
    if (this.#ready.settled || this.#state !== "live" || !this.#synced) return;
    if (this.#inflight > 0 || this.#applying > 0 || this.#downloads.active > 0) return;
    this.#ready.settled = true;
    const files = this.#liveFiles();
    this.#log.info("ready", { files, seq: this.#hubSeq });
    this.#events.emit("ready", { files, seq: this.#hubSeq });
    this.#ready.resolve();
  }

  /** Reads the state afresh (after an await, narrowing from before it no longer holds). */
  #closedNow(): boolean {
    return this.#state === "closed";
  }

  #emitError(error: DistSyncError): void {
    this.#log.warn(error.message, { code: error.code });
    this.#events.emit("error", error);
  }
}

function fileMeta(stat: FileStat, hash: ContentHash): EntryMeta {
  return {
    kind: "file",
    deleted: false,
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    hash,
    executable: stat.executable,
  };
}

function isLiveFile(entry: EntryMeta | undefined): boolean {
  return entry !== undefined && !entry.deleted && entry.kind === "file";
}

function tombstoneOf(entry: EntryMeta): EntryMeta {
  return { ...TOMBSTONE_FILE, kind: entry.kind, mtimeMs: entry.mtimeMs };
}

function stampOf(stat: FileStat, written = false): DiskStamp {
  const stamp: DiskStamp = {
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    executable: stat.executable,
    seenAt: Date.now(),
  };
  if (stat.ctimeMs !== undefined) stamp.ctimeMs = stat.ctimeMs;
  if (written) stamp.written = true;
  return stamp;
}

/**
 * Whether an unchanged stat proves unchanged content, as git decides it: the status change time is
 * unchanged (a program can set an mtime back, not a ctime), and the mtime is not "racy" — a later
 * write gets a later mtime unless it lands in the same timestamp granule (up to 2 s on FAT) as the
 * recorded one, which cannot happen when that mtime was already older than the granule when seen.
 */
function provesContent(stamp: DiskStamp | undefined, stat: FileStat): boolean {
  return (
    stamp?.seenAt !== undefined &&
    stamp.ctimeMs !== undefined &&
    stamp.ctimeMs === stat.ctimeMs &&
    stamp.seenAt - stat.mtimeMs > RACY_GRANULE_MS &&
    // The ctime is racy too (coarse clocks: a tick of 1-4 ms on Linux, a second on HFS+): two
    // writes in one tick share it. Bytes this client wrote itself and checked are exempt — the
    // watcher's echo of each applied file is what this shortcut is for.
    (stamp.written === true || stamp.seenAt - stat.ctimeMs > RACY_GRANULE_MS)
  );
}

function sameStat(
  a: { size: number; mtimeMs: number; executable: boolean } | undefined,
  b: { size: number; mtimeMs: number; executable: boolean } | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.executable === b.executable;
}

function opOf(entry: EntryMeta): ChangeOp {
  if (entry.deleted) return "delete";
  return entry.kind === "directory" ? "mkdir" : "write";
}

async function* walkUnder(fs: FileSystem, path: RelPath): AsyncIterable<FileStat> {
  for await (const stat of fs.walk()) if (stat.path !== path && isUnder(stat.path, path)) yield stat;
}

/** A failure caused by the connection going away (not by the file): retried on the next one. */
function isConnectionLoss(error: DistSyncError): boolean {
  return error.code === "connection" || error.code === "timeout" || error.code === "closed";
}

function asError(error: unknown): DistSyncError {
  if (DistSyncError.isInstance(error)) return error;
  return new DistSyncError("internal", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

const CODES = new Set([
  "connection",
  "protocol",
  "protocol-version",
  "auth-refused",
  "frame-too-large",
  "path-not-allowed",
  "path-conflict",
  "link-not-allowed",
  "timeout",
  "file-system",
  "content-mismatch",
  "content-too-large",
]);

function knownCode(code: string): DistSyncError["code"] {
  return (CODES.has(code) ? code : "internal") as DistSyncError["code"];
}
