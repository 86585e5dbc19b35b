import { constantTimeEqual } from "../content/hash.js";
import { Emitter, type Unsubscribe } from "../emitter.js";
import { ConnectionError, DistSyncError } from "../errors.js";
import { type Logger, noopLogger } from "../logger.js";
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_SPACE,
  DEFAULT_TIMEOUT_MS,
  MIN_FRAME_BYTES,
} from "../protocol/constants.js";
import type { HelloMessage, Proposal } from "../protocol/messages.js";
import type { ContentStore } from "../store/content-store.js";
import type { HubJournal } from "../store/hub-journal.js";
import { InlineCache } from "../store/inline-cache.js";
import { MemoryContentStore } from "../store/memory-content-store.js";
import type { Connection, HubTransport } from "../transport.js";
import type { ClientId, IndexEntry } from "../types.js";
import { HubSession, type SessionHost } from "./hub-session.js";
import { HubSpace, type SpaceOutcome, toDelivery } from "./hub-space.js";

export interface HeartbeatOptions {
  /** How often each side sends a ping. Default 1000 ms. */
  intervalMs?: number;
  /** Silence after which a peer counts as dead. Default 5000 ms. */
  timeoutMs?: number;
}

export interface HubOptions {
  transport: HubTransport;
  /** Where content is kept. Default: in memory (lost when the hub stops). */
  store?: ContentStore;
  /**
   * Where the index is recorded so a restart loses no acknowledged change (see `openHubStateDir`
   * in `@distsync/core/node`). Default: none — the index lives in memory and a new hub starts empty.
   */
  journal?: HubJournal;
  /**
   * How long a deletion is remembered, in ms. A client offline for longer may bring a deleted file
   * back when it returns. Default 30 days.
   */
  tombstoneRetentionMs?: number;
  /**
   * An mtime further ahead of the hub's clock than this is recorded as the hub's current time (a
   * client with a clock in the future would otherwise win every later clash). Default 5 minutes.
   */
  maxFutureMs?: number;
  /** When set, clients must present this token. Default: none (anyone who can connect may join). */
  token?: string;
  /** Default: no logging. */
  logger?: Logger;
  heartbeat?: HeartbeatOptions;
  /** Largest file accepted, in bytes. Default 64 GiB. */
  maxFileBytes?: number;
  /**
   * Bytes a client's send queue may hold; a client that falls further behind is disconnected (it
   * resyncs when it joins again), so a slow client cannot grow the hub's memory. Default 64 MiB.
   */
  maxQueueBytes?: number;
  /**
   * Connections the hub holds at once, joined or not. One more is answered with a fatal
   * `too-many-connections` error and closed, so a flood of connections cannot exhaust the hub;
   * the clients already connected keep being served. Default 1000.
   */
  maxConnections?: number;
}

export interface ClientInfo {
  space: string;
  clientId: ClientId;
  name: string | undefined;
  address: string | undefined;
  connectedAt: number;
  lastSeen: number;
  /** The hub sequence number the client reports having applied everything up to. */
  applied: number;
  /** Bytes queued for the client and not yet taken by the transport. */
  queuedBytes: number;
}

export interface HubConflict {
  space: string;
  path: string;
  winner: { origin: ClientId; mtimeMs: number; hash: string };
  loser: { origin: ClientId; mtimeMs: number; hash: string };
}

export interface HubEvents {
  "client-joined": (client: ClientInfo) => void;
  "client-left": (client: ClientInfo, reason: string) => void;
  /** A version was committed (and relayed to every other client of its space). */
  change: (space: string, entry: IndexEntry) => void;
  conflict: (conflict: HubConflict) => void;
  error: (error: DistSyncError) => void;
}

export interface HubStatus {
  spaces: { name: string; seq: number; files: number; bytes: number; clients: ClientInfo[] }[];
}

export interface Hub {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): HubStatus;
  /** A copy of a space's index (tombstones included), in no particular order. */
  entries(space?: string): IndexEntry[];
  on<E extends keyof HubEvents>(event: E, listener: HubEvents[E]): Unsubscribe;
}

