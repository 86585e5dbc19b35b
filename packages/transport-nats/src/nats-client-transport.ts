import type { ClientTransport, ConnectionId, DistSyncError, TransportCapabilities } from "@distsync/core";
import { ClosedError, ConnectionError } from "@distsync/core";
import {
  type Msg,
  type NatsConnection,
  errors as natsErrors,
  nuid,
  type Subscription,
} from "@nats-io/transport-node";
import { NatsTransportConnection } from "./nats-connection.js";
import {
  abortError,
  DEFAULT_MAX_PAYLOAD,
  flushAndClose,
  isAborted,
  maxFrameBytesOf,
  type NatsTransportOptions,
  Outflow,
  openNatsConnection,
  type ResolvedOptions,
  resolveOptions,
  settleWithin,
} from "./nats-link.js";
import {
  decodeJson,
  encodeJson,
  encodeMessage,
  encodeText,
  isPlainSubject,
  isPositiveInteger,
  Kind,
  PREFIX_BYTES,
  WIRE_VERSION,
} from "./wire.js";

/** Options for {@link createNatsClientTransport}: see {@link NatsTransportOptions}. */
export type NatsClientTransportOptions = NatsTransportOptions;

/** A {@link ClientTransport} over NATS. */
export interface NatsClientTransport extends ClientTransport {
  /** The NATS server URL(s), credentials replaced by `***` (comma-separated). */
  readonly url: string;
  /** The subject prefix of the hub this transport connects to. */
  readonly subjectPrefix: string;
  connect(options?: { signal?: AbortSignal }): Promise<NatsTransportConnection>;
  /** Closes every connection, fails connects in progress and closes the NATS connection; idempotent. */
  close(): Promise<void>;
}

/** One NATS connection and the DistSync connections it carries. */
interface Link {
  nc: NatsConnection;
  outflow: Outflow;
  connections: Set<NatsTransportConnection>;
  maxFrameBytes: number;
  address: string | undefined;
}

/**
 * Creates the client side of the NATS transport. Nothing connects until `connect()`; the first one
 * opens the NATS connection that later ones share. Throws a `ConnectionError` at once for a
 * malformed or missing URL.
 */
export function createNatsClientTransport(options: NatsClientTransportOptions): NatsClientTransport {
  return new NatsClientTransportImpl(options);
}

class NatsClientTransportImpl implements NatsClientTransport {
  readonly #options: ResolvedOptions;
  /** The NATS connection, once asked for; dropped when it closes, so the next connect opens a new one. */
  #link: Promise<Link> | undefined;
  /** Connects in progress, each with a way to fail it. */
  readonly #connecting = new Set<(error: DistSyncError) => void>();
  #maxFrameBytes = DEFAULT_MAX_PAYLOAD - PREFIX_BYTES;
  #closing: Promise<void> | undefined;

  constructor(options: NatsClientTransportOptions) {
    this.#options = resolveOptions(options, "distsync-client");
  }

