import type { Buffer } from "node:buffer";
import type { ClientRequest, IncomingMessage } from "node:http";
import type { ClientTransport, DistSyncError, Logger, TransportCapabilities } from "@distsync/core";
import { ClosedError, ConnectionError, noopLogger } from "@distsync/core";
import WebSocket from "ws";
import {
  abortError,
  CLOSE_TIMEOUT_MS,
  checkPositiveInteger,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_FRAME_BYTES,
  errorCode,
  formatAddress,
  nextConnectionId,
  WebSocketConnection,
} from "./websocket-connection.js";

/** Options for {@link createWebSocketClientTransport}; all but `url` have a default. */
export interface WebSocketClientTransportOptions {
  /**
   * The hub's URL, `ws://host:port[/path]` or `wss://host:port[/path]` (IPv6 hosts in brackets).
   * Another scheme, or a string that is not an absolute URL, throws a `ConnectionError` right away.
   */
  url: string | URL;
  /**
   * Largest frame, in bytes, accepted in either direction; a bigger incoming frame closes the
   * connection (code 1009) with a `FrameTooLargeError`. Match the hub's. Default: 8 MiB (`8 * 1024 * 1024`).
   */
  maxFrameBytes?: number;
  /** The send-buffer size, in bytes, from which `send` waits for the buffer to drain. Default: 4 MiB (`4 * 1024 * 1024`). */
  highWaterMark?: number;
  /** How long `connect()` may take in all (DNS, TCP, TLS, upgrade) before it fails. Default: `10_000` ms. */
  connectTimeoutMs?: number;
  /** For `wss://`: the PEM certificate(s) of a private CA, or of a self-signed hub, to trust. Default: Node's bundled CAs. */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** For `wss://`: reject a hub whose certificate does not verify. Default: `true`; turn off only for local tests. */
  rejectUnauthorized?: boolean;
  /** Extra HTTP headers for the upgrade request (e.g. for a proxy in front of the hub). Default: none. */
  headers?: Readonly<Record<string, string>>;
  /** Where to log (namespace `distsync:transport-ws`). Default: no logging. */
  logger?: Logger;
}

/** A {@link ClientTransport} over WebSocket. */
export interface WebSocketClientTransport extends ClientTransport {
  /** The hub URL this transport connects to, as given. */
  readonly url: string;
  connect(options?: { signal?: AbortSignal }): Promise<WebSocketConnection>;
  /** Closes every connection this transport opened and fails connects in progress; idempotent. */
  close(): Promise<void>;
}

/**
 * Creates the client side of the WebSocket transport. Throws a `ConnectionError` at once when
 * `url` is malformed or not `ws://`/`wss://`.
 */
export function createWebSocketClientTransport(
  options: WebSocketClientTransportOptions,
): WebSocketClientTransport {
  return new WebSocketClientTransportImpl(options);
}

class WebSocketClientTransportImpl implements WebSocketClientTransport {
  readonly capabilities: TransportCapabilities;
  readonly url: string;
  readonly #target: URL;
  readonly #highWaterMark: number;
  readonly #connectTimeoutMs: number;
  readonly #options: WebSocketClientTransportOptions;
  readonly #logger: Logger;
  readonly #connections = new Set<WebSocketConnection>();
  /** Connects in progress, each with a way to fail it. */
  readonly #connecting = new Set<(error: DistSyncError) => void>();
  #closing: Promise<void> | undefined;

