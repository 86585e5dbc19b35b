import { readFile } from "node:fs/promises";
import type { DistSyncError, Logger } from "@distsync/core";
import {
  ConnectionError,
  DistSyncError as DistSyncErrorClass,
  MIN_FRAME_BYTES,
  noopLogger,
} from "@distsync/core";
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  errors as natsErrors,
} from "@nats-io/transport-node";
import {
  checkSubjectPrefix,
  DEFAULT_SUBJECT_PREFIX,
  PREFIX_BYTES,
  type Subjects,
  subjectsFor,
} from "./wire.js";

/** Options shared by {@link createNatsHubTransport} and {@link createNatsClientTransport}. */
export interface NatsTransportOptions {
  /**
   * The NATS server URL(s): `nats://host:port`, optionally with credentials (`nats://user:pass@host:port`,
   * or `nats://token@host:port` for a NATS auth token). Several URLs (an array, or one string with
   * commas) name servers of one cluster. One of `servers` and `url` is required; there is no default,
   * so a transport never talks to whatever happens to listen on 4222.
   */
  servers?: string | readonly string[];
  /** The same as `servers`, for a single URL. */
  url?: string;
  /**
   * The first tokens of every subject this transport uses; hub and clients must agree. One NATS
   * server can carry independent hubs under different prefixes. Default: `"distsync"`.
   */
  subjectPrefix?: string;
  /** A NATS auth token (the server's `authorization { token }`), not DistSync's own token. Default: none. */
  token?: string;
  /** A NATS user name (with `pass`). Default: none, or the one in the URL. */
  user?: string;
  /** The NATS user's password. Default: none, or the one in the URL. */
  pass?: string;
  /** Path of a NATS `.creds` file (JWT + NKey seed, decentralized auth); read at every connect. Default: none. */
  credsFile?: string;
  /**
   * How long connecting may take, per attempt: dialling the NATS server, and for a client also the
   * hub's answer to the connect request. Default: `5000` ms.
   */
  connectTimeoutMs?: number;
  /** The connection name shown by the NATS server's monitoring. Default: `"distsync-hub"` / `"distsync-client"`. */
  name?: string;
  /**
   * Bytes a side may have published and not yet seen acknowledged by its NATS server (a PING/PONG
   * after them) before `send()` waits. Default: 4 MiB (`4 * 1024 * 1024`).
   */
  highWaterMark?: number;
  /** Where to log (namespace `distsync:transport-nats`). Default: no logging. */
  logger?: Logger;
}

/** The default of `highWaterMark`: 4 MiB. */
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** The default of `connectTimeoutMs`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** NATS' default `max_payload` (1 MiB), assumed until the server says otherwise. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** How long closing waits for the NATS server to take what was published (close messages). */
export const CLOSE_FLUSH_TIMEOUT_MS = 1000;

/** Options checked once, at creation. */
export interface ResolvedOptions {
  /** Server URLs without credentials, as given to the NATS client. */
  servers: string[];
  /** The URLs for messages and `url`: credentials replaced by `***`, joined by commas. */
  display: string;
  subjects: Subjects;
  token: string | undefined;
  user: string | undefined;
  pass: string | undefined;
  credsFile: string | undefined;
  connectTimeoutMs: number;
  name: string;
  highWaterMark: number;
  logger: Logger;
}