/** Creates a hub: it accepts clients on `transport` and relays every accepted change (rules 3–4). */
export function createHub(options: HubOptions): Hub {
  return new HubEngine(options);
}

class HubEngine implements Hub, SessionHost {
  readonly store: ContentStore;
  readonly logger: Logger;
  readonly heartbeatMs: number;
  readonly timeoutMs: number;
  readonly maxFileBytes: number;
  readonly maxQueueBytes: number;
  readonly maxFutureMs: number;
  epoch = randomId();
  readonly inline = new InlineCache();
  readonly #transport: HubTransport;
  readonly #journal: HubJournal | undefined;
  readonly #tombstoneRetentionMs: number;
  #lastPrune = 0;
  #lastTick = 0;
  #journalFailed = false;
  readonly #token: string | undefined;
  readonly #events: Emitter<HubEvents>;
  readonly #spaces = new Map<string, HubSpace>();
  readonly #sessions = new Set<HubSession>();
  readonly #maxConnections: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: Unsubscribe[] = [];
  #started = false;

  constructor(options: HubOptions) {
    this.#transport = options.transport;
    this.store = options.store ?? new MemoryContentStore();
    this.#journal = options.journal;
    this.maxFutureMs = options.maxFutureMs ?? 5 * 60_000;
    this.#tombstoneRetentionMs = options.tombstoneRetentionMs ?? 30 * 24 * 3600 * 1000;
    this.#token = options.token;
    this.logger = (options.logger ?? noopLogger).child("distsync:hub");
    this.heartbeatMs = options.heartbeat?.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.timeoutMs = options.heartbeat?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 ** 3;
    this.#maxConnections = options.maxConnections ?? 1000;
    this.maxQueueBytes = options.maxQueueBytes ?? 64 * 1024 ** 2;
    this.#events = new Emitter((error) => this.logger.error("hub listener threw", { error }));
  }

