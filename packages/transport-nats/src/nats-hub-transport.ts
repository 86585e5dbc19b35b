import type {
  ConnectionId,
  HubTransport,
  HubTransportEvents,
  TransportCapabilities,
  Unsubscribe,
} from "@distsync/core";
import { ClosedError, ConnectionError, DistSyncError, Emitter } from "@distsync/core";
import { type Msg, type NatsConnection, nuid, type Status, type Subscription } from "@nats-io/transport-node";
import { NatsTransportConnection, rethrowLater } from "./nats-connection.js";
import {
  abortError,
  DEFAULT_MAX_PAYLOAD,
  flushAndClose,
  isAborted,
  isTimedOut,
  maxFrameBytesOf,
  type NatsTransportOptions,
  Outflow,
  openNatsConnection,
  type ResolvedOptions,
  resolveOptions,
  settleWithin,
} from "./nats-link.js";
import {
  type ConnectReply,
  decodeJson,
  encodeJson,
  isPlainSubject,
  isPositiveInteger,
  PREFIX_BYTES,
  WIRE_VERSION,
} from "./wire.js";

/** Options for {@link createNatsHubTransport}: see {@link NatsTransportOptions}. */
export type NatsHubTransportOptions = NatsTransportOptions;

/** A {@link HubTransport} over NATS. */
export interface NatsHubTransport extends HubTransport {
  /** The NATS server URL(s) clients connect to, credentials replaced by `***` (comma-separated). */
  readonly url: string;
  /** The subject prefix this hub listens under. */
  readonly subjectPrefix: string;
  /**
   * Resolves with a `ConnectionError` if the NATS connection closes for good while the hub listens
   * (not after `close()`). A lost server alone does not: the hub reconnects to it, or to another
   * server of the cluster, for ever.
   */
  readonly lost: Promise<ConnectionError>;
}

// The same map as a type alias: interfaces lack the implicit index signature `EventMap` requires.
type AsEventMap<Events> = { [E in keyof Events]: Events[E] };

/** How long a starting hub waits for another hub on its prefix to answer. */
const PROBE_TIMEOUT_MS = 1000;

/**
 * Creates the hub side of the NATS transport; call `listen()` to connect to NATS and start
 * accepting clients on `<subjectPrefix>.hub.connect`. Throws a `ConnectionError` at once for a
 * malformed or missing URL.
 */
export function createNatsHubTransport(options: NatsHubTransportOptions): NatsHubTransport {
  return new NatsHubTransportImpl(options);
}

