/** Protocol versions this implementation speaks (inclusive range). See PROTOCOL.md §Versioning. */
export const PROTOCOL_VERSIONS = { min: 1, max: 1 } as const;

/**
 * Content-defined chunking parameters of protocol v1 (FastCDC-style, normalized chunking of level
 * 1). Chosen by measurement (PROTOCOL.md §5): 16/64/256 KiB resynchronises within about one chunk
 * after an edit, where 32/128/512 KiB with level-2 normalization needed several.
 */
export const CHUNK_MIN_BYTES = 16 * 1024;
export const CHUNK_AVG_BYTES = 64 * 1024;
export const CHUNK_MAX_BYTES = 256 * 1024;

/** Files whose content fits in one chunk of at most this size travel inside the change itself. */
export const INLINE_MAX_BYTES = 64 * 1024;

/** Room kept in every frame for the message around a chunk of content. */
export const FRAME_OVERHEAD_BYTES = 4 * 1024;

/**
 * The smallest `maxFrameBytes` a transport must offer to carry protocol v1: room for a chunk of
 * content (at most `CHUNK_MAX_BYTES`) or a full `manifest` page (~300 KiB), with margin.
 */
export const MIN_FRAME_BYTES = 512 * 1024 + FRAME_OVERHEAD_BYTES;

/**
 * Most literal chunk entries (32-byte digest + size) in one `manifest` page (~300 KiB, within
 * `MIN_FRAME_BYTES`), most copy runs in one page, and most ranges in one `need` or `fetch`.
 */
export const MANIFEST_PAGE_CHUNKS = 8192;

/** Files above this size travel by manifest: only chunks the other side lacks are sent. */
export const DELTA_MIN_BYTES = 2 * CHUNK_MAX_BYTES;

/** Largest number of items in one `index`, `propose`, `entries` or `ack` message. */
export const MAX_BATCH_ITEMS = 512;

export const DEFAULT_SPACE = "default";
export const DEFAULT_HEARTBEAT_MS = 1_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
