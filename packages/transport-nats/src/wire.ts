// What this transport puts on NATS: the subjects, the 8-byte prefix of every message on a
// connection's subjects, and the JSON of the connect handshake. Pure functions, no I/O.

/** The default subject prefix: a hub listens on `distsync.hub.connect`. */
export const DEFAULT_SUBJECT_PREFIX = "distsync";

/** Bytes in front of every frame: kind (1), flags (1), sequence number (6, big-endian). */
export const PREFIX_BYTES = 8;

/** The version of this transport's own handshake (not DistSync's protocol version). */
export const WIRE_VERSION = 1;

/** What one message on a connection's subject carries. */
export const Kind = {
  /** One DistSync frame. */
  frame: 1,
  /** The sender closed the connection in an orderly way; the payload is the UTF-8 reason. */
  close: 2,
  /** The sender gave up on the connection because of a failure; the payload is the UTF-8 reason. */
  abort: 3,
} as const;

export type Kind = (typeof Kind)[keyof typeof Kind];

/** Bits of the flags byte (the second byte of the prefix; 0 when none applies). */
export const Flag = {
  /**
   * On an abort: the sender gave up because frames were lost (a gap in the sequence numbers), not
   * because it failed. The receiver then closes with `resync` too, so its engine re-joins at once.
   */
  resync: 1,
} as const;

/** The largest sequence number the 6-byte field holds; a connection never gets near it. */
const MAX_SEQUENCE = 2 ** 48 - 1;

/** The subjects of one hub (one `subjectPrefix`). */
export interface Subjects {
  readonly prefix: string;
  /** Connect requests (request/reply). */
  readonly connect: string;
  /** What the hub subscribes to for client→hub frames of every connection (`<prefix>.hub.c.*`). */
  readonly hubFramesWildcard: string;
  /** The client→hub subject of connection `connId`. */
  hubFrames(connId: string): string;
  /** The `connId` of a subject under `hubFramesWildcard`, or `undefined`. */
  connIdOf(subject: string): string | undefined;
  /** A client's private inbox for hub→client frames of one connection. */
  clientInbox(token: string): string;
}

/** A subject prefix is one or more NATS tokens: no wildcards, no spaces, no empty tokens. */
export function checkSubjectPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new RangeError(
      `subjectPrefix must be dot-separated tokens of letters, digits, '_' and '-' (no wildcards), got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

export function subjectsFor(prefix: string): Subjects {
  const hubFrames = `${prefix}.hub.c.`;
  return {
    prefix,
    connect: `${prefix}.hub.connect`,
    hubFramesWildcard: `${hubFrames}*`,
    hubFrames: (connId) => `${hubFrames}${connId}`,
    connIdOf: (subject) => (subject.startsWith(hubFrames) ? subject.slice(hubFrames.length) : undefined),
    clientInbox: (token) => `${prefix}.client.${token}`,
  };
}

/** `frame` behind the prefix, in a new buffer (so the caller may reuse its own at once). */
export function encodeMessage(kind: Kind, sequence: number, payload: Uint8Array, flags = 0): Uint8Array {
  if (!Number.isSafeInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) {
    throw new RangeError(`sequence number out of range: ${sequence}`);
  }
  const out = new Uint8Array(PREFIX_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, kind);
  view.setUint8(1, flags);
  view.setUint16(2, Math.floor(sequence / 2 ** 32));
  view.setUint32(4, sequence >>> 0);
  out.set(payload, PREFIX_BYTES);
  return out;
}

export interface DecodedMessage {
  /** The kind byte as sent (unknown kinds are the caller's to reject). */
  kind: number;
  /** The flags byte ({@link Flag}); unknown bits are ignored. */
  flags: number;
  sequence: number;
  /** A plain `Uint8Array` view of the bytes after the prefix (no copy). */
  payload: Uint8Array;
}

/** Splits a received message; `undefined` when it is shorter than the prefix. */
export function decodeMessage(data: Uint8Array): DecodedMessage | undefined {
  if (data.byteLength < PREFIX_BYTES) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    kind: view.getUint8(0),
    flags: view.getUint8(1),
    sequence: view.getUint16(2) * 2 ** 32 + view.getUint32(4),
    payload: new Uint8Array(data.buffer, data.byteOffset + PREFIX_BYTES, data.byteLength - PREFIX_BYTES),
  };
}

/** Client → hub on `<prefix>.hub.connect`. */
export interface ConnectRequest {
  v: number;
  /** A probe only asks whether a hub listens (a starting hub checks for another one). */
  probe?: boolean;
  /** The subject the client reads hub→client frames on. */
  inbox?: string;
  /** The largest frame the client's NATS server lets it receive. */
  maxFrameBytes?: number;
  /** The client's address as its NATS server sees it (`client_ip`), when known. */
  address?: string;
}

/** Hub → client, the reply to a {@link ConnectRequest}. */
export interface ConnectReply {
  v: number;
  /** Set when the hub accepted: the subject for client→hub frames of this connection. */
  subject?: string;
  /** The connection's id at the hub (the last token of `subject`). */
  connId?: string;
  maxFrameBytes?: number;
  address?: string;
  /** Set for a probe. */
  hub?: boolean;
  /** Set when the hub refused the connection. */
  error?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: ConnectRequest | ConnectReply): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** The JSON object in `data`, or `undefined` when it is not one. */
export function decodeJson(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(data));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

export function decodeText(data: Uint8Array): string {
  return decoder.decode(data);
}

/** A subject a peer may name as its inbox: tokens without wildcards or whitespace. */
export function isPlainSubject(subject: unknown): subject is string {
  return typeof subject === "string" && /^[^\s.*>]+(\.[^\s.*>]+)*$/.test(subject) && subject.length <= 256;
}

/** A positive safe integer, as a peer may send for `maxFrameBytes`. */
export function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}