class NatsHubTransportImpl implements NatsHubTransport {
  readonly #options: ResolvedOptions;
  readonly #events = new Emitter<AsEventMap<HubTransportEvents>>(rethrowLater);
  /** The hub's side of each connection, by the last token of its subject. */
  readonly #connections = new Map<string, NatsTransportConnection>();
  readonly #subscriptions: Subscription[] = [];
  readonly lost: Promise<ConnectionError>;
  #resolveLost: (error: ConnectionError) => void = () => {};
  #nc: NatsConnection | undefined;
  #outflow: Outflow | undefined;
  #maxFrameBytes = DEFAULT_MAX_PAYLOAD - PREFIX_BYTES;
  #address: string | undefined;
  #state: "idle" | "listening" | "closed" = "idle";
  #listening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: NatsHubTransportOptions) {
    this.#options = resolveOptions(options, "distsync-hub");
    this.lost = new Promise((resolve) => {
      this.#resolveLost = resolve;
    });
  }

  /** Until `listen()` has connected, NATS' default `max_payload` minus the 8-byte prefix; then the server's. */
  get capabilities(): TransportCapabilities {
    return { maxFrameBytes: this.#maxFrameBytes };
  }

  get url(): string {
    return this.#options.display;
  }

  get subjectPrefix(): string {
    return this.#options.subjects.prefix;
  }

  listen(options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal, "listen aborted"));
    if (this.#state === "closed") return Promise.reject(new ClosedError("hub transport is closed"));
    this.#listening ??= this.#open(signal).catch((error: unknown) => {
      this.#listening = undefined;
      throw error;
    });
    return this.#listening;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  on<E extends keyof HubTransportEvents>(event: E, listener: HubTransportEvents[E]): Unsubscribe {
    return this.#events.on(event, listener);
  }

  async #open(signal: AbortSignal | undefined): Promise<void> {
    const { subjects, logger, display } = this.#options;
    const nc = await openNatsConnection(this.#options, { reconnect: true, signal });
    try {
      if (this.#isClosed()) throw new ClosedError("hub transport was closed while it connected");
      await this.#refuseIfAnotherHub(nc, signal);
      this.#nc = nc;
      this.#outflow = new Outflow(nc, this.#options.highWaterMark);
      this.#maxFrameBytes = maxFrameBytesOf(nc);
      this.#address = nc.info?.client_ip;
      this.#subscriptions.push(
        nc.subscribe(subjects.connect, { callback: (error, msg) => this.#onConnectRequest(error, msg) }),
        nc.subscribe(subjects.hubFramesWildcard, { callback: (error, msg) => this.#onFrame(error, msg) }),
      );
      // Clients may connect as soon as `listen()` resolves: the server must have the subscriptions.
      await settleWithin(nc.flush(), this.#options.connectTimeoutMs, signal);
    } catch (error) {
      this.#nc = undefined;
      this.#subscriptions.length = 0;
      await nc.close().catch(() => {});
      if (isAborted(error)) throw abortError(signal, "listen aborted");
      if (DistSyncError.isInstance(error)) throw error;
      const why = isTimedOut(error)
        ? `the NATS server did not confirm the subscriptions within ${this.#options.connectTimeoutMs} ms`
        : error instanceof Error
          ? error.message
          : String(error);
      throw new ConnectionError(`cannot listen on ${subjects.connect} at ${display}: ${why}`, {
        cause: error,
      });
    }
    if (this.#isClosed()) {
      await nc.close().catch(() => {});
      throw new ClosedError("hub transport was closed while it started listening");
    }
    this.#state = "listening";
    void this.#watch(nc);
    logger.info("listening", { url: display, subject: subjects.connect, maxFrameBytes: this.#maxFrameBytes });
  }

  /** A method, so that TypeScript does not keep a narrowing of `#state` across awaits. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  /** Two hubs on one prefix would both answer every client: refuse to start the second. */
  async #refuseIfAnotherHub(nc: NatsConnection, signal: AbortSignal | undefined): Promise<void> {
    const { subjects, display, logger } = this.#options;
    let reply: Msg;
    try {
      reply = await settleWithin(
        nc.request(subjects.connect, encodeJson({ v: WIRE_VERSION, probe: true }), {
          timeout: PROBE_TIMEOUT_MS,
        }),
        PROBE_TIMEOUT_MS + 500,
        signal,
      );
    } catch (error) {
      if (isAborted(error)) throw error;
      // No responders (the usual answer) or no answer in time: nobody else listens.
      logger.debug("no other hub on this prefix", { subject: subjects.connect });
      return;
    }
    const answer = decodeJson(reply.data);
    throw new ConnectionError(
      answer?.hub === true
        ? `another DistSync hub already listens on ${subjects.connect} at ${display}: stop it, or use another subject prefix`
        : `something else answers on ${subjects.connect} at ${display}: use another subject prefix`,
    );
  }

  /** Follows the NATS connection: a lost server closes every connection; a closed one ends the hub. */
  async #watch(nc: NatsConnection): Promise<void> {
    const { logger, display } = this.#options;
    const closed = nc.closed().then((error) => {
      if (this.#state !== "listening") return;
      const lost = new ConnectionError(
        `the connection to the NATS server at ${display} closed${error ? `: ${error.message}` : ""}; the hub no longer accepts clients`,
        error ? { cause: error } : undefined,
      );
      logger.error("NATS connection closed", { error: lost.message });
      this.#failAll(lost);
      this.#events.emit("error", lost);
      this.#resolveLost(lost);
    });
    try {
      for await (const status of nc.status()) this.#onStatus(status);
    } catch {
      // The iterator ends with the connection.
    }
    await closed;
  }

  #onStatus(status: Status): void {
    const { logger, display } = this.#options;
    switch (status.type) {
      case "disconnect": {
        if (this.#state !== "listening") return;
        const error = new ConnectionError(`lost the NATS server ${status.server} (${display}); reconnecting`);
        logger.warn("NATS server lost: closing every connection", { server: status.server });
        this.#failAll(error);
        this.#events.emit("error", error);
        return;
      }
      case "reconnect":
        logger.info("reconnected to NATS: accepting clients again", { server: status.server });
        return;
      case "error":
        logger.warn("NATS reported an error", { error: status.error.message });
        return;
      case "slowConsumer":
        logger.warn("NATS: this hub is a slow consumer", { pending: status.pending });
        return;
      default:
        return;
    }
  }

  #failAll(error: ConnectionError): void {
    for (const connection of [...this.#connections.values()]) connection.fail(error);
  }

  #onConnectRequest(error: Error | null, msg: Msg): void {
    const { subjects, logger } = this.#options;
    if (error) {
      logger.warn("the connect subscription failed", { error: error.message });
      return;
    }
    const respond = (reply: ConnectReply): void => {
      try {
        msg.respond(encodeJson(reply));
      } catch (respondError) {
        logger.warn("cannot answer a connect request", { error: (respondError as Error).message });
      }
    };
    const request = decodeJson(msg.data);
    if (request?.probe === true) {
      respond({ v: WIRE_VERSION, hub: true });
      return;
    }
    const nc = this.#nc;
    const outflow = this.#outflow;
    if (this.#state !== "listening" || nc === undefined || outflow === undefined) {
      respond({ v: WIRE_VERSION, error: "the hub is shutting down" });
      return;
    }
    const inbox = request?.inbox;
    if (request === undefined || !isPlainSubject(inbox) || !inbox.startsWith(subjects.clientInbox(""))) {
      logger.warn("refused a malformed connect request", { bytes: msg.data.byteLength });
      respond({
        v: WIRE_VERSION,
        error: `malformed connect request: expected an inbox under ${subjects.clientInbox("")}`,
      });
      return;
    }
    const connId = nuid.next();
    const theirs = request.maxFrameBytes;
    const maxFrameBytes = isPositiveInteger(theirs)
      ? Math.min(theirs, this.#maxFrameBytes)
      : this.#maxFrameBytes;
    const connection = new NatsTransportConnection({
      id: `nats-${connId}` as ConnectionId,
      remoteAddress: typeof request.address === "string" ? request.address : undefined,
      maxFrameBytes,
      sendSubject: inbox,
      receiveSubject: subjects.hubFrames(connId),
      outflow,
      logger,
      onClose: (closed, info) => {
        this.#connections.delete(connId);
        this.#events.emit("peer-disconnected", closed, info);
      },
    });
    this.#connections.set(connId, connection);
    // The reply goes out before anything the `peer-connected` listeners send.
    respond({
      v: WIRE_VERSION,
      subject: connection.receiveSubject,
      connId,
      maxFrameBytes: this.#maxFrameBytes,
      ...(this.#address === undefined ? {} : { address: this.#address }),
    });
    logger.debug("connection accepted", { id: connection.id, remoteAddress: connection.remoteAddress });
    this.#events.emit("peer-connected", connection);
  }

  #onFrame(error: Error | null, msg: Msg): void {
    if (error) {
      const failure = new ConnectionError(`the hub's frame subscription failed: ${error.message}`, {
        cause: error,
      });
      this.#options.logger.error("frame subscription failed", { error: error.message });
      this.#failAll(failure);
      this.#events.emit("error", failure);
      return;
    }
    const connId = this.#options.subjects.connIdOf(msg.subject);
    const connection = connId === undefined ? undefined : this.#connections.get(connId);
    // A frame for a connection closed meanwhile (or never opened) has nowhere to go.
    connection?.receive(msg.data);
  }

  async #shutdown(): Promise<void> {
    this.#state = "closed";
    await this.#listening?.catch(() => {});
    for (const subscription of this.#subscriptions.splice(0)) {
      try {
        subscription.unsubscribe();
      } catch {
        // Already closed with the connection.
      }
    }
    for (const connection of [...this.#connections.values()]) await connection.close("hub shutting down");
    this.#outflow?.dispose();
    const nc = this.#nc;
    this.#nc = undefined;
    // The close messages must reach the server before the socket goes.
    if (nc) await flushAndClose(nc);
    this.#options.logger.info("closed");
  }
}