  /** Until a connect has reached NATS, NATS' default `max_payload` minus the 8-byte prefix; then the server's. */
  get capabilities(): TransportCapabilities {
    return { maxFrameBytes: this.#maxFrameBytes };
  }

  get url(): string {
    return this.#options.display;
  }

  get subjectPrefix(): string {
    return this.#options.subjects.prefix;
  }

  connect(options?: { signal?: AbortSignal }): Promise<NatsTransportConnection> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal, "connect aborted"));
    if (this.#closing) return Promise.reject(new ClosedError("client transport is closed"));
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: DistSyncError): void => {
        if (settled) return;
        settled = true;
        this.#connecting.delete(fail);
        this.#options.logger.debug("connect failed", { url: this.url, error: error.message });
        reject(error);
      };
      this.#connecting.add(fail);
      this.#open(signal).then((connection) => {
        if (settled) {
          void connection.close("connect abandoned");
          return;
        }
        settled = true;
        this.#connecting.delete(fail);
        resolve(connection);
      }, fail);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #open(signal: AbortSignal | undefined): Promise<NatsTransportConnection> {
    let link: Link;
    try {
      link = await settleWithin(this.#linkFor(), undefined, signal);
    } catch (error) {
      if (isAborted(error)) throw abortError(signal, "connect aborted");
      throw error;
    }
    return this.#handshake(link, signal);
  }

  #linkFor(): Promise<Link> {
    if (this.#link) return this.#link;
    const pending = openNatsConnection(this.#options, { reconnect: false, signal: undefined }).then((nc) => {
      const link: Link = {
        nc,
        outflow: new Outflow(nc, this.#options.highWaterMark),
        connections: new Set(),
        maxFrameBytes: maxFrameBytesOf(nc),
        address: nc.info?.client_ip,
      };
      this.#maxFrameBytes = link.maxFrameBytes;
      void nc
        .closed()
        .then((error) => this.#onLinkClosed(pending, link, error instanceof Error ? error : undefined));
      return link;
    });
    pending.catch(() => {
      if (this.#link === pending) this.#link = undefined;
    });
    this.#link = pending;
    return pending;
  }

  /** The NATS connection is gone (the server died, or `close()`): so is every DistSync connection on it. */
  #onLinkClosed(pending: Promise<Link>, link: Link, error: Error | undefined): void {
    if (this.#link === pending) this.#link = undefined;
    link.outflow.dispose();
    if (link.connections.size === 0) return;
    const lost = new ConnectionError(
      `lost the NATS server at ${this.url}${error ? `: ${error.message}` : " (the connection closed)"}`,
      error ? { cause: error } : undefined,
    );
    this.#options.logger.warn("NATS connection closed: closing every connection", { error: lost.message });
    for (const connection of [...link.connections]) connection.fail(lost);
  }

  /** Subscribes a private inbox, asks the hub for a connection, and wires both into one connection. */
  async #handshake(link: Link, signal: AbortSignal | undefined): Promise<NatsTransportConnection> {
    const { subjects, connectTimeoutMs, logger } = this.#options;
    const { nc } = link;
    const inbox = subjects.clientInbox(nuid.next());
    /** Frames the hub sends before the reply has been handled here. */
    const early: Uint8Array[] = [];
    let connection: NatsTransportConnection | undefined;
    let subscriptionError: Error | undefined;
    let subscription: Subscription;
    try {
      subscription = nc.subscribe(inbox, {
        callback: (error, msg) => {
          if (error) {
            subscriptionError = error;
            connection?.fail(
              new ConnectionError(
                `connection ${connection.id}: NATS ended the subscription to ${inbox}: ${error.message}`,
                {
                  cause: error,
                },
              ),
            );
            return;
          }
          if (connection) connection.receive(msg.data);
          else early.push(msg.data);
        },
      });
    } catch (error) {
      throw new ConnectionError(`cannot subscribe to ${inbox} at ${this.url}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const stopListening = (): void => {
      try {
        subscription.unsubscribe();
      } catch {
        // Closed with the connection.
      }
    };
    const request = nc.request(
      subjects.connect,
      encodeJson({
        v: WIRE_VERSION,
        inbox,
        maxFrameBytes: link.maxFrameBytes,
        ...(link.address === undefined ? {} : { address: link.address }),
      }),
      { timeout: connectTimeoutMs },
    );
    let reply: Msg;
    try {
      reply = await settleWithin(request, connectTimeoutMs + 1000, signal);
    } catch (error) {
      stopListening();
      if (isAborted(error)) {
        // The hub may still accept: tell its side of the connection to go away.
        void request.then(
          (late) => this.#abandon(nc, late),
          () => {},
        );
        throw abortError(signal, "connect aborted");
      }
      throw this.#requestError(error);
    }
    const answer = decodeJson(reply.data);
    const subject = answer?.subject;
    const connId = answer?.connId;
    if (typeof answer?.error === "string") {
      stopListening();
      throw new ConnectionError(
        `the hub on ${subjects.connect} at ${this.url} refused the connection: ${answer.error}`,
      );
    }
    if (!isPlainSubject(subject) || typeof connId !== "string" || !/^[A-Za-z0-9]+$/.test(connId)) {
      stopListening();
      throw new ConnectionError(
        `the answer on ${subjects.connect} at ${this.url} is not a DistSync hub's (is something else listening on this subject prefix?)`,
      );
    }
    if (subscriptionError !== undefined) {
      stopListening();
      this.#abandon(nc, reply);
      throw new ConnectionError(
        `NATS refused the subscription to ${inbox} at ${this.url}: ${subscriptionError.message}`,
        { cause: subscriptionError },
      );
    }
    const theirs = answer?.maxFrameBytes;
    connection = new NatsTransportConnection({
      id: `nats-${connId}` as ConnectionId,
      remoteAddress: typeof answer?.address === "string" ? answer.address : undefined,
      maxFrameBytes: isPositiveInteger(theirs) ? Math.min(theirs, link.maxFrameBytes) : link.maxFrameBytes,
      sendSubject: subject,
      receiveSubject: inbox,
      outflow: link.outflow,
      logger,
      onClose: (closed) => {
        stopListening();
        link.connections.delete(closed);
      },
    });
    link.connections.add(connection);
    for (const data of early.splice(0)) connection.receive(data);
    if (nc.isClosed())
      connection.fail(new ConnectionError(`lost the NATS server at ${this.url} while connecting`));
    logger.debug("connected", { url: this.url, id: connection.id, subject });
    return connection;
  }

  /** Best effort: the hub accepted a connection nobody will use; make it close its side. */
  #abandon(nc: NatsConnection, reply: Msg): void {
    const subject = decodeJson(reply.data)?.subject;
    if (!isPlainSubject(subject)) return;
    try {
      nc.publish(subject, encodeMessage(Kind.abort, 1, encodeText("connect abandoned")));
    } catch {
      // The NATS connection is gone; the hub's heartbeats clean up.
    }
  }

  #requestError(error: unknown): ConnectionError {
    const { subjects, connectTimeoutMs } = this.#options;
    if (error instanceof natsErrors.RequestError && error.isNoResponders()) {
      return new ConnectionError(`no hub is listening on ${subjects.prefix} at ${this.url}`, {
        cause: error,
      });
    }
    if (error instanceof natsErrors.TimeoutError || !(error instanceof Error)) {
      return new ConnectionError(
        `the hub on ${subjects.prefix} at ${this.url} did not answer within ${connectTimeoutMs} ms`,
        { cause: error },
      );
    }
    return new ConnectionError(
      `cannot reach the hub on ${subjects.prefix} at ${this.url}: ${error.message}`,
      { cause: error },
    );
  }

  async #shutdown(): Promise<void> {
    for (const fail of [...this.#connecting])
      fail(new ClosedError("client transport was closed while connecting"));
    const pending = this.#link;
    this.#link = undefined;
    const link = await pending?.catch(() => undefined);
    if (!link) return;
    for (const connection of [...link.connections]) await connection.close("client transport closed");
    await flushAndClose(link.nc);
  }
}