  constructor(options: WebSocketClientTransportOptions) {
    this.url = typeof options.url === "string" ? options.url : options.url.href;
    this.#target = parseHubUrl(options.url);
    this.capabilities = {
      maxFrameBytes: checkPositiveInteger("maxFrameBytes", options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES),
    };
    this.#highWaterMark = checkPositiveInteger(
      "highWaterMark",
      options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    );
    this.#connectTimeoutMs = checkPositiveInteger("connectTimeoutMs", options.connectTimeoutMs ?? 10_000);
    this.#options = options;
    this.#logger = (options.logger ?? noopLogger).child("distsync:transport-ws");
  }

  async connect(options?: { signal?: AbortSignal }): Promise<WebSocketConnection> {
    const signal = options?.signal;
    if (signal?.aborted) throw abortError(signal, "connect aborted");
    if (this.#closing) throw new ClosedError("client transport is closed");
    return this.#open(signal);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const fail of [...this.#connecting])
      fail(new ClosedError("client transport was closed while connecting"));
    await Promise.all(
      [...this.#connections].map((connection) => connection.close("client transport closed")),
    );
  }

  #open(signal: AbortSignal | undefined): Promise<WebSocketConnection> {
    const url = this.url;
    const options = this.#options;
    // `closeTimeout` exists in ws 8.23 but not yet in @types/ws.
    const socketOptions: WebSocket.ClientOptions & { closeTimeout: number } = {
      perMessageDeflate: false, // DistSync compresses content itself
      maxPayload: this.capabilities.maxFrameBytes,
      followRedirects: false,
      closeTimeout: CLOSE_TIMEOUT_MS,
      ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
      ...(options.ca === undefined ? {} : { ca: isArray(options.ca) ? [...options.ca] : options.ca }),
      ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    };
    return new Promise<WebSocketConnection>((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(this.#target, socketOptions);
      } catch (error) {
        reject(connectError(url, error));
        return;
      }
      socket.binaryType = "nodebuffer";
      let remoteAddress: string | undefined;
      let settled = false;

      const detach = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#connecting.delete(fail);
        socket.off("upgrade", onUpgrade);
        socket.off("unexpected-response", onUnexpectedResponse);
        socket.off("open", onOpen);
        socket.off("error", onError);
      };
      const fail = (error: DistSyncError): void => {
        if (settled) return;
        settled = true;
        detach();
        // Late errors of the aborted handshake have nowhere to go.
        socket.on("error", () => {});
        socket.terminate();
        this.#logger.debug("connect failed", { url, error: error.message });
        reject(error);
      };
      const onOpen = (): void => {
        if (settled) return;
        settled = true;
        detach();
        const connection = new WebSocketConnection(socket, {
          id: nextConnectionId(),
          remoteAddress,
          maxFrameBytes: this.capabilities.maxFrameBytes,
          highWaterMark: this.#highWaterMark,
          logger: this.#logger,
          onClose: (closed) => {
            this.#connections.delete(closed);
          },
        });
        // Tracked before anything else can run, so a concurrent `close()` cannot miss it.
        this.#connections.add(connection);
        this.#logger.debug("connected", { url, id: connection.id, remoteAddress });
        resolve(connection);
      };
      const onUpgrade = (response: IncomingMessage): void => {
        remoteAddress = formatAddress(response.socket.remoteAddress, response.socket.remotePort);
      };
      const onUnexpectedResponse = (_request: ClientRequest, response: IncomingMessage): void => {
        response.resume();
        const status = `HTTP ${response.statusCode ?? "?"}${response.statusMessage ? ` ${response.statusMessage}` : ""}`;
        fail(new ConnectionError(`the hub refused the WebSocket upgrade: ${url} (${status})`));
      };
      const onError = (error: Error): void => {
        fail(connectError(url, error));
      };
      const onAbort = (): void => {
        fail(abortError(signal, "connect aborted"));
      };
      const timer = setTimeout(() => {
        fail(new ConnectionError(`connection timed out after ${this.#connectTimeoutMs} ms: ${url}`));
      }, this.#connectTimeoutMs);

      socket.on("upgrade", onUpgrade);
      socket.on("unexpected-response", onUnexpectedResponse);
      socket.on("open", onOpen);
      socket.on("error", onError);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#connecting.add(fail);
    });
  }
}

/** Checks the hub URL up front, so a typo fails at creation rather than at the first connect. */
function parseHubUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new ConnectionError(`invalid hub URL ${JSON.stringify(String(url))}: not an absolute URL`, {
      cause: error,
    });
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new ConnectionError(
      `unsupported URL scheme '${parsed.protocol}' in ${JSON.stringify(String(url))} — use ws:// or wss://`,
    );
  }
  if (parsed.hostname === "")
    throw new ConnectionError(`invalid hub URL ${JSON.stringify(String(url))}: no host`);
  if (parsed.hash !== "") {
    throw new ConnectionError(
      `invalid hub URL ${JSON.stringify(String(url))}: a WebSocket URL has no #fragment`,
    );
  }
  return parsed;
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|VERIFY|EPROTO/;

/** Wraps a failed connect attempt, naming the URL and the cause. */
function connectError(url: string, error: unknown): ConnectionError {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "ECONNREFUSED":
      return new ConnectionError(`connection refused: ${url} (ECONNREFUSED)`, { cause: error });
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NODATA":
    case "EAI_FAIL":
      return new ConnectionError(`host not found: ${url} (${code})`, { cause: error });
    case "ETIMEDOUT":
      return new ConnectionError(`connection timed out: ${url} (ETIMEDOUT)`, { cause: error });
    case "ECONNRESET":
      return new ConnectionError(`connection reset during the handshake: ${url} (ECONNRESET)`, {
        cause: error,
      });
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new ConnectionError(`host unreachable: ${url} (${code})`, { cause: error });
    default:
      if (code !== undefined && TLS_CODE.test(code)) {
        return new ConnectionError(`TLS handshake failed: ${url} (${code}: ${message})`, { cause: error });
      }
      return new ConnectionError(
        `cannot connect to ${url}: ${message}${code === undefined ? "" : ` (${code})`}`,
        { cause: error },
      );
  }
}

function isArray<T>(value: T | ReadonlyArray<T>): value is ReadonlyArray<T> {
  return Array.isArray(value);
}
