// An example transport over plain TCP (node:net): each frame is a 4-byte big-endian length and the
// bytes. It is a template for your own adapter, not a package: no TLS, no reconnect logic (the
// client engine reconnects by calling connect() again). It passes the transport conformance
// suite (apps/docs/test/tcp-transport.test.ts), and a hub and clients run over it unchanged.
import net from "node:net";
import {
  type ClientTransport,
  ClosedError,
  type CloseInfo,
  type CloseOptions,
  type Connection,
  ConnectionError,
  type ConnectionEvents,
  type ConnectionId,
  DistSyncError,
  Emitter,
  FrameTooLargeError,
  type HubTransport,
  type HubTransportEvents,
  type SendOptions,
  type TransportCapabilities,
  type Unsubscribe,
} from "@distsync/core";

const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
// Emitter wants a type alias, not an interface.
type Events<T> = { [K in keyof T]: T[K] };
let nextId = 0;

/** One TCP socket carrying length-prefixed frames. */
class TcpConnection implements Connection {
  readonly id = `tcp-${++nextId}` as ConnectionId;
  readonly remoteAddress: string | undefined;
  readonly #socket: net.Socket;
  readonly #events = new Emitter<Events<ConnectionEvents>>();
  readonly #queued: Uint8Array[] = []; // frames that arrived before the first `message` listener
  #buffer: Buffer = Buffer.alloc(0);
  #closed = false;
  #local = false;
  #error: DistSyncError | undefined;
  readonly #done: Promise<void>;

  constructor(
    socket: net.Socket,
    readonly maxFrameBytes: number,
    onClose: (info: CloseInfo) => void = () => {},
  ) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress && `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on("data", (data) => this.#receive(data));
    socket.on("error", (error) => {
      this.#error ??= new ConnectionError(`connection ${this.id}: ${error.message}`, { cause: error });
    });
    this.#done = new Promise((resolve) => {
      socket.once("close", () => {
        this.#closed = true;
        const info: CloseInfo = {
          reason: this.#error?.message ?? (this.#local ? "closed" : "closed by the peer"),
          local: this.#local && !this.#error,
          ...(this.#error ? { error: this.#error } : {}),
        };
        this.#events.emit("close", info); // exactly once, and nothing is delivered after it
        onClose(info);
        resolve();
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  async send(frame: Uint8Array, options?: SendOptions): Promise<void> {
    if (this.#closed || this.#local) throw new ClosedError(`connection ${this.id} is closed`);
    if (frame.byteLength > this.maxFrameBytes)
      throw new FrameTooLargeError(frame.byteLength, this.maxFrameBytes);
    const packet = Buffer.alloc(4 + frame.byteLength); // a copy: the caller may reuse `frame`
    packet.writeUInt32BE(frame.byteLength, 0);
    packet.set(frame, 4);
    if (this.#socket.write(packet)) return;
    // Backpressure: the kernel buffer is full; resolve once it drains (or the signal aborts).
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        this.#socket.off("drain", done).off("close", done);
        options?.signal?.removeEventListener("abort", abort);
        resolve();
      };
      const abort = () => {
        this.#socket.off("drain", done).off("close", done);
        reject(new DistSyncError("aborted", "send aborted", { cause: options?.signal?.reason }));
      };
      this.#socket.on("drain", done).on("close", done);
      options?.signal?.addEventListener("abort", abort, { once: true });
    });
  }

  close(_reason?: string, options?: CloseOptions): Promise<void> {
    if (!this.#closed && !this.#local) {
      this.#local = true;
      if (options?.force) this.#socket.destroy();
      else this.#socket.end(); // a FIN; the peer ends its side too, then both sockets close
    }
    return this.#done;
  }

  on<E extends keyof ConnectionEvents>(event: E, listener: ConnectionEvents[E]): Unsubscribe {
    const off = this.#events.on(event, listener);
    if (event === "message") {
      for (const frame of this.#queued.splice(0)) (listener as ConnectionEvents["message"])(frame);
    }
    return off;
  }

  #receive(data: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    while (this.#buffer.length >= 4 && !this.#local && !this.#closed) {
      const size = this.#buffer.readUInt32BE(0);
      if (size > this.maxFrameBytes) {
        this.#error = new FrameTooLargeError(size, this.maxFrameBytes);
        this.#socket.destroy();
        return;
      }
      if (this.#buffer.length < 4 + size) return;
      const frame = new Uint8Array(this.#buffer.subarray(4, 4 + size)); // a copy of exactly the frame
      this.#buffer = this.#buffer.subarray(4 + size);
      if (this.#events.listenerCount("message") === 0) this.#queued.push(frame);
      else this.#events.emit("message", frame);
    }
  }
}

export interface TcpHubTransportOptions {
  /** Default `"127.0.0.1"`. */
  host?: string;
  /** Default `0` (a free port; read it from `port` after `listen()`). */
  port?: number;
  /** Default 8 MiB. */
  maxFrameBytes?: number;
}

export interface TcpHubTransport extends HubTransport {
  /** The port it listens on; known after `listen()`. */
  readonly port: number;
}

export function createTcpHubTransport(options: TcpHubTransportOptions = {}): TcpHubTransport {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const events = new Emitter<Events<HubTransportEvents>>();
  const connections = new Set<TcpConnection>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const connection = new TcpConnection(socket, maxFrameBytes, (info) => {
      connections.delete(connection);
      events.emit("peer-disconnected", connection, info);
    });
    connections.add(connection);
    events.emit("peer-connected", connection); // the hub attaches its listeners in here
  });
  server.on("error", (error) => events.emit("error", new ConnectionError(error.message, { cause: error })));
  let listening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let port: number | undefined; // kept after close, so clients made later get a clean refusal
  return {
    capabilities: { maxFrameBytes } satisfies TransportCapabilities,
    get port() {
      if (port === undefined) throw new ConnectionError("not listening yet");
      return port;
    },
    listen() {
      if (closing) return Promise.reject(new ClosedError("hub transport is closed"));
      listening ??= new Promise<void>((resolve, reject) => {
        server.once("error", (error) => reject(new ConnectionError(`cannot listen: ${error.message}`)));
        server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
          port = (server.address() as net.AddressInfo).port;
          resolve();
        });
      });
      return listening;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...connections].map((connection) => connection.close("hub closing")));
        if (listening) await stopped;
      })();
      return closing;
    },
    on: (event, listener) => events.on(event, listener),
  };
}

export interface TcpClientTransportOptions {
  host?: string;
  port: number;
  /** Default 8 MiB; use the hub's value. */
  maxFrameBytes?: number;
}

export function createTcpClientTransport(options: TcpClientTransportOptions): ClientTransport {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const host = options.host ?? "127.0.0.1";
  return {
    capabilities: { maxFrameBytes },
    connect() {
      return new Promise<Connection>((resolve, reject) => {
        const socket = net.connect({ host, port: options.port, noDelay: true });
        const fail = (error: Error) =>
          reject(
            new ConnectionError(`cannot connect to ${host}:${options.port}: ${error.message}`, {
              cause: error,
            }),
          );
        socket.once("error", fail);
        socket.once("connect", () => {
          socket.off("error", fail); // from now on the connection reports errors in its close info
          resolve(new TcpConnection(socket, maxFrameBytes));
        });
      });
    },
  };
}