/** Checks `options`; a malformed URL or option throws at once (`ConnectionError` / `RangeError`). */
export function resolveOptions(options: NatsTransportOptions, defaultName: string): ResolvedOptions {
  const given = serverList(options);
  const parsed = given.map(parseServerUrl);
  // Credentials in the URL apply when no option sets them (the first URL that has some wins).
  const fromUrl = parsed.find((p) => p.user !== undefined || p.token !== undefined);
  const explicit =
    options.token !== undefined || options.user !== undefined || options.credsFile !== undefined;
  const token = options.token ?? (explicit ? undefined : fromUrl?.token);
  const user = options.user ?? (explicit ? undefined : fromUrl?.user);
  const pass = options.pass ?? (explicit ? undefined : fromUrl?.pass);
  if (pass !== undefined && user === undefined) throw new RangeError("pass needs user");
  return {
    servers: parsed.map((p) => p.server),
    display: parsed.map((p) => p.display).join(","),
    subjects: subjectsFor(checkSubjectPrefix(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX)),
    token,
    user,
    pass,
    credsFile: options.credsFile,
    connectTimeoutMs: checkPositiveInteger(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ),
    name: options.name ?? defaultName,
    highWaterMark: checkPositiveInteger("highWaterMark", options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK),
    logger: (options.logger ?? noopLogger).child("distsync:transport-nats"),
  };
}

function serverList(options: NatsTransportOptions): string[] {
  const raw = options.servers ?? options.url;
  if (options.servers !== undefined && options.url !== undefined) {
    throw new ConnectionError("give either servers or url, not both");
  }
  const list = (typeof raw === "string" ? [raw] : [...(raw ?? [])])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (list.length === 0) {
    throw new ConnectionError("no NATS server given: set servers or url (e.g. nats://127.0.0.1:4222)");
  }
  return list;
}

interface ParsedServer {
  server: string;
  display: string;
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * One `nats://` URL, split into the server (for the NATS client, which ignores credentials in URLs)
 * and its credentials: `user:pass@` or, with no password, a token.
 */
function parseServerUrl(text: string): ParsedServer {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new ConnectionError(`invalid NATS URL ${JSON.stringify(text)}: not an absolute URL`, {
      cause: error,
    });
  }
  if (url.protocol !== "nats:") {
    throw new ConnectionError(
      `unsupported URL scheme '${url.protocol}' in ${JSON.stringify(redactUrl(text))} — use nats://host:port`,
    );
  }
  if (url.hostname === "") throw new ConnectionError(`invalid NATS URL ${JSON.stringify(text)}: no host`);
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    throw new ConnectionError(
      `invalid NATS URL ${JSON.stringify(redactUrl(text))}: a NATS URL has no path, query or fragment (use subjectPrefix)`,
    );
  }
  const host = url.port === "" ? url.hostname : `${url.hostname}:${url.port}`;
  const server = `nats://${host}`;
  const user = url.username === "" ? undefined : decodeURIComponent(url.username);
  const pass = url.password === "" ? undefined : decodeURIComponent(url.password);
  if (user === undefined) return { server, display: server };
  if (pass === undefined) return { server, display: `nats://***@${host}`, token: user };
  return { server, display: `nats://${url.username}:***@${host}`, user, pass };
}

/** `text` with any password or token in it replaced by `***` (for messages); other text unchanged. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => {
    const colon = auth.indexOf(":");
    return colon === -1 ? `${scheme}***@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

/** Checks a size option: a positive safe integer. */
export function checkPositiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Opens a NATS connection. A hub keeps reconnecting for ever once connected (`reconnect`); a client
 * does not (the engine reconnects, through a new connect). The first connect never retries, so an
 * unreachable server fails within `connectTimeoutMs` with a `ConnectionError` naming the URL.
 */
