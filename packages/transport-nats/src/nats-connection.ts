import type {
  CloseInfo,
  CloseOptions,
  Connection,
  ConnectionEvents,
  ConnectionId,
  DistSyncError,
  Logger,
  SendOptions,
  Unsubscribe,
} from "@distsync/core";
import { ClosedError, ConnectionError, Emitter, FrameTooLargeError, ProtocolError } from "@distsync/core";
import { abortError, type Outflow } from "./nats-link.js";
import { decodeMessage, decodeText, encodeMessage, encodeText, Flag, Kind, PREFIX_BYTES } from "./wire.js";

/**
 * Bytes a connection queues for its first `message` listener before it gives up (NATS cannot
 * pause one subscription the way a socket pauses reading). The engines listen at once.
 */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/** The longest close reason sent to the peer, in UTF-8 bytes. */
const MAX_REASON_BYTES = 512;

// The same map as a type alias: interfaces lack the implicit index signature `EventMap` requires.
type AsEventMap<Events> = { [E in keyof Events]: Events[E] };

/** What the transports pass for each DistSync connection. */
export interface NatsConnectionInit {
  id: ConnectionId;
  remoteAddress: string | undefined;
  maxFrameBytes: number;
  /** Where this side publishes (the peer subscribes to it). */
  sendSubject: string;
  /** Where this side receives (for messages and tests; the transport routes messages here). */
  receiveSubject: string;
  outflow: Outflow;
  logger: Logger;
  /** Runs after the connection's own `close` event (unsubscribe, `peer-disconnected`). */
  onClose?: (connection: NatsTransportConnection, info: CloseInfo) => void;
}

interface SendWaiter {
  reject(error: DistSyncError): void;
}

/**
 * One DistSync connection over NATS: frames go to the peer's subject behind an 8-byte prefix (kind
 * and a per-direction sequence number); a gap or a reorder closes the connection with a
 * `ConnectionError` ("frames lost: expected 17, got 19"), since NATS core delivers at most once. A
 * close is a message too (best effort): the peer learns of an orderly close at once, and of a
 * vanished peer through the engine's heartbeats.
 */
export class NatsTransportConnection implements Connection {
  readonly id: ConnectionId;
  readonly remoteAddress: string | undefined;
  readonly maxFrameBytes: number;
  /** The subject this side publishes frames on. */
  readonly sendSubject: string;
  /** The subject this side receives frames on. */
  readonly receiveSubject: string;
  readonly #outflow: Outflow;
  readonly #logger: Logger;
  readonly #onClose: NatsConnectionInit["onClose"];
  readonly #events = new Emitter<AsEventMap<ConnectionEvents>>(rethrowLater);
  /** Frames waiting for a `message` listener, oldest first. */
  readonly #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  #flushQueued = false;
  readonly #waiters = new Set<SendWaiter>();
  /** The sequence number of the next message this side sends, and of the next one it expects. */
  #nextOut = 1;
  #nextIn = 1;
  #stopping = false;
  #finished = false;
  #closedLocally = false;
  #localReason = "closed";
  #peerReason: string | undefined;
  #failure: DistSyncError | undefined;
  #resync = false;
  readonly #done: Promise<void>;
  #resolveDone: () => void = () => {};