  on<E extends keyof HubEvents>(event: E, listener: HubEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    if (this.#transport.capabilities.maxFrameBytes < MIN_FRAME_BYTES) {
      throw new ConnectionError(
        `the transport carries frames of at most ${this.#transport.capabilities.maxFrameBytes} bytes; DistSync needs ${MIN_FRAME_BYTES}`,
      );
    }
    if (this.#journal) await this.#restore(this.#journal);
    this.#unsubscribe.push(
      this.#transport.on("peer-connected", (connection) => this.#accept(connection)),
      this.#transport.on("error", (error) => this.#events.emit("error", error)),
    );
    await this.#transport.listen();
    this.#timer = setInterval(() => this.#tick(), this.heartbeatMs);
    this.logger.info("hub started", { heartbeatMs: this.heartbeatMs, timeoutMs: this.timeoutMs });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    await Promise.all([...this.#sessions].map((s) => s.close("hub stopping")));
    await this.#transport.close();
    await this.#journal?.flush().catch(() => {});
  }

  /**
   * Resolves once every version committed so far is durable. Sessions await it before each frame,
   * so no client ever hears of a version a crash could take back.
   */
  durable(): Promise<void> | undefined {
    if (!this.#journal) return undefined;
    return this.#journal.flush().catch((error: unknown) => {
      if (!this.#journalFailed) {
        this.#journalFailed = true;
        const failure = new DistSyncError("state-write-failed", (error as Error).message, { cause: error });
        this.logger.error("cannot record the index; disconnecting every client", { error: failure });
        this.#events.emit("error", failure);
        for (const session of this.#sessions) void session.close(failure.message, true);
      }
      throw error;
    });
  }

  async #restore(journal: HubJournal): Promise<void> {
    const snapshot = await journal.load();
    if (snapshot.epoch) this.epoch = snapshot.epoch;
    else journal.setEpoch(this.epoch);
    for (const { name, seq, entries } of snapshot.spaces) {
      const space = new HubSpace(name, journal);
      space.restore(seq, entries);
      this.#spaces.set(name, space);
    }
    this.#pruneTombstones();
    await journal.flush();
    // Content no live version needs (old versions, tombstoned files) is dropped now, while no
    // upload can be in flight.
    if (this.store.collectGarbage) {
      const keep = new Set<string>();
      for (const space of this.#spaces.values())
        for (const e of space.index.values()) if (!e.deleted && e.kind === "file") keep.add(e.hash);
      const removed = await this.store.collectGarbage(keep);
      this.logger.info("state restored", {
        spaces: snapshot.spaces.length,
        entries: snapshot.spaces.reduce((n, s) => n + s.entries.length, 0),
        removedChunks: removed.chunks,
      });
    }
  }

  #pruneTombstones(): void {
    this.#lastPrune = Date.now();
    const before = this.#lastPrune - this.#tombstoneRetentionMs;
    for (const space of this.#spaces.values()) {
      const forgotten = space.forgetTombstones(before);
      if (forgotten > 0) this.logger.info("forgot old deletions", { space: space.name, forgotten });
    }
  }

  status(): HubStatus {
    return {
      spaces: [...this.#spaces.values()].map((space) => {
        let files = 0;
        let bytes = 0;
        for (const e of space.index.values()) {
          if (e.deleted || e.kind !== "file") continue;
          files++;
          bytes += e.size;
        }
        const clients = [...this.#sessions].filter((s) => s.space === space && s.live).map((s) => info(s));
        return { name: space.name, seq: space.seq, files, bytes, clients };
      }),
    };
  }

  entries(space = DEFAULT_SPACE): IndexEntry[] {
    return [...(this.#spaces.get(space)?.index.values() ?? [])].map((e) => ({ ...e }));
  }

  async authorize(token: string | undefined): Promise<boolean> {
    if (this.#token === undefined) return true;
    return constantTimeEqual(token ?? "", this.#token);
  }

  join(session: HubSession, hello: HelloMessage): HubSpace | undefined {
    const name = hello.space || DEFAULT_SPACE;
    for (const other of this.#sessions) {
      if (other === session || other.clientId !== hello.clientId || other.space?.name !== name) continue;
      // Only the same client process (same key) may take over its own connection.
      if (other.live && other.key !== hello.key) return undefined;
    }
    let space = this.#spaces.get(name);
    if (!space) {
      space = new HubSpace(name, this.#journal);
      this.#spaces.set(name, space);
    }
    // A client that reconnects before its old connection timed out replaces it (same key).
    for (const other of this.#sessions) {
      if (other !== session && other.space === space && other.clientId === hello.clientId) {
        void other.close("replaced by a new connection of the same client");
      }
    }
    this.logger.info("client joined", { space: name, client: hello.clientId, name: hello.name });
    queueMicrotask(() => this.#events.emit("client-joined", info(session, name)));
    return space;
  }

  fanout(space: HubSpace, committed: IndexEntry[], origin: HubSession, loser?: ClientId): void {
    for (const entry of committed) this.#events.emit("change", space.name, entry);
    const last = committed[committed.length - 1];
    for (const session of this.#sessions) {
      if (session === origin || session.space !== space || !session.live) continue;
      // The client whose version was just overruled learns that it lost (rule 5).
      const cause = (e: IndexEntry) =>
        e === last && loser !== undefined && session.clientId === loser ? "overruled" : "change";
      session.deliver(committed.map((e) => toDelivery(e, cause(e))));
    }
  }

  report(space: HubSpace, outcome: SpaceOutcome, proposal: Proposal, origin: HubSession): void {
    if (!outcome.conflict) return;
    const { winner, loser } = outcome.conflict;
    this.logger.info("conflict", {
      space: space.name,
      path: proposal.path,
      winner: winner.origin,
      loser: loser.origin,
    });
    this.#events.emit("conflict", {
      space: space.name,
      path: proposal.path,
      winner: { origin: winner.origin, mtimeMs: winner.mtimeMs, hash: winner.hash },
      loser: { ...loser, origin: loser.origin ?? (origin.clientId as ClientId) },
    });
  }

  appliedChanged(session: HubSession): void {
    if (session.space) this.#sendDelivered(session.space);
  }

  /** Every other live client of `space` has applied up to the result (the space's seq if none). */
  #deliveredFor(session: HubSession, space: HubSpace): number {
    let low = space.seq;
    for (const other of this.#sessions) {
      if (other !== session && other.space === space && other.live) low = Math.min(low, other.applied);
    }
    return low;
  }

  /** Tells each client of `space` whose `delivered` value moved (so `distsync wait` returns promptly). */
  #sendDelivered(space: HubSpace): void {
    for (const session of this.#sessions) {
      if (session.space !== space || !session.live) continue;
      const delivered = this.#deliveredFor(session, space);
      if (delivered === session.deliveredSent) continue;
      session.deliveredSent = delivered;
      void session.send({ type: "ping", time: Date.now(), delivered }).catch(() => {});
    }
  }

  leave(session: HubSession, reason: string): void {
    if (!this.#sessions.delete(session)) return;
    if (session.space) this.#sendDelivered(session.space);
    if (session.clientId !== undefined && session.space) {
      this.logger.info("client left", { client: session.clientId, reason });
      this.#events.emit("client-left", info(session), reason);
    }
  }

  #accept(connection: Connection): void {
    const session = new HubSession(connection, this);
    if (this.#sessions.size >= this.#maxConnections) {
      // Full: the oldest connection that has still not said hello makes room (an honest client
      // says it at once), so idle connections cannot keep every client out for the timeout.
      const idle = [...this.#sessions].find((s) => s.awaitingHello);
      if (idle !== undefined) {
        this.#sessions.delete(idle);
        void idle.refuse(
          new DistSyncError(
            "too-many-connections",
            "the hub is full: a connection that has not said hello makes room",
          ),
        );
      }
    }
    if (this.#sessions.size >= this.#maxConnections) {
      this.logger.warn("connection refused: too many connections", { limit: this.#maxConnections });
      void session.refuse(
        new DistSyncError(
          "too-many-connections",
          `the hub already holds its limit of ${this.#maxConnections} connections; try again later`,
        ),
      );
      return;
    }
    this.#sessions.add(session);
    connection.on("close", (closeInfo) => session.closedByTransport(closeInfo.reason));
  }

  #tick(): void {
    const now = Date.now();
    // A stall of the hub's own event loop is not the clients' silence: forgive it (see the client).
    if (this.#lastTick > 0 && now - this.#lastTick > this.heartbeatMs * 3) {
      for (const session of this.#sessions)
        session.lastSeen = Math.max(session.lastSeen, now - this.heartbeatMs);
    }
    this.#lastTick = now;
    if (now - this.#lastPrune > Math.min(3600_000, this.#tombstoneRetentionMs)) this.#pruneTombstones();
    for (const session of this.#sessions) {
      if (now - session.lastSeen > this.timeoutMs) {
        this.logger.warn("client silent past the heartbeat timeout", { client: session.clientId });
        void session.close("heartbeat timeout", true);
        continue;
      }
      if (!session.live || !session.space) continue;
      const delivered = this.#deliveredFor(session, session.space);
      session.deliveredSent = delivered;
      void session.send({ type: "ping", time: now, delivered }).catch(() => {});
    }
  }
}

function info(session: HubSession, spaceName?: string): ClientInfo {
  return {
    space: spaceName ?? session.space?.name ?? DEFAULT_SPACE,
    clientId: session.clientId as ClientId,
    name: session.name,
    address: session.connection.remoteAddress,
    connectedAt: session.connectedAt,
    lastSeen: session.lastSeen,
    applied: session.applied,
    queuedBytes: session.queuedBytes,
  };
}

export function randomId(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
