import { Buffer } from "node:buffer";
import http from "node:http";
import type https from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type {
  HubTransport,
  HubTransportEvents,
  Logger,
  TransportCapabilities,
  Unsubscribe,
} from "@distsync/core";
import { ClosedError, ConnectionError, Emitter, noopLogger } from "@distsync/core";
import type WebSocket from "ws";
import { type ServerOptions, WebSocketServer } from "ws";
import {
  abortError,
  CLOSE_TIMEOUT_MS,
  CloseCode,
  checkPositiveInteger,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_FRAME_BYTES,
  errorCode,
  formatAddress,
  nextConnectionId,
  rethrowLater,
  WebSocketConnection,
} from "./websocket-connection.js";

/** Options for {@link createWebSocketHubTransport}; every option has a default. */
export interface WebSocketHubTransportOptions {
  /** Interface to listen on. Default: `"127.0.0.1"` (this machine only; `"0.0.0.0"` or `"::"` for all). Ignored with `server`. */
  host?: string;
  /** TCP port to listen on; `0` picks a free port (read it back from `port` or `url`). Default: `7420`. Ignored with `server`. */
  port?: number;
  /**
   * An existing Node `http.Server` or `https.Server` to attach to instead of listening on a port of
   * its own. The caller listens and closes it; this transport only handles WebSocket upgrades on
   * `path` and never touches other requests. With an `https.Server` the `url` is `wss://`.
   * Default: none (the transport creates and owns an HTTP server on `host`:`port`).
   */
  server?: http.Server | https.Server;
  /**
   * The URL path clients connect to. Upgrade requests for another path are answered with HTTP 404
   * (with `server`: only when no other `upgrade` listener is attached, so other WebSocket endpoints
   * on the same server keep working). Default: `"/"`.
   */
  path?: string;
  /**
   * Largest frame, in bytes, accepted in either direction. A bigger incoming frame closes that
   * connection (WebSocket code 1009) with a `FrameTooLargeError` in its close info; other
   * connections are unaffected. Default: 8 MiB (`8 * 1024 * 1024`).
   */
  maxFrameBytes?: number;
  /**
   * Per connection, the send-buffer size in bytes from which `send` waits for the buffer to drain,
   * so a slow client cannot grow the hub's memory without bound. Default: 4 MiB (`4 * 1024 * 1024`).
   */
  highWaterMark?: number;
  /** Where to log (namespace `distsync:transport-ws`). Default: no logging. */
  logger?: Logger;
}

/** A {@link HubTransport} over WebSocket, with the address it listens on. */
export interface WebSocketHubTransport extends HubTransport {
  /**
   * The URL clients connect to, e.g. `ws://127.0.0.1:7420` or `wss://[::1]:8443/sync` (the path
   * is appended unless it is `/`). Known once listening; reading it earlier throws a `ConnectionError`.
   */
  readonly url: string;
  /** The TCP port, known once listening (the real one when `port` was 0); earlier it throws. */
  readonly port: number;
}

/** The default port of a DistSync hub. */
export const DEFAULT_HUB_PORT = 7420;

// The same map as a type alias: interfaces lack the implicit index signature `EventMap` requires.
type AsEventMap<Events> = { [E in keyof Events]: Events[E] };

/** Creates the hub side of the WebSocket transport; call `listen()` to start accepting clients. */
export function createWebSocketHubTransport(
  options: WebSocketHubTransportOptions = {},
): WebSocketHubTransport {
  return new WebSocketHubTransportImpl(options);
}

