import { Buffer } from "node:buffer";
import type {
  CloseInfo,
  CloseOptions,
  Connection,
  ConnectionEvents,
  ConnectionId,
  Logger,
  SendOptions,
  Unsubscribe,
} from "@distsync/core";
import {
  ClosedError,
  ConnectionError,
  DistSyncError,
  Emitter,
  FrameTooLargeError,
  ProtocolError,
} from "@distsync/core";
import WebSocket from "ws";

/** Default largest frame, in bytes, on both sides: 8 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** Default send-buffer limit, in bytes, above which `send` waits: 4 MiB. */
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/**
 * How long a close handshake may take before the socket is destroyed (ws' own default is 30 s,
 * far too long for a hub shutting down with a stalled client).
 */
export const CLOSE_TIMEOUT_MS = 5000;

/** WebSocket close codes (RFC 6455 §7.4.1) this transport sends or interprets. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  noStatus: 1005,
  abnormal: 1006,
  messageTooBig: 1009,
} as const;

/** The longest close reason a close frame can carry, in UTF-8 bytes. */
const MAX_CLOSE_REASON_BYTES = 123;

// The same map as a type alias: interfaces lack the implicit index signature `EventMap` requires.
type AsEventMap<Events> = { [E in keyof Events]: Events[E] };

/** What the transports pass when they wrap an open `ws` socket. */
export interface WebSocketConnectionInit {
  id: ConnectionId;
  remoteAddress: string | undefined;
  maxFrameBytes: number;
  highWaterMark: number;
  logger: Logger;
  /** Runs after the connection's own `close` event (the hub transport emits `peer-disconnected` here). */
  onClose?: (connection: WebSocketConnection, info: CloseInfo) => void;
}

interface DrainWaiter {
  resolve(): void;
  reject(error: DistSyncError): void;
}

let lastConnectionNumber = 0;

/** A connection id unique within this process (hub and client sides draw from the same counter). */
export function nextConnectionId(): ConnectionId {
  lastConnectionNumber += 1;
  return `ws-${lastConnectionNumber}` as ConnectionId;
}

/**
 * One open `ws` WebSocket as a DistSync {@link Connection}; the hub and the client transport both
 * use it. Frames are binary WebSocket messages (a text message is a protocol violation and closes
 * the connection with 1003). `send` copies the frame, hands it to `ws` and, while `ws`'
 * `bufferedAmount` is at or above the high-water mark, waits for it to drain below.
 */
export class WebSocketConnection implements Connection {
  readonly id: ConnectionId;
  readonly remoteAddress: string | undefined;
  readonly maxFrameBytes: number;
  readonly #socket: WebSocket;
  readonly #highWaterMark: number;
  readonly #logger: Logger;
  readonly #onClose: WebSocketConnectionInit["onClose"];
  readonly #events = new Emitter<AsEventMap<ConnectionEvents>>(rethrowLater);
  /** Frames waiting for a `message` listener, oldest first. */
  readonly #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  #pausedForInbox = false;
  /** Paused by `pause()`: the consumer is behind. */
  #pausedByConsumer = false;
  #flushQueued = false;
  readonly #drainWaiters = new Set<DrainWaiter>();
  /** Frames handed to `ws` whose write callback has not run yet. */
  #pendingWrites = 0;
  /** Set by `close()` or a failure: from then on nothing is delivered and `send` rejects. */
  #stopping = false;
  #closedLocally = false;
  #localReason = "closed";
  #failure: DistSyncError | undefined;
  #finished = false;
  readonly #done: Promise<void>;
  #resolveDone: () => void = () => {};

