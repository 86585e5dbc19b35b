/**
 * Every failure DistSync reports is a `DistSyncError` with a stable `code`. Identity checks go
 * through a `Symbol.for` marker so they hold across duplicate installs of this package.
 */
const MARKER = Symbol.for("distsync.error");

/** Stable error codes. The CLI maps them to exit codes; the wire carries them in error frames. */
export type ErrorCode =
  | "connection"
  | "protocol"
  | "protocol-version"
  | "auth-refused"
  | "frame-too-large"
  | "path-not-allowed"
  | "path-conflict"
  | "link-not-allowed"
  | "name-not-supported"
  | "name-collision"
  | "timeout"
  | "file-system"
  | "directory-removed"
  | "mass-deletion"
  | "state-write-failed"
  | "client-id-in-use"
  | "too-many-connections"
  | "hub-lost"
  | "content-mismatch"
  | "content-too-large"
  | "closed"
  | "aborted"
  | "internal";

export interface DistSyncErrorOptions {
  cause?: unknown;
}

export class DistSyncError extends Error {
  readonly [MARKER] = true;
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: DistSyncErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DistSyncError";
    this.code = code;
  }

  static isInstance(value: unknown): value is DistSyncError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

function subclassMarker(name: string): symbol {
  return Symbol.for(`distsync.error.${name}`);
}

function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

const CONNECTION = subclassMarker("ConnectionError");
/** The transport could not connect, or the connection broke. */
export class ConnectionError extends DistSyncError {
  readonly [CONNECTION] = true;
  constructor(message: string, options?: DistSyncErrorOptions) {
    super("connection", message, options);
    this.name = "ConnectionError";
  }
  static override isInstance(value: unknown): value is ConnectionError {
    return hasMarker(value, CONNECTION);
  }
}

const PROTOCOL = subclassMarker("ProtocolError");
/** A peer sent a frame that does not follow PROTOCOL.md. */
export class ProtocolError extends DistSyncError {
  readonly [PROTOCOL] = true;
  constructor(message: string, options?: DistSyncErrorOptions) {
    super("protocol", message, options);
    this.name = "ProtocolError";
  }
  static override isInstance(value: unknown): value is ProtocolError {
    return hasMarker(value, PROTOCOL);
  }
}

const PROTOCOL_VERSION = subclassMarker("ProtocolVersionError");
/** The two sides share no protocol version. */
export class ProtocolVersionError extends DistSyncError {
  readonly [PROTOCOL_VERSION] = true;
  readonly offered: readonly number[];
  readonly supported: readonly number[];
  constructor(offered: readonly number[], supported: readonly number[], options?: DistSyncErrorOptions) {
    super(
      "protocol-version",
      `no common protocol version: peer offers ${offered.join("–")}, this side speaks ${supported.join("–")}`,
      options,
    );
    this.name = "ProtocolVersionError";
    this.offered = offered;
    this.supported = supported;
  }
  static override isInstance(value: unknown): value is ProtocolVersionError {
    return hasMarker(value, PROTOCOL_VERSION);
  }
}

const AUTH = subclassMarker("AuthError");
/** The hub refused the token. */
export class AuthError extends DistSyncError {
  readonly [AUTH] = true;
  constructor(message = "authentication refused: wrong or missing token", options?: DistSyncErrorOptions) {
    super("auth-refused", message, options);
    this.name = "AuthError";
  }
  static override isInstance(value: unknown): value is AuthError {
    return hasMarker(value, AUTH);
  }
}

const FRAME = subclassMarker("FrameTooLargeError");
/** A frame is larger than the transport (or the engine) accepts. */
export class FrameTooLargeError extends DistSyncError {
  readonly [FRAME] = true;
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number, options?: DistSyncErrorOptions) {
    super("frame-too-large", `frame of ${size} bytes exceeds the limit of ${limit} bytes`, options);
    this.name = "FrameTooLargeError";
    this.size = size;
    this.limit = limit;
  }
  static override isInstance(value: unknown): value is FrameTooLargeError {
    return hasMarker(value, FRAME);
  }
}