export async function openNatsConnection(
  resolved: ResolvedOptions,
  { reconnect, signal }: { reconnect: boolean; signal: AbortSignal | undefined },
): Promise<NatsConnection> {
  const where = resolved.display;
  let authenticator: Authenticator | undefined;
  if (resolved.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = await readFile(resolved.credsFile);
    } catch (error) {
      throw new ConnectionError(
        `cannot read the NATS credentials file ${resolved.credsFile}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    authenticator = credsAuthenticator(creds);
    try {
      // Parses the JWT and the seed now: a broken file is named here, not as a failed connect.
      authenticator(undefined);
    } catch (error) {
      throw new ConnectionError(
        `the NATS credentials file ${resolved.credsFile} is not a .creds file (a user JWT and an NKey seed): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  const options: NodeConnectionOptions = {
    servers: resolved.servers,
    name: resolved.name,
    timeout: resolved.connectTimeoutMs,
    waitOnFirstConnect: false,
    reconnect,
    maxReconnectAttempts: reconnect ? -1 : 0,
    reconnectTimeWait: 500,
    ...(resolved.token === undefined ? {} : { token: resolved.token }),
    ...(resolved.user === undefined ? {} : { user: resolved.user }),
    ...(resolved.pass === undefined ? {} : { pass: resolved.pass }),
    ...(authenticator === undefined ? {} : { authenticator }),
  };
  const connecting = connect(options);
  let nc: NatsConnection;
  try {
    nc = await settleWithin(connecting, resolved.connectTimeoutMs + 1000, signal);
  } catch (error) {
    // A connect that completes after a timeout or an abort is closed at once.
    void connecting.then((late) => late.close()).catch(() => {});
    if (error === ABORTED) throw abortError(signal, "connect aborted");
    if (error === TIMED_OUT) {
      throw new ConnectionError(
        `connection timed out after ${resolved.connectTimeoutMs} ms: NATS server ${where}`,
      );
    }
    throw natsConnectError(where, resolved.connectTimeoutMs, error);
  }
  const maxPayload = nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  if (maxPayload - PREFIX_BYTES < MIN_FRAME_BYTES) {
    await nc.close().catch(() => {});
    throw new ConnectionError(
      `the NATS server at ${where} allows messages of at most ${maxPayload} bytes (max_payload); DistSync needs ${MIN_FRAME_BYTES + PREFIX_BYTES}: raise max_payload to at least 1MB`,
    );
  }
  resolved.logger.debug("connected to NATS", {
    server: nc.getServer(),
    maxPayload,
    jetstream: nc.info?.jetstream === true,
  });
  return nc;
}

/** The largest frame a NATS connection carries: the server's `max_payload` minus this transport's prefix. */
export function maxFrameBytesOf(nc: NatsConnection): number {
  return (nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - PREFIX_BYTES;
}

const ABORTED = Symbol("aborted");
const TIMED_OUT = Symbol("timed out");

/**
 * `promise`, or a rejection with {@link TIMED_OUT} after `ms` (no limit when `undefined`), or with
 * {@link ABORTED} when `signal` aborts.
 */
export function settleWithin<T>(
  promise: Promise<T>,
  ms: number | undefined,
  signal?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(ABORTED);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      done();
      reject(ABORTED);
    };
    const timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            done();
            reject(TIMED_OUT);
          }, ms);
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

export function isAborted(error: unknown): boolean {
  return error === ABORTED;
}

export function isTimedOut(error: unknown): boolean {
  return error === TIMED_OUT;
}

/** Flushes, then closes `nc`, without waiting more than {@link CLOSE_FLUSH_TIMEOUT_MS} for the flush. */
export async function flushAndClose(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  // `close()` drops what is not written yet, and a flush pending at `close()` never settles.
  await settleWithin(nc.flush(), CLOSE_FLUSH_TIMEOUT_MS).catch(() => {});
  await nc.close().catch(() => {});
}

/** Wraps what the NATS client reports for a failed connect; raw NATS errors never reach core. */
function natsConnectError(where: string, timeoutMs: number, error: unknown): DistSyncError {
  if (DistSyncErrorClass.isInstance(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof natsErrors.AuthorizationError ||
    error instanceof natsErrors.UserAuthenticationExpiredError
  ) {
    return new ConnectionError(`the NATS server at ${where} refused the credentials: ${message}`, {
      cause: error,
    });
  }
  if (error instanceof natsErrors.TimeoutError) {
    return new ConnectionError(`connection timed out after ${timeoutMs} ms: NATS server ${where}`, {
      cause: error,
    });
  }
  const code = errorCode(error);
  if (message === "connection refused" || code === "ECONNREFUSED") {
    return new ConnectionError(`connection refused: NATS server ${where} (ECONNREFUSED)`, { cause: error });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new ConnectionError(`host not found: NATS server ${where} (${code})`, { cause: error });
  }
  return new ConnectionError(
    `cannot connect to the NATS server at ${where}: ${message}${code === undefined ? "" : ` (${code})`}`,
    { cause: error },
  );
}

/** The `code` of a Node error, or of its `cause`, when it has one. */
function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 4; depth++) {
    const code: unknown = Reflect.get(e, "code");
    if (typeof code === "string") return code;
    e = Reflect.get(e, "cause");
  }
  return undefined;
}