  constructor(socket: WebSocket, init: WebSocketConnectionInit) {
    this.id = init.id;
    this.remoteAddress = init.remoteAddress;
    this.maxFrameBytes = init.maxFrameBytes;
    this.#socket = socket;
    this.#highWaterMark = init.highWaterMark;
    this.#logger = init.logger;
    this.#onClose = init.onClose;
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    socket.binaryType = "nodebuffer";
    socket.on("message", this.#onMessage);
    socket.on("error", this.#onError);
    socket.on("close", this.#onSocketClose);
    if (socket.readyState === WebSocket.CLOSED) {
      // Closed between the handshake and here, so `close` will not fire: report it now.
      queueMicrotask(() => this.#finish(CloseCode.abnormal, ""));
    }
  }

  get closed(): boolean {
    return this.#stopping || this.#finished || this.#socket.readyState !== WebSocket.OPEN;
  }

  /** Stops reading the socket (the consumer is behind); frames wait in the peer's buffers. */
  pause(): void {
    if (this.#pausedByConsumer || this.closed) return;
    this.#pausedByConsumer = true;
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#pausedByConsumer) return;
    this.#pausedByConsumer = false;
    // Still paused for the inbox (no listener yet): that pause ends when the inbox drains.
    if (!this.#pausedForInbox && this.#socket.readyState === WebSocket.OPEN) this.#socket.resume();
  }

  /**
   * Sends one frame as a binary message. Resolves at once while the send buffer holds less than
   * the high-water mark, otherwise once it has drained below it. The frame is copied first, so the
   * caller may reuse its buffer as soon as `send` returns.
   *
   * If `signal` aborts while `send` waits for the buffer to drain, `send` rejects with an `aborted`
   * error, but the frame itself is already queued and is still delivered, in order, unless the
   * connection closes.
   */
  async send(frame: Uint8Array, options?: SendOptions): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal, "send aborted");
    if (this.closed) throw new ClosedError(`connection ${this.id} is closed`);
    if (frame.byteLength > this.maxFrameBytes) {
      throw new FrameTooLargeError(frame.byteLength, this.maxFrameBytes);
    }
    // `Buffer.from(view)` copies exactly the view's bytes. Without the copy, bytes that the kernel
    // did not take yet would still point into the caller's buffer after `send` resolved.
    this.#pendingWrites += 1;
    this.#socket.send(Buffer.from(frame), { binary: true, compress: false, fin: true }, this.#onWritten);
    if (this.#socket.bufferedAmount < this.#highWaterMark) return;
    await this.#drained(signal);
  }

  /**
   * Closes the connection with WebSocket close `code` (default 1000; the hub transport uses 1001
   * when it shuts down) and resolves once the socket is closed. Idempotent.
   */
  close(reason = "closed", options: CloseOptions | number = {}): Promise<void> {
    const code = typeof options === "number" ? options : CloseCode.normal;
    if (typeof options === "object" && options.force && !this.#finished) {
      // The peer is considered dead: a closing handshake would only wait for it.
      this.#closedLocally = true;
      this.#localReason = reason;
      this.#stop(new ClosedError(`connection ${this.id} was dropped: ${reason}`));
      this.#socket.terminate();
      return this.#done;
    }
    if (!this.#finished && !this.#stopping && this.#socket.readyState === WebSocket.OPEN) {
      this.#closedLocally = true;
      this.#localReason = reason;
      this.#stop(
        new ClosedError(`connection ${this.id} was closed while send waited for the buffer to drain`),
      );
      this.#socket.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    }
    return this.#done;
  }

  on<E extends keyof ConnectionEvents>(event: E, listener: ConnectionEvents[E]): Unsubscribe {
    const unsubscribe = this.#events.on(event, listener);
    if (event === "message") this.#scheduleFlush();
    return unsubscribe;
  }

  readonly #onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    if (this.#stopping || this.#finished) return;
    if (!isBinary) {
      this.#fail(
        new ProtocolError(`connection ${this.id}: the peer sent a text frame; DistSync frames are binary`),
        CloseCode.unsupportedData,
        "binary frames only",
      );
      return;
    }
    const frame = toFrame(data);
    if (this.#inbox.length > 0 || this.#events.listenerCount("message") === 0) {
      // Queued for the first listener (the contract). Past the high-water mark, stop reading the
      // socket so a peer cannot fill this process's memory while nobody listens.
      this.#inbox.push(frame);
      this.#inboxBytes += frame.byteLength;
      if (this.#inboxBytes >= this.#highWaterMark && !this.#pausedForInbox) {
        this.#pausedForInbox = true;
        this.#logger.debug("no message listener yet: pausing reads", {
          id: this.id,
          queuedBytes: this.#inboxBytes,
        });
        this.#socket.pause();
      }
      this.#scheduleFlush();
      return;
    }
    this.#events.emit("message", frame);
  };

  readonly #onError = (error: Error): void => {
    // `ws` closes the socket itself after this (e.g. with 1009 for an oversized frame).
    this.#failure ??= this.#describeSocketError(error);
    this.#stop(new ClosedError(`connection ${this.id} failed while send waited for the buffer to drain`));
  };

