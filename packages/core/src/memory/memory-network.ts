import { Emitter, type Unsubscribe } from "../emitter.js";
import { ClosedError, ConnectionError, DistSyncError, FrameTooLargeError } from "../errors.js";
import type {
  ClientTransport,
  CloseInfo,
  Connection,
  ConnectionEvents,
  HubTransport,
  HubTransportEvents,
  SendOptions,
  TransportCapabilities,
} from "../transport.js";
import type { ConnectionId } from "../types.js";

/** Options for {@link createMemoryNetwork}; every option has a default. */
export interface MemoryNetworkOptions {
  /** Largest frame `send` accepts, in bytes. Default: 4 MiB (`4 * 1024 * 1024`). */
  maxFrameBytes?: number;
  /**
   * One-way delay of every frame, in milliseconds. Default: `0`, which delivers in a microtask
   * (`queueMicrotask`); above 0 (or with jitter) frames are delivered by `setTimeout`. `connect`
   * also waits this long.
   */
  latencyMs?: number;
  /**
   * Up to this many milliseconds of random extra delay per frame. Default: `0`. Jitter reorders
   * frames across connections but never within one: a frame is due at
   * `max(due time of the previous frame in its direction, now + latencyMs + random() * jitterMs)`.
   */
  jitterMs?: number;
  /**
   * Where jitter comes from: a function returning a number in `[0, 1)`. Default: `Math.random`.
   * Pass a seeded generator (and fake timers) for a reproducible delivery order.
   */
  random?: () => number;
}

// The same map as a type alias: interfaces lack the implicit index signature `EventMap` requires.
type AsEventMap<Events> = { [E in keyof Events]: Events[E] };

const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
const HUB_ADDRESS = "memory:0";

/**
 * An in-process network with one hub and any number of clients, for tests, demos and
 * single-process setups. It implements the Transport contract fully (copies, queueing, close
 * semantics) and adds fault injection: {@link MemoryNetwork.drop} and {@link MemoryNetwork.dropAll}.
 */
export class MemoryNetwork {
  readonly #core: NetworkCore;

  constructor(options: MemoryNetworkOptions = {}) {
    this.#core = new NetworkCore(options);
  }