export function abortError(signal: AbortSignal | undefined, message: string): DistSyncError {
  return new DistSyncErrorClass("aborted", message, { cause: signal?.reason });
}

/** After this many frames, or this many bytes, since the last one, `Outflow` asks for a PONG. */
const MARK_FRAMES = 64;
const MARK_BYTES = 256 * 1024;

/**
 * Backpressure for one NATS connection, shared by its DistSync connections. NATS publishes are
 * fire-and-forget into the client's buffer; a flush (PING → PONG) confirms the server has read
 * everything before it. Rather than flushing every frame (about 9× slower, see the README), this
 * sends a PING every {@link MARK_FRAMES} frames or {@link MARK_BYTES} bytes without waiting for it,
 * and makes a sender wait only while more than `highWaterMark` bytes before its frame are
 * unconfirmed: a window, so a link with a long round trip still streams.
 */
export class Outflow {
  readonly #nc: NatsConnection;
  readonly #highWaterMark: number;
  /** Bytes published, in total. */
  #published = 0;
  /** Bytes covered by the last PING sent. */
  #marked = 0;
  /** Bytes the server has confirmed (a PONG came back for a PING after them). */
  #confirmed = 0;
  #framesSinceMark = 0;
  readonly #waiters = new Set<{ target: number; resolve: () => void }>();

  constructor(nc: NatsConnection, highWaterMark: number) {
    this.#nc = nc;
    this.#highWaterMark = highWaterMark;
  }

  /** Publishes `data` (throws what the NATS client throws); returns the position after it. */
  publish(subject: string, data: Uint8Array): number {
    this.#nc.publish(subject, data);
    this.#published += data.byteLength;
    this.#framesSinceMark += 1;
    if (this.#framesSinceMark >= MARK_FRAMES || this.#published - this.#marked >= MARK_BYTES) this.#mark();
    return this.#published;
  }

  /**
   * `undefined` when at most `highWaterMark` bytes published before `position` are unconfirmed;
   * otherwise a promise that resolves once that is so. It never rejects: when the NATS connection
   * fails it resolves, and the DistSync connection, closed by then, has already failed the send.
   */
  room(position: number): Promise<void> | undefined {
    const target = position - this.#highWaterMark;
    if (this.#confirmed >= target) return undefined;
    if (this.#marked < target) this.#mark();
    return new Promise<void>((resolve) => {
      this.#waiters.add({ target, resolve });
    });
  }

  /** Forgets every waiter (their connections are closed by then). */
  dispose(): void {
    this.#waiters.clear();
  }

  #mark(): void {
    const at = this.#published;
    this.#marked = at;
    this.#framesSinceMark = 0;
    let flushed: Promise<void>;
    try {
      flushed = this.#nc.flush();
    } catch {
      return; // closed: the connections close too
    }
    flushed.then(
      () => {
        if (at <= this.#confirmed) return;
        this.#confirmed = at;
        for (const waiter of [...this.#waiters]) {
          if (waiter.target > at) continue;
          this.#waiters.delete(waiter);
          waiter.resolve();
        }
      },
      () => {
        // Disconnected (a hub reconnects) or closed: every PING still out is lost, and the
        // connections of this NATS connection have closed and ended their waits. Start over, so
        // that a send after a reconnect asks for a new PONG instead of waiting for a lost one.
        this.#marked = this.#confirmed;
        this.#framesSinceMark = 0;
        for (const waiter of this.#waiters) waiter.resolve();
        this.#waiters.clear();
      },
    );
  }
}