  readonly #onSocketClose = (code: number, reason: Buffer): void => {
    this.#finish(code, reason.toString("utf8"));
  };

  readonly #onWritten = (): void => {
    this.#pendingWrites -= 1;
    if (this.#drainWaiters.size === 0) return;
    if (this.#pendingWrites > 0 && this.#socket.bufferedAmount >= this.#highWaterMark) return;
    for (const waiter of [...this.#drainWaiters]) waiter.resolve();
  };

  #drained(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        waiter.reject(
          abortError(
            signal,
            "send aborted while waiting for the send buffer to drain (the frame stays queued)",
          ),
        );
      };
      const settle = (): void => {
        this.#drainWaiters.delete(waiter);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: DrainWaiter = {
        resolve: () => {
          settle();
          resolve();
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      this.#drainWaiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Stops delivery and sending: drops queued frames and fails waiting sends with `error`. */
  #stop(error: DistSyncError): void {
    this.#stopping = true;
    this.#inbox.length = 0;
    this.#inboxBytes = 0;
    if (this.#pausedForInbox) {
      // The close handshake needs the socket read again.
      this.#pausedForInbox = false;
      this.#socket.resume();
    }
    for (const waiter of [...this.#drainWaiters]) waiter.reject(error);
  }

  /** This side ends the connection because the peer misbehaved. */
  #fail(error: DistSyncError, code: number, reason: string): void {
    if (this.#finished) return;
    this.#failure ??= error;
    this.#logger.warn("closing connection: protocol violation", {
      id: this.id,
      remoteAddress: this.remoteAddress,
      code,
      error: error.message,
    });
    this.#stop(new ClosedError(`connection ${this.id} failed while send waited for the buffer to drain`));
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason);
  }

  #finish(code: number, peerReason: string): void {
    if (this.#finished) return;
    this.#stop(new ClosedError(`connection ${this.id} closed before its send buffer drained`));
    this.#finished = true;
    const info = this.#closeInfo(code, peerReason);
    this.#logger.debug("connection closed", {
      id: this.id,
      remoteAddress: this.remoteAddress,
      code,
      reason: info.reason,
      local: info.local,
      ...(info.error === undefined ? {} : { error: info.error.code }),
    });
    this.#events.emit("close", info);
    this.#onClose?.(this, info);
    this.#resolveDone();
  }

  #closeInfo(code: number, peerReason: string): CloseInfo {
    const failure = this.#failure;
    if (failure !== undefined) return { reason: failure.message, error: failure, local: false };
    if (this.#closedLocally) return { reason: this.#localReason, local: true };
    const said = peerReason === "" ? "" : `: ${peerReason}`;
    switch (code) {
      case CloseCode.normal:
      case CloseCode.goingAway:
      case CloseCode.noStatus:
        return { reason: peerReason === "" ? "closed by the peer" : peerReason, local: false };
      case CloseCode.abnormal:
        return {
          reason: "connection lost",
          error: new ConnectionError(
            `connection ${this.id} to ${this.remoteAddress ?? "the peer"} lost: the socket closed without a WebSocket close frame`,
          ),
          local: false,
        };
      case CloseCode.unsupportedData:
        return {
          reason: peerReason === "" ? "the peer accepts binary frames only" : peerReason,
          error: new ProtocolError(
            `connection ${this.id}: the peer closed the connection because it accepts binary frames only (1003${said})`,
          ),
          local: false,
        };
      case CloseCode.messageTooBig:
        return {
          reason: peerReason === "" ? "a frame was too large for the peer" : peerReason,
          error: new ConnectionError(
            `connection ${this.id}: the peer closed the connection because a frame exceeded its size limit (1009${said})`,
          ),
          local: false,
        };
      default:
        return {
          reason: peerReason === "" ? `closed by the peer with code ${code}` : peerReason,
          error: new ConnectionError(
            `connection ${this.id}: the peer closed the connection with code ${code}${said}`,
          ),
          local: false,
        };
    }
  }

  /** Wraps what `ws` reports on the socket; raw `ws` errors never reach core. */
  #describeSocketError(error: Error): DistSyncError {
    const code = errorCode(error);
    if (code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      this.#logger.warn("closing connection: incoming frame too large", {
        id: this.id,
        remoteAddress: this.remoteAddress,
        limit: this.maxFrameBytes,
      });
      return new FrameTooLargeError(incomingSize(this.#socket, this.maxFrameBytes), this.maxFrameBytes, {
        cause: error,
      });
    }
    if (code?.startsWith("WS_ERR_")) {
      return new ProtocolError(
        `connection ${this.id}: the peer broke the WebSocket protocol: ${error.message} (${code})`,
        { cause: error },
      );
    }
    return new ConnectionError(
      `connection ${this.id} to ${this.remoteAddress ?? "the peer"} failed: ${error.message}${code === undefined ? "" : ` (${code})`}`,
      { cause: error },
    );
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#inbox.length === 0 || this.#events.listenerCount("message") === 0) return;
    this.#flushQueued = true;
    // Not inside `on()`: the caller has not even received its unsubscribe function yet.
    queueMicrotask(() => {
      this.#flushQueued = false;
      while (!this.#stopping && this.#inbox.length > 0 && this.#events.listenerCount("message") > 0) {
        const frame = this.#inbox.shift()!;
        this.#inboxBytes -= frame.byteLength;
        this.#events.emit("message", frame);
      }
      if (this.#pausedForInbox && this.#inboxBytes < this.#highWaterMark) {
        this.#pausedForInbox = false;
        if (!this.#pausedByConsumer) this.#socket.resume();
      }
    });
  }
}

