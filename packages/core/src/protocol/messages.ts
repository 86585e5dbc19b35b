import type { ClientId, ContentHash, EntryMeta, RelPath } from "../types.js";

/** Content that rides inside a message: one chunk, raw or raw-deflate compressed. */
export interface InlineContent {
  encoding: ContentEncoding;
  data: Uint8Array;
}

export type ContentEncoding = "raw" | "deflate";

/** A client's claim about one path: "this is what I have, derived from hub version `base`". */
export interface Proposal {
  path: RelPath;
  /** The hub sequence number this version was made on; 0 when it derives from no known version. */
  base: number;
  entry: EntryMeta;
  /** The whole content, for files of at most one chunk and `INLINE_MAX_BYTES`. */
  data?: InlineContent;
}

/**
 * Why the hub sends an entry to a client: `change` relays another client's change; `overruled`
 * relays a change that beat the recipient's own earlier version (rule 5); `current` answers a
 * proposal the hub already holds, or reports state at join; `lost` answers a proposal that lost.
 */
export type DeliveryCause = "change" | "overruled" | "current" | "lost";

/** A version the hub holds, sent to a client. */
export interface Delivery {
  path: RelPath;
  seq: number;
  origin: ClientId;
  entry: EntryMeta;
  cause: DeliveryCause;
  data?: InlineContent;
}

export interface Accepted {
  path: RelPath;
  seq: number;
  hash: ContentHash | "";
  /**
   * Set when the hub recorded another mtime than proposed (an mtime from the future, clamped to
   * the hub's clock): the proposer adopts it.
   */
  mtimeMs?: number;
}

export type HelloMessage = {
  type: "hello";
  versions: [number, number];
  space: string;
  clientId: ClientId;
  name?: string;
  token?: string;
  /**
   * A secret of this client's process. A connection naming a client id that is already connected
   * replaces the older one only with the same key: client ids travel in every delivery, so without
   * it anyone who may join could push any other client off the hub.
   */
  key?: string;
};
export type WelcomeMessage = {
  type: "welcome";
  version: number;
  clientId: ClientId;
  /** Identifies the hub's state; sequence numbers from another epoch mean nothing here. */
  epoch: string;
  seq: number;
  heartbeatMs: number;
  timeoutMs: number;
};
export type IndexMessage = { type: "index"; items: Proposal[]; final: boolean };
export type ProposeMessage = { type: "propose"; items: Proposal[] };
export type EntriesMessage = { type: "entries"; items: Delivery[] };
export type AckMessage = { type: "ack"; items: Accepted[] };
export type SyncedMessage = { type: "synced"; seq: number };
export type UploadMessage = {
  type: "upload";
  hash: ContentHash;
  path: RelPath;
  /**
   * Content the hub holds for this path (its current version), offered as the base of a delta
   * `manifest`: runs of chunks equal to the base's travel as copies.
   */
  base?: ContentHash;
};
/**
 * Asks for content. With `ranges`, only the chunks at those manifest indexes travel (as `content`
 * with their manifest indexes, ascending), then `content-end` with the whole manifest's count and size.
 */
export type FetchMessage = { type: "fetch"; hash: ContentHash; ranges?: ChunkRanges };
/** Asks for the chunk manifest of content, as `manifest` pages; `base` is content the client holds. */
export type FetchManifestMessage = { type: "fetch-manifest"; hash: ContentHash; base?: ContentHash };
/** Half-open ranges `[start, end)` of chunk indexes, ascending and disjoint. */
export type ChunkRanges = [number, number][];
/**
 * One page of a file's chunk manifest: positions `first … first + count - 1` of `chunks`. Runs in
 * `copies` (`[at, from, length]`: positions `at…` equal the base manifest's `from…`) refer to the
 * manifest of `base`; every other position of the page is a literal, in order: its 32-byte SHA-256
 * digest in `digests` (concatenated) and its raw size in `sizes`.
 */
export type ManifestMessage = {
  type: "manifest";
  hash: ContentHash;
  /** The whole content's size in bytes. */
  size: number;
  /** The whole content's number of chunks. */
  chunks: number;
  first: number;
  count: number;
  base?: ContentHash;
  copies: [number, number, number][];
  digests: Uint8Array;
  sizes: number[];
};
/** The hub's answer to one manifest page of an upload: the chunks of that page it lacks. */
export type NeedMessage = { type: "need"; hash: ContentHash; ranges: ChunkRanges };
export type ContentMessage = {
  type: "content";
  hash: ContentHash;
  index: number;
  /** Raw (uncompressed) size of this chunk. */
  size: number;
  encoding: ContentEncoding;
  data: Uint8Array;
};
export type ContentEndMessage = { type: "content-end"; hash: ContentHash; chunks: number; size: number };
export type ContentAbortMessage = { type: "content-abort"; hash: ContentHash; reason: string };
export type PingMessage = {
  type: "ping";
  time: number;
  /** From a client: the hub sequence number it has applied everything up to (sent when idle). */
  applied?: number;
  /** From the hub: every other live client of the space has applied everything up to this. */
  delivered?: number;
};
export type PongMessage = { type: "pong"; time: number };
export type ByeMessage = { type: "bye" };
export type ErrorMessage = {
  type: "error";
  code: string;
  message: string;
  /** True when the sender closes the connection right after this frame. */
  fatal: boolean;
  path?: string;
  hash?: string;
};

export type ClientMessage =
  | HelloMessage
  | IndexMessage
  | ProposeMessage
  | ContentMessage
  | ContentEndMessage
  | ContentAbortMessage
  | FetchMessage
  | FetchManifestMessage
  | ManifestMessage
  | PingMessage
  | PongMessage
  | ByeMessage
  | ErrorMessage;

export type HubMessage =
  | WelcomeMessage
  | EntriesMessage
  | AckMessage
  | SyncedMessage
  | UploadMessage
  | ManifestMessage
  | NeedMessage
  | ContentMessage
  | ContentEndMessage
  | ContentAbortMessage
  | PingMessage
  | PongMessage
  | ErrorMessage;

export type Message = ClientMessage | HubMessage;
export type MessageType = Message["type"];