class WebSocketHubTransportImpl implements WebSocketHubTransport {
  readonly capabilities: TransportCapabilities;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #path: string;
  readonly #external: http.Server | undefined;
  readonly #highWaterMark: number;
  readonly #logger: Logger;
  readonly #wss: WebSocketServer;
  readonly #events = new Emitter<AsEventMap<HubTransportEvents>>(rethrowLater);
  readonly #connections = new Set<WebSocketConnection>();
  #server: http.Server | undefined;
  #address: AddressInfo | undefined;
  #state: "idle" | "listening" | "closed" = "idle";
  #listening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: WebSocketHubTransportOptions) {
    this.#host = options.host ?? "127.0.0.1";
    this.#requestedPort = options.port ?? DEFAULT_HUB_PORT;
    this.#path = options.path ?? "/";
    this.#external = options.server;
    const maxFrameBytes = checkPositiveInteger(
      "maxFrameBytes",
      options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    );
    this.#highWaterMark = checkPositiveInteger(
      "highWaterMark",
      options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    );
    if (!Number.isInteger(this.#requestedPort) || this.#requestedPort < 0 || this.#requestedPort > 65535) {
      throw new RangeError(`port must be an integer from 0 to 65535, got ${this.#requestedPort}`);
    }
    if (!this.#path.startsWith("/"))
      throw new RangeError(`path must start with "/", got ${JSON.stringify(this.#path)}`);
    this.capabilities = { maxFrameBytes };
    this.#logger = (options.logger ?? noopLogger).child("distsync:transport-ws");
    // `closeTimeout` exists in ws 8.23 but not yet in @types/ws.
    const serverOptions: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false, // DistSync compresses content itself
      maxPayload: maxFrameBytes,
      closeTimeout: CLOSE_TIMEOUT_MS,
    };
    this.#wss = new WebSocketServer(serverOptions);
  }

  get url(): string {
    const address = this.#currentAddress();
    const scheme = this.#external instanceof tls.Server ? "wss" : "ws";
    const path = this.#path === "/" ? "" : this.#path;
    return `${scheme}://${formatAddress(address.address, address.port)}${path}`;
  }

  get port(): number {
    return this.#currentAddress().port;
  }

  async listen(options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal, "listen aborted");
    if (this.#state === "closed") throw new ClosedError("hub transport is closed");
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
    const external = this.#external;
    if (external) {
      external.on("upgrade", this.#onUpgrade);
      this.#state = "listening";
      this.#logger.info("attached to an existing HTTP server", { path: this.#path });
      return;
    }
    const server = http.createServer(this.#onRequest);
    server.on("upgrade", this.#onUpgrade);
    this.#server = server;
    const where = formatAddress(this.#host, this.#requestedPort);
    try {
      await new Promise<void>((resolve, reject) => {
        const settle = (): void => {
          server.off("error", onError);
          server.off("listening", onListening);
          signal?.removeEventListener("abort", onAbort);
        };
        const onError = (error: Error): void => {
          settle();
          reject(
            new ConnectionError(`cannot listen on ${where}: ${describeListenError(error)}`, { cause: error }),
          );
        };
        const onListening = (): void => {
          settle();
          resolve();
        };
        const onAbort = (): void => {
          settle();
          server.close();
          reject(abortError(signal, "listen aborted"));
        };
        server.once("error", onError);
        server.once("listening", onListening);
        signal?.addEventListener("abort", onAbort, { once: true });
        server.listen({ host: this.#host, port: this.#requestedPort });
      });
    } catch (error) {
      this.#server = undefined;
      throw error;
    }
    server.on("error", this.#onServerError);
    this.#address = server.address() as AddressInfo;
    // `close()` during the wait shuts the server down as soon as this returns.
    if (this.#state === "closed")
      throw new ClosedError("hub transport was closed while it started listening");
    this.#state = "listening";
    this.#logger.info("listening", { url: this.url });
  }

  async #shutdown(): Promise<void> {
    this.#state = "closed";
    this.#external?.off("upgrade", this.#onUpgrade);
    await this.#listening?.catch(() => {});
    await Promise.all(
      [...this.#connections].map((connection) => connection.close("hub shutting down", CloseCode.goingAway)),
    );
    const server = this.#server;
    if (server?.listening) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Plain HTTP requests on keep-alive connections would otherwise hold `close` open.
        server.closeAllConnections();
      });
    }
    this.#wss.close();
    this.#logger.info("closed");
  }

  readonly #onRequest = (_request: http.IncomingMessage, response: http.ServerResponse): void => {
    response.writeHead(426, { "content-type": "text/plain; charset=utf-8", connection: "close" });
    response.end("This is a DistSync hub: connect with a WebSocket client (ws:// or wss://).\n");
  };

  readonly #onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!this.#matchesPath(request)) {
      // On a shared server another listener may own this path; answer only when nobody else can.
      if (this.#external !== undefined && this.#external.listenerCount("upgrade") > 1) return;
      refuseUpgrade(
        socket,
        404,
        "Not Found",
        `No WebSocket endpoint at this path; DistSync is at ${this.#path}\n`,
      );
      return;
    }
    if (this.#state !== "listening") {
      refuseUpgrade(socket, 503, "Service Unavailable", "The DistSync hub is shutting down.\n");
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request));
  };

  #accept(socket: WebSocket, request: http.IncomingMessage): void {
    if (this.#state !== "listening") {
      socket.terminate();
      return;
    }
    const connection = new WebSocketConnection(socket, {
      id: nextConnectionId(),
      remoteAddress: formatAddress(request.socket.remoteAddress, request.socket.remotePort),
      maxFrameBytes: this.capabilities.maxFrameBytes,
      highWaterMark: this.#highWaterMark,
      logger: this.#logger,
      onClose: (closed, info) => {
        this.#connections.delete(closed);
        this.#events.emit("peer-disconnected", closed, info);
      },
    });
    this.#connections.add(connection);
    this.#logger.debug("connection accepted", { id: connection.id, remoteAddress: connection.remoteAddress });
    this.#events.emit("peer-connected", connection);
  }

  readonly #onServerError = (error: Error): void => {
    const wrapped = new ConnectionError(`the hub's HTTP server failed: ${error.message}`, { cause: error });
    this.#logger.error("server error", { error: wrapped.message });
    this.#events.emit("error", wrapped);
  };

  /** Compares the request target's path, without its query, exactly (no decoding or normalising). */
  #matchesPath(request: http.IncomingMessage): boolean {
    const target = request.url ?? "/";
    const query = target.indexOf("?");
    return (query === -1 ? target : target.slice(0, query)) === this.#path;
  }

  #currentAddress(): AddressInfo {
    if (this.#address === undefined && this.#external !== undefined && this.#state === "listening") {
      const address = this.#external.address();
      if (address !== null && typeof address === "object") this.#address = address;
    }
    if (this.#address === undefined) {
      throw new ConnectionError(
        this.#external === undefined
          ? "the hub transport is not listening yet: call listen() first"
          : "the attached HTTP server is not listening on a TCP port yet",
      );
    }
    return this.#address;
  }
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, statusText: string, body: string): void {
  socket.on("error", () => {});
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\n` +
      "Connection: close\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function describeListenError(error: Error): string {
  const code = errorCode(error);
  switch (code) {
    case "EADDRINUSE":
      return "address already in use (EADDRINUSE)";
    case "EACCES":
      return "permission denied (EACCES)";
    case "EADDRNOTAVAIL":
      return "address not available on this machine (EADDRNOTAVAIL)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `host not found (${code})`;
    default:
      return code === undefined ? error.message : `${error.message} (${code})`;
  }
}
