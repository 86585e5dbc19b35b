/** Protocol versions this implementation speaks (inclusive range). See PROTOCOL.md §Versioning. */
export const PROTOCOL_VERSIONS = { min: 1, max: 1 } as const;

/** Content-defined chunking parameters of protocol v1 (FastCDC-style, normalized chunking). */
export const CHUNK_MIN_BYTES = 32 * 1024;
export const CHUNK_AVG_BYTES = 128 * 1024;
export const CHUNK_MAX_BYTES = 512 * 1024;

/** Files whose content fits in one chunk of at most this size travel inside the change itself. */
export const INLINE_MAX_BYTES = 64 * 1024;

/** Room kept in every frame for the message around a chunk of content. */
export const FRAME_OVERHEAD_BYTES = 4 * 1024;

/** The smallest `maxFrameBytes` a transport must offer to carry protocol v1. */
export const MIN_FRAME_BYTES = CHUNK_MAX_BYTES + FRAME_OVERHEAD_BYTES;

/** Largest number of items in one `index`, `propose`, `entries` or `ack` message. */
export const MAX_BATCH_ITEMS = 512;

export const DEFAULT_SPACE = "default";
export const DEFAULT_HEARTBEAT_MS = 1_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