  /**
   * A hub transport on this network. Only one hub can listen at a time: this throws a
   * `ConnectionError` while one is listening, and `listen()` rejects if another hub got there first.
   */
  hubTransport(): HubTransport {
    if (this.#core.hub) {
      throw new ConnectionError("address in use: a hub is already listening on this memory network");
    }
    return new MemoryHubTransport(this.#core);
  }

  /** A client transport; each `connect()` opens a new connection to the listening hub. */
  clientTransport(): ClientTransport {
    return new MemoryClientTransport(this.#core);
  }

  /** Ids of the live connections, oldest first. The hub and client ends of a connection share its id. */
  get connections(): readonly ConnectionId[] {
    return [...this.#core.links.keys()];
  }

  /**
   * Breaks one connection as a network failure would: both ends get `close` with `local: false` and
   * a `ConnectionError`. Resolves once those events have fired; `false` when no live connection has
   * that id.
   */
  async drop(id: ConnectionId): Promise<boolean> {
    const link = this.#core.links.get(id);
    if (!link) return false;
    await link.fail();
    return true;
  }

  /** Breaks every live connection, as {@link MemoryNetwork.drop} does for one. The hub keeps listening. */
  async dropAll(): Promise<void> {
    await Promise.all([...this.#core.links.values()].map((link) => link.fail()));
  }
}

/** Creates a {@link MemoryNetwork}. */
export function createMemoryNetwork(options?: MemoryNetworkOptions): MemoryNetwork {
  return new MemoryNetwork(options);
}

/** Shared state behind a network, kept off `MemoryNetwork` so none of it leaks into the public API. */
class NetworkCore {
  readonly maxFrameBytes: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly random: () => number;
  readonly links = new Map<ConnectionId, MemoryLink>();
  hub: MemoryHubTransport | undefined;
  readonly #queue = new DeliveryQueue();
  #nextLink = 1;

  constructor(options: MemoryNetworkOptions) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.latencyMs = options.latencyMs ?? 0;
    this.jitterMs = options.jitterMs ?? 0;
    this.random = options.random ?? Math.random;
    if (!Number.isSafeInteger(this.maxFrameBytes) || this.maxFrameBytes < 1) {
      throw new RangeError(`maxFrameBytes must be a positive integer, got ${this.maxFrameBytes}`);
    }
    for (const [name, value] of [
      ["latencyMs", this.latencyMs],
      ["jitterMs", this.jitterMs],
    ] as const) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be ≥ 0, got ${value}`);
    }
  }

  get capabilities(): TransportCapabilities {
    return { maxFrameBytes: this.maxFrameBytes };
  }

  claimHub(hub: MemoryHubTransport): void {
    if (this.hub && this.hub !== hub) {
      throw new ConnectionError("address in use: another hub is listening on this memory network");
    }
    this.hub = hub;
  }

  releaseHub(hub: MemoryHubTransport): void {
    if (this.hub === hub) this.hub = undefined;
  }

  /** Waits as long as a connection handshake takes on this network. */
  handshake(): Promise<void> {
    return new Promise((resolve) => {
      if (this.latencyMs > 0) setTimeout(resolve, this.latencyMs);
      else queueMicrotask(resolve);
    });
  }

  open(owner: MemoryClientTransport): MemoryLink {
    const hub = this.hub;
    if (!hub) throw new ConnectionError("connection refused: no hub is listening on this memory network");
    const n = this.#nextLink++;
    const link = new MemoryLink(this, n, hub, owner);
    this.links.set(link.id, link);
    hub.accept(link);
    return link;
  }

  transmit(link: MemoryLink, from: MemoryConnection, to: MemoryConnection, frame: Uint8Array): void {
    if (this.latencyMs === 0 && this.jitterMs === 0) {
      // Microtasks run in order, so this alone keeps every connection in send order.
      queueMicrotask(() => to.receive(frame));
      return;
    }
    const jitter = this.jitterMs > 0 ? this.random() * this.jitterMs : 0;
    const at = Math.max(from.lastDueAt, now() + this.latencyMs + jitter);
    from.lastDueAt = at;
    this.#queue.add(at, link, () => to.receive(frame));
  }

  forget(link: MemoryLink): void {
    this.links.delete(link.id);
    this.#queue.purge(link);
  }
}

interface Pending {
  readonly at: number;
  readonly link: MemoryLink;
  readonly deliver: () => void;
}

/**
 * Frames in flight on the whole network, ordered by due time and then by send order, behind a
 * single timer. One queue rather than a timer per frame: timers with equal or close deadlines do
 * not fire in a guaranteed order, and a seeded run must deliver the same way every time.
 */
class DeliveryQueue {
  readonly #items: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;

  add(at: number, link: MemoryLink, deliver: () => void): void {
    // Insert after every item due at or before `at`, so equal due times keep send order.
    let low = 0;
    let high = this.#items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#items[mid]!.at <= at) low = mid + 1;
      else high = mid;
    }
    this.#items.splice(low, 0, { at, link, deliver });
    this.#arm();
  }

  purge(link: MemoryLink): void {
    const kept = this.#items.filter((item) => item.link !== link);
    this.#items.splice(0, this.#items.length, ...kept);
    this.#arm();
  }

  #arm(): void {
    const head = this.#items[0];
    if (this.#timer !== undefined) {
      if (head !== undefined && this.#timerAt <= head.at) return;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (head === undefined) return;
    this.#timerAt = head.at;
    this.#timer = setTimeout(this.#fire, Math.max(0, head.at - now()));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    // A timer can fire a little before the clock reads its deadline; what it was set for is due.
    const due = Math.max(now(), this.#timerAt);
    for (let head = this.#items[0]; head !== undefined && head.at <= due; head = this.#items[0]) {
      this.#items.shift();
      head.deliver();
    }
    this.#arm();
  };
}

/** Both ends of one connection, and the single place where it closes. */
class MemoryLink {
  readonly id: ConnectionId;
  readonly hubEnd: MemoryConnection;
  readonly clientEnd: MemoryConnection;
  readonly #core: NetworkCore;
  readonly #hub: MemoryHubTransport;
  readonly #owner: MemoryClientTransport;
  #closing: Promise<void> | undefined;

  constructor(core: NetworkCore, n: number, hub: MemoryHubTransport, owner: MemoryClientTransport) {
    this.id = `memory-${n}` as ConnectionId;
    this.#core = core;
    this.#hub = hub;
    this.#owner = owner;
    this.hubEnd = new MemoryConnection(this, `memory:${n}`, core.maxFrameBytes);
    this.clientEnd = new MemoryConnection(this, HUB_ADDRESS, core.maxFrameBytes);
  }

  transmit(from: MemoryConnection, frame: Uint8Array): void {
    const to = from === this.hubEnd ? this.clientEnd : this.hubEnd;
    this.#core.transmit(this, from, to, frame);
  }

  /** A network failure: neither side closed it. */
  fail(): Promise<void> {
    return this.close(
      undefined,
      "connection dropped",
      new ConnectionError(`connection ${this.id} dropped by the memory network`),
    );
  }

  /**
   * Closes both ends at once and drops every frame in flight either way, then emits the events a
   * microtask later, so listeners never run inside the caller's `close()` or `send()`.
   */
  close(closer: MemoryConnection | undefined, reason: string, error?: DistSyncError): Promise<void> {
    if (this.#closing) return this.#closing;
    this.hubEnd.markClosed();
    this.clientEnd.markClosed();
    this.#core.forget(this);
    this.#hub.forget(this);
    this.#owner.forget(this);
    const infoFor = (end: MemoryConnection): CloseInfo =>
      error === undefined ? { reason, local: end === closer } : { reason, error, local: end === closer };
    this.#closing = new Promise((resolve) => {
      queueMicrotask(() => {
        const hubInfo = infoFor(this.hubEnd);
        this.clientEnd.emitClose(infoFor(this.clientEnd));
        this.hubEnd.emitClose(hubInfo);
        this.#hub.disconnected(this.hubEnd, hubInfo);
        resolve();
      });
    });
    return this.#closing;
  }
}

/** One end of a {@link MemoryLink}. */
class MemoryConnection implements Connection {
  readonly id: ConnectionId;
  readonly remoteAddress: string;
  readonly maxFrameBytes: number;
  /** When this end's latest frame is due at the peer; keeps this direction in send order under jitter. */
  lastDueAt = 0;
  readonly #link: MemoryLink;
  readonly #events = new Emitter<AsEventMap<ConnectionEvents>>(rethrowLater);
  readonly #inbox: Uint8Array[] = [];
  #flushQueued = false;
  #closed = false;

  constructor(link: MemoryLink, remoteAddress: string, maxFrameBytes: number) {
    this.id = link.id;
    this.#link = link;
    this.remoteAddress = remoteAddress;
    this.maxFrameBytes = maxFrameBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async send(frame: Uint8Array, options?: SendOptions): Promise<void> {
    if (options?.signal?.aborted) throw abortError(options.signal, "send aborted");
    if (this.#closed) throw new ClosedError(`connection ${this.id} is closed`);
    if (frame.byteLength > this.maxFrameBytes) {
      throw new FrameTooLargeError(frame.byteLength, this.maxFrameBytes);
    }
    // Copy now, before the first await: the caller may reuse its buffer as soon as send returns, and
    // a view must arrive as just its own bytes. `new Uint8Array(view)` also turns a Buffer into a
    // plain Uint8Array (Buffer#slice would share memory).
    this.#link.transmit(this, new Uint8Array(frame));
  }

  close(reason = "closed"): Promise<void> {
    return this.#link.close(this, reason);
  }

  on<E extends keyof ConnectionEvents>(event: E, listener: ConnectionEvents[E]): Unsubscribe {
    const unsubscribe = this.#events.on(event, listener);
    if (event === "message") this.#scheduleFlush();
    return unsubscribe;
  }

  /**
   * A frame arrived. It waits in the inbox while nobody listens (the contract queues frames for the
   * first listener; here for any later one too, after all listeners left), and behind frames
   * already waiting, so order holds.
   */
  receive(frame: Uint8Array): void {
    if (this.#closed) return;
    if (this.#inbox.length > 0 || this.#events.listenerCount("message") === 0) {
      this.#inbox.push(frame);
      this.#scheduleFlush();
      return;
    }
    this.#events.emit("message", frame);
  }

  markClosed(): void {
    this.#closed = true;
    this.#inbox.length = 0;
  }

  emitClose(info: CloseInfo): void {
    this.#events.emit("close", info);
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#inbox.length === 0 || this.#events.listenerCount("message") === 0) return;
    this.#flushQueued = true;
    // Not inside `on()`: the caller has not even received its unsubscribe function yet.
    queueMicrotask(() => {
      this.#flushQueued = false;
      while (!this.#closed && this.#inbox.length > 0 && this.#events.listenerCount("message") > 0) {
        this.#events.emit("message", this.#inbox.shift()!);
      }
    });
  }
}

class MemoryHubTransport implements HubTransport {
  readonly capabilities: TransportCapabilities;
  readonly #core: NetworkCore;
  readonly #events = new Emitter<AsEventMap<HubTransportEvents>>(rethrowLater);
  readonly #links = new Set<MemoryLink>();
  #state: "idle" | "listening" | "closed" = "idle";
  #closing: Promise<void> | undefined;

  constructor(core: NetworkCore) {
    this.#core = core;
    this.capabilities = core.capabilities;
  }

  async listen(options?: { signal?: AbortSignal }): Promise<void> {
    if (options?.signal?.aborted) throw abortError(options.signal, "listen aborted");
    if (this.#state === "closed") throw new ClosedError("hub transport is closed");
    if (this.#state === "listening") return;
    this.#core.claimHub(this);
    this.#state = "listening";
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  on<E extends keyof HubTransportEvents>(event: E, listener: HubTransportEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  accept(link: MemoryLink): void {
    this.#links.add(link);
    this.#events.emit("peer-connected", link.hubEnd);
  }

  forget(link: MemoryLink): void {
    this.#links.delete(link);
  }

  /** Fires for every connection that ends, whoever closed it; `info.local` says whether the hub did. */
  disconnected(connection: MemoryConnection, info: CloseInfo): void {
    this.#events.emit("peer-disconnected", connection, info);
  }

  async #shutdown(): Promise<void> {
    this.#state = "closed";
    this.#core.releaseHub(this);
    await Promise.all([...this.#links].map((link) => link.close(link.hubEnd, "hub transport closed")));
  }
}

class MemoryClientTransport implements ClientTransport {
  readonly capabilities: TransportCapabilities;
  readonly #core: NetworkCore;
  readonly #links = new Set<MemoryLink>();
  #closing: Promise<void> | undefined;

  constructor(core: NetworkCore) {
    this.#core = core;
    this.capabilities = core.capabilities;
  }

  async connect(options?: { signal?: AbortSignal }): Promise<Connection> {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal, "connect aborted");
    if (this.#closing) throw new ClosedError("client transport is closed");
    await this.#core.handshake();
    if (signal?.aborted) throw abortError(signal, "connect aborted");
    if (this.#closing) throw new ClosedError("client transport is closed");
    const link = this.#core.open(this);
    // A peer-connected listener may already have closed it; then there is nothing left to track.
    if (!link.clientEnd.closed) this.#links.add(link);
    return link.clientEnd;
  }

  /** Closes every connection this transport opened; later `connect` calls reject with `ClosedError`. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(
      [...this.#links].map((link) => link.close(link.clientEnd, "client transport closed")),
    ).then(() => {});
    return this.#closing;
  }

  forget(link: MemoryLink): void {
    this.#links.delete(link);
  }
}

function now(): number {
  return performance.now();
}

function abortError(signal: AbortSignal, message: string): DistSyncError {
  return new DistSyncError("aborted", message, { cause: signal.reason });
}

/** A throwing listener is a bug in the caller: surface it as an uncaught error, and keep delivering. */
function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