/**
 * A received message as a plain `Uint8Array` of exactly its bytes. With `binaryType = "nodebuffer"`
 * `ws` hands over one `Buffer` (fragments already joined); the other shapes are handled anyway.
 * No copy: the view shares the `Buffer`'s memory, which nothing else uses.
 */
function toFrame(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return toFrame(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The size of the oversized incoming message, as far as `ws` read its header. `ws` does not expose
 * it, so this peeks at its receiver and falls back to the smallest size that is too large.
 */
function incomingSize(socket: WebSocket, limit: number): number {
  const receiver: unknown = Reflect.get(socket, "_receiver");
  const size: unknown =
    typeof receiver === "object" && receiver !== null
      ? Reflect.get(receiver, "_totalPayloadLength")
      : undefined;
  return typeof size === "number" && Number.isSafeInteger(size) && size > limit ? size : limit + 1;
}

/** The `code` of a Node or `ws` error (`ECONNREFUSED`, `WS_ERR_…`), when it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code: unknown = Reflect.get(error, "code");
  if (typeof code === "string") return code;
  // Happy-eyeballs connects report an AggregateError whose attempts carry the codes.
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const innerCode = errorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return undefined;
}

/** `ip:port`, with IPv6 addresses bracketed; `undefined` when the address is unknown. */
export function formatAddress(address: string | undefined, port: number | undefined): string | undefined {
  if (address === undefined) return undefined;
  const host = address.includes(":") ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

export function abortError(signal: AbortSignal | undefined, message: string): DistSyncError {
  return new DistSyncError("aborted", message, { cause: signal?.reason });
}

/** Checks a size option: a positive safe integer. */
export function checkPositiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** `text` cut to at most `maxBytes` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes - 3) break;
    out += char;
    bytes += size;
  }
  return `${out}…`;
}

/** A throwing listener is a bug in the caller: surface it as an uncaught error, and keep delivering. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
