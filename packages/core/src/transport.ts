import type { Unsubscribe } from "./emitter.js";
import type { DistSyncError } from "./errors.js";
import type { ConnectionId } from "./types.js";

/**
 * What a transport can do; the engine branches on these, never on the transport's kind.
 */
export interface TransportCapabilities {
  /** Largest frame, in bytes, that `send` accepts and the peer will receive. */
  readonly maxFrameBytes: number;
}

export interface CloseInfo {
  /** A short human-readable reason. */
  readonly reason: string;
  /** Set when the connection ended because of a failure rather than an orderly close. */
  readonly error?: DistSyncError;
  /** True when this side called `close()`. */
  readonly local: boolean;
  /**
   * Set by a transport that lost frames (NATS core delivers at most once) although the peer is
   * fine: the engine reconnects and re-joins at once to resync, even without `reconnect`.
   */
  readonly resync?: boolean;
}

export interface ConnectionEvents {
  /** One whole frame, exactly as the peer passed it to `send`. */
  message: (frame: Uint8Array) => void;
  /** Fired once, after which no `message` is delivered. */
  close: (info: CloseInfo) => void;
}

export interface SendOptions {
  signal?: AbortSignal;
}

export interface CloseOptions {
  /**
   * Drop the connection at once, without a closing handshake: the peer is considered dead (e.g.
   * silent past its heartbeat timeout), so waiting for it would only delay. Default false.
   */
  force?: boolean;
}

/**
 * One bidirectional, ordered, reliable link between a client and the hub that moves opaque frames.
 *
 * - Frames arrive whole and in the order they were sent, or not at all (the connection closes).
 * - Frames received before the first `message` listener is attached are queued for it.
 * - `send` resolves once the frame is handed to the network within the transport's buffer limit,
 *   so awaiting it applies backpressure. It rejects with `FrameTooLargeError` for a frame above
 *   `maxFrameBytes` (the connection stays open) and with `ClosedError` after close.
 * - `close` is idempotent and resolves when the connection is closed.
 */
export interface Connection {
  readonly id: ConnectionId;
  /** Where the peer is, for logs and status (e.g. `127.0.0.1:53122`), when known. */
  readonly remoteAddress: string | undefined;
  readonly maxFrameBytes: number;
  readonly closed: boolean;
  send(frame: Uint8Array, options?: SendOptions): Promise<void>;
  close(reason?: string, options?: CloseOptions): Promise<void>;
  on<E extends keyof ConnectionEvents>(event: E, listener: ConnectionEvents[E]): Unsubscribe;
  /**
   * Optional flow control for the receiving side: stop reading from the network until `resume()`,
   * so a peer that sends faster than this side can store or write cannot fill its memory (the
   * frames wait in the peer's send buffer, and its `send` backpressure slows it down). Idempotent.
   */
  pause?(): void;
  resume?(): void;
}

export interface HubTransportEvents {
  "peer-connected": (connection: Connection) => void;
  "peer-disconnected": (connection: Connection, info: CloseInfo) => void;
  /** A failure not tied to one connection (e.g. the listener broke). */
  error: (error: DistSyncError) => void;
}

/** The hub side: accepts connections. */
export interface HubTransport {
  readonly capabilities: TransportCapabilities;
  /** Starts accepting connections; resolves when clients can connect. */
  listen(options?: { signal?: AbortSignal }): Promise<void>;
  /** Stops accepting, closes every connection; idempotent. */
  close(): Promise<void>;
  on<E extends keyof HubTransportEvents>(event: E, listener: HubTransportEvents[E]): Unsubscribe;
}

/** The client side: opens a connection to a hub. */
export interface ClientTransport {
  readonly capabilities: TransportCapabilities;
  /** Opens a new connection; rejects with `ConnectionError` when the hub cannot be reached. */
  connect(options?: { signal?: AbortSignal }): Promise<Connection>;
  /** Releases resources shared by this transport's connections (optional; idempotent). */
  close?(): Promise<void>;
}
