import type {
  CloseOptions,
  Connection,
  ConnectionEvents,
  HubTransport,
  HubTransportEvents,
  SendOptions,
  Unsubscribe,
} from "@distsync/core";

/** What a {@link countingHubTransport} reports; every call is synchronous and must not throw. */
export interface TrafficObserver {
  /** A client connected (before the hub sees the connection). */
  opened(connection: Connection): void;
  /** A frame arrived from the client (just before the hub gets it). */
  received(connection: Connection, frame: Uint8Array): void;
  /** The hub handed a frame to the transport and `send()` resolved (the frame is on its way). */
  sent(connection: Connection, frame: Uint8Array): void;
  /** The connection closed. */
  closed(connection: Connection): void;
}

/**
 * Wraps a hub transport so that every frame in and out is shown to `observer`, for the metrics and
 * the status page. Core stays unaware of it: the hub only ever sees `Connection`s, and these wrappers
 * are `Connection`s that forward everything. Frames are passed through untouched (no copy).
 */
export function countingHubTransport(inner: HubTransport, observer: TrafficObserver): HubTransport {
  const wrapped = new WeakMap<Connection, Connection>();
  const wrap = (connection: Connection): Connection => {
    let outer = wrapped.get(connection);
    if (outer === undefined) {
      outer = new CountingConnection(connection, observer);
      wrapped.set(connection, outer);
      observer.opened(outer);
    }
    return outer;
  };
  return {
    get capabilities() {
      return inner.capabilities;
    },
    listen: (options) => inner.listen(options),
    close: () => inner.close(),
    on<E extends keyof HubTransportEvents>(event: E, listener: HubTransportEvents[E]): Unsubscribe {
      if (event === "peer-connected") {
        const l = listener as HubTransportEvents["peer-connected"];
        return inner.on("peer-connected", (connection) => l(wrap(connection)));
      }
      if (event === "peer-disconnected") {
        const l = listener as HubTransportEvents["peer-disconnected"];
        return inner.on("peer-disconnected", (connection, info) => l(wrap(connection), info));
      }
      return inner.on(event, listener);
    },
  };
}

class CountingConnection implements Connection {
  readonly #inner: Connection;
  readonly #observer: TrafficObserver;
  readonly #listeners = new Set<ConnectionEvents["message"]>();
  #offMessage: Unsubscribe | undefined;

  constructor(inner: Connection, observer: TrafficObserver) {
    this.#inner = inner;
    this.#observer = observer;
    inner.on("close", () => observer.closed(this));
  }

  get id() {
    return this.#inner.id;
  }
  get remoteAddress() {
    return this.#inner.remoteAddress;
  }
  get maxFrameBytes() {
    return this.#inner.maxFrameBytes;
  }
  get closed() {
    return this.#inner.closed;
  }

  async send(frame: Uint8Array, options?: SendOptions): Promise<void> {
    await this.#inner.send(frame, options);
    this.#observer.sent(this, frame);
  }

  close(reason?: string, options?: CloseOptions): Promise<void> {
    return this.#inner.close(reason, options);
  }

  // Flow control passes through: without it the hub could not slow a fast uploader down.
  pause(): void {
    this.#inner.pause?.();
  }

  resume(): void {
    this.#inner.resume?.();
  }

  on<E extends keyof ConnectionEvents>(event: E, listener: ConnectionEvents[E]): Unsubscribe {
    if (event !== "message") return this.#inner.on(event, listener);
    // One inner listener counts each frame once and dispatches it. It is attached together with the
    // first outer one, because a transport hands its queued frames to the first `message` listener.
    const l = listener as ConnectionEvents["message"];
    this.#listeners.add(l);
    this.#offMessage ??= this.#inner.on("message", (frame) => {
      this.#observer.received(this, frame);
      for (const each of [...this.#listeners]) each(frame);
    });
    return () => {
      this.#listeners.delete(l);
    };
  }
}