const PATH = subclassMarker("PathNotAllowedError");
/** A path is not a canonical relative POSIX path inside the synced folder. */
export class PathNotAllowedError extends DistSyncError {
  readonly [PATH] = true;
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, options?: DistSyncErrorOptions) {
    super("path-not-allowed", `path not allowed (${reason}): ${JSON.stringify(path)}`, options);
    this.name = "PathNotAllowedError";
    this.path = path;
    this.reason = reason;
  }
  static override isInstance(value: unknown): value is PathNotAllowedError {
    return hasMarker(value, PATH);
  }
}

const NAME = subclassMarker("NameError");
/**
 * A received path that this client's file system cannot hold (`name-not-supported`: `CON.txt` on
 * Windows) or cannot tell apart from another path it holds (`name-collision`: `a.txt` next to
 * `A.txt` on a case-insensitive disk). The path is skipped, never written over the other one.
 */
export class NameError extends DistSyncError {
  readonly [NAME] = true;
  readonly path: string;
  readonly reason: string;
  /** For `name-collision`: the path already held that `path` would land on. */
  readonly other: string | undefined;
  constructor(
    code: "name-not-supported" | "name-collision",
    fields: { path: string; reason: string; other?: string },
    options?: DistSyncErrorOptions,
  ) {
    super(code, nameErrorMessage(code, fields), options);
    this.name = "NameError";
    this.path = fields.path;
    this.reason = fields.reason;
    this.other = fields.other;
  }
  static override isInstance(value: unknown): value is NameError {
    return hasMarker(value, NAME);
  }
}

function nameErrorMessage(
  code: "name-not-supported" | "name-collision",
  fields: { path: string; reason: string; other?: string },
): string {
  const path = JSON.stringify(fields.path);
  if (code === "name-collision") {
    return `skipped ${path}: this file system cannot tell it apart from ${JSON.stringify(fields.other ?? "")} (${fields.reason}); it is applied once that path is gone`;
  }
  return `skipped ${path}: this file system cannot hold the name (${fields.reason})`;
}

const TIMEOUT = subclassMarker("TimeoutError");
/** A peer stayed silent past its timeout, or an operation took too long. */
export class TimeoutError extends DistSyncError {
  readonly [TIMEOUT] = true;
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: DistSyncErrorOptions) {
    super("timeout", message, options);
    this.name = "TimeoutError";
    this.timeoutMs = timeoutMs;
  }
  static override isInstance(value: unknown): value is TimeoutError {
    return hasMarker(value, TIMEOUT);
  }
}

const FILE_SYSTEM = subclassMarker("FileSystemError");
/** A file system operation failed for a reason other than a missing path. */
export class FileSystemError extends DistSyncError {
  readonly [FILE_SYSTEM] = true;
  readonly path: string | undefined;
  /** The underlying system code, e.g. `ENOSPC`, `EACCES`, when known. */
  readonly systemCode: string | undefined;
  constructor(
    message: string,
    fields: { path?: string; systemCode?: string } = {},
    options?: DistSyncErrorOptions,
  ) {
    super("file-system", message, options);
    this.name = "FileSystemError";
    this.path = fields.path;
    this.systemCode = fields.systemCode;
  }
  static override isInstance(value: unknown): value is FileSystemError {
    return hasMarker(value, FILE_SYSTEM);
  }
}

const CONTENT = subclassMarker("ContentError");
/** Received content does not match what was announced (hash, size, encoding). */
export class ContentError extends DistSyncError {
  readonly [CONTENT] = true;
  constructor(
    code: "content-mismatch" | "content-too-large",
    message: string,
    options?: DistSyncErrorOptions,
  ) {
    super(code, message, options);
    this.name = "ContentError";
  }
  static override isInstance(value: unknown): value is ContentError {
    return hasMarker(value, CONTENT);
  }
}

const CLOSED = subclassMarker("ClosedError");
/** The connection, transport or engine is already closed. */
export class ClosedError extends DistSyncError {
  readonly [CLOSED] = true;
  constructor(message = "closed", options?: DistSyncErrorOptions) {
    super("closed", message, options);
    this.name = "ClosedError";
  }
  static override isInstance(value: unknown): value is ClosedError {
    return hasMarker(value, CLOSED);
  }
}