  constructor(init: NatsConnectionInit) {
    this.id = init.id;
    this.remoteAddress = init.remoteAddress;
    this.maxFrameBytes = init.maxFrameBytes;
    this.sendSubject = init.sendSubject;
    this.receiveSubject = init.receiveSubject;
    this.#outflow = init.outflow;
    this.#logger = init.logger;
    this.#onClose = init.onClose;
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get closed(): boolean {
    return this.#stopping || this.#finished;
  }

  /**
   * Publishes one frame. Resolves at once while this NATS connection has less than `highWaterMark`
   * bytes unconfirmed by the server, otherwise once it has. The frame is copied first, so the caller
   * may reuse its buffer as soon as `send` returns. An abort during the wait rejects with an
   * `aborted` error, but the frame is already published and is still delivered.
   */
  async send(frame: Uint8Array, options?: SendOptions): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal, "send aborted");
    if (this.closed) throw new ClosedError(`connection ${this.id} is closed`);
    if (frame.byteLength > this.maxFrameBytes) {
      throw new FrameTooLargeError(frame.byteLength, this.maxFrameBytes);
    }
    let position: number;
    try {
      position = this.#outflow.publish(this.sendSubject, encodeMessage(Kind.frame, this.#nextOut, frame));
    } catch (error) {
      // The NATS connection is closed or draining; its watcher closes this connection right after.
      const failure = new ConnectionError(
        `connection ${this.id}: cannot publish to NATS: ${(error as Error).message}`,
        { cause: error },
      );
      this.fail(failure);
      throw new ClosedError(`connection ${this.id} is closed: ${failure.message}`, { cause: failure });
    }
    this.#nextOut += 1;
    const room = this.#outflow.room(position);
    if (room !== undefined) await this.#wait(room, signal);
  }

  /**
   * Closes the connection: tells the peer (one message, not waited for), stops delivery and
   * resolves at once. `force` changes nothing here, since a NATS close never waits for the peer.
   * Idempotent.
   */
  close(reason = "closed", _options?: CloseOptions): Promise<void> {
    if (this.#stopping || this.#finished) return this.#done;
    this.#closedLocally = true;
    this.#localReason = reason;
    this.#stop(new ClosedError(`connection ${this.id} was closed while send waited for NATS`));
    this.#tellPeer(Kind.close, reason);
    this.#finish();
    return this.#done;
  }

  on<E extends keyof ConnectionEvents>(event: E, listener: ConnectionEvents[E]): Unsubscribe {
    const unsubscribe = this.#events.on(event, listener);
    if (event === "message") this.#scheduleFlush();
    return unsubscribe;
  }

  /** One message from the peer's subject (the transports call this; no copy is made). */
  receive(data: Uint8Array): void {
    if (this.#stopping || this.#finished) return;
    const message = decodeMessage(data);
    if (message === undefined) {
      this.fail(
        new ProtocolError(
          `connection ${this.id}: a message of ${data.byteLength} bytes is shorter than the ${PREFIX_BYTES}-byte frame prefix`,
        ),
      );
      return;
    }
    const expected = this.#nextIn;
    if (message.sequence !== expected) {
      // The peer is fine; frames were dropped (a slow consumer): the engine resyncs by re-joining.
      this.#resync = true;
      this.fail(
        new ConnectionError(
          message.sequence > expected
            ? `connection ${this.id}: frames lost: expected ${expected}, got ${message.sequence}`
            : `connection ${this.id}: frames out of order: expected ${expected}, got ${message.sequence}`,
        ),
      );
      return;
    }
    this.#nextIn += 1;
    switch (message.kind) {
      case Kind.frame:
        this.#deliver(message.payload);
        return;
      case Kind.close:
        this.#peerReason = decodeText(message.payload);
        this.#stop(
          new ClosedError(`connection ${this.id} was closed by the peer while send waited for NATS`),
        );
        this.#finishSoon();
        return;
      case Kind.abort: {
        const said = decodeText(message.payload);
        // The peer lost frames of ours: this side resyncs too (a client re-joins at once).
        if ((message.flags & Flag.resync) !== 0) this.#resync = true;
        this.#failure = new ConnectionError(
          `connection ${this.id}: the peer dropped the connection${said === "" ? "" : `: ${said}`}`,
        );
        this.#stop(new ClosedError(`connection ${this.id} was dropped by the peer`));
        this.#finishSoon();
        return;
      }
      default:
        this.fail(new ProtocolError(`connection ${this.id}: unknown message kind ${message.kind}`));
    }
  }

  /**
   * Ends the connection because of `error` (a gap, a broken peer, the NATS connection lost): tells
   * the peer when NATS still works, and fires `close` with the error.
   */
  fail(error: DistSyncError): void {
    // Stopping already: closed here, or by the peer and about to fire `close`.
    if (this.#stopping || this.#finished) return;
    this.#failure ??= error;
    this.#logger.warn("closing connection", { id: this.id, error: error.message });
    this.#stop(new ClosedError(`connection ${this.id} failed while send waited for NATS: ${error.message}`));
    this.#tellPeer(Kind.abort, error.message, this.#resync ? Flag.resync : 0);
    this.#finish();
  }

  #deliver(frame: Uint8Array): void {
    if (this.#inbox.length === 0 && this.#events.listenerCount("message") > 0) {
      this.#events.emit("message", frame);
      return;
    }
    // Queued for the first listener (the contract).
    this.#inbox.push(frame);
    this.#inboxBytes += frame.byteLength;
    if (this.#inboxBytes > MAX_QUEUED_BYTES) {
      this.fail(
        new ConnectionError(
          `connection ${this.id}: more than ${MAX_QUEUED_BYTES} bytes arrived with no message listener`,
        ),
      );
      return;
    }
    this.#scheduleFlush();
  }

  /** Best effort: one message to the peer; a NATS connection that is gone makes it a no-op. */
  #tellPeer(kind: Kind, reason: string, flags = 0): void {
    try {
      this.#outflow.publish(
        this.sendSubject,
        encodeMessage(kind, this.#nextOut, truncateUtf8(reason), flags),
      );
      this.#nextOut += 1;
    } catch {
      // Closed or draining: the peer learns of it from its own NATS connection or its heartbeats.
    }
  }

  #wait(room: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        settle();
        reject(
          abortError(
            signal,
            "send aborted while waiting for NATS to take earlier frames (the frame stays queued)",
          ),
        );
      };
      const waiter: SendWaiter = {
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const settle = (): void => {
        this.#waiters.delete(waiter);
        signal?.removeEventListener("abort", onAbort);
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      void room.then(() => {
        if (!this.#waiters.has(waiter)) return;
        settle();
        resolve();
      });
    });
  }

  /** Stops delivery and sending: drops queued frames and fails waiting sends with `error`. */
  #stop(error: DistSyncError): void {
    this.#stopping = true;
    this.#inbox.length = 0;
    this.#inboxBytes = 0;
    for (const waiter of [...this.#waiters]) waiter.reject(error);
  }

  /**
   * The peer's close message arrives right behind its last frames, often in the same read. A
   * listener that handles frames asynchronously (the engines queue them) would otherwise see
   * `close` before it has handled the last frame, such as the hub's error frame before an
   * authentication refusal. So `close` waits one macrotask, about what a WebSocket close handshake
   * takes; `closed` is true at once and nothing more is delivered.
   */
  #finishSoon(): void {
    setImmediate(() => this.#finish());
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const info = this.#closeInfo();
    this.#logger.debug("connection closed", {
      id: this.id,
      reason: info.reason,
      local: info.local,
      ...(info.error === undefined ? {} : { error: info.error.code }),
    });
    this.#events.emit("close", info);
    this.#onClose?.(this, info);
    this.#resolveDone();
  }

  #closeInfo(): CloseInfo {
    const failure = this.#failure;
    if (failure !== undefined) {
      return {
        reason: failure.message,
        error: failure,
        local: false,
        ...(this.#resync ? { resync: true } : {}),
      };
    }
    if (this.#closedLocally) return { reason: this.#localReason, local: true };
    const said = this.#peerReason ?? "";
    return { reason: said === "" ? "closed by the peer" : said, local: false };
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
    });
  }
}

/** `text` as UTF-8, cut to {@link MAX_REASON_BYTES} without splitting a character. */
function truncateUtf8(text: string): Uint8Array {
  const bytes = encodeText(text);
  if (bytes.byteLength <= MAX_REASON_BYTES) return bytes;
  let end = MAX_REASON_BYTES;
  // Back up to the start of a character (continuation bytes are 0b10xxxxxx).
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/** A throwing listener is a bug in the caller: surface it as an uncaught error, and keep delivering. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
