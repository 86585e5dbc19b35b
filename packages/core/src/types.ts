/** Branded string types: a plain string must pass a validator before it can be used as one. */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A canonical relative POSIX path in NFC, checked by {@link validatePath}. */
export type RelPath = Brand<string, "RelPath">;
/** A client's identity within a space (random, chosen by the client). */
export type ClientId = Brand<string, "ClientId">;
/** A connection's identity within a transport. */
export type ConnectionId = Brand<string, "ConnectionId">;
/** Lower-case hex SHA-256 of a file's content, as defined in PROTOCOL.md ("content hash"). */
export type ContentHash = Brand<string, "ContentHash">;
/** The name of a sync space. */
export type SpaceName = Brand<string, "SpaceName">;

/** What a path is. A `"symlink"` is a symbolic link, synced as its target text (never followed). */
export type EntryKind = "file" | "directory" | "symlink";

/**
 * The metadata of one path as the protocol sees it. A tombstone (`deleted: true`) keeps the kind of
 * what was deleted and uses `mtimeMs` as the deletion time.
 */
export interface EntryMeta {
  kind: EntryKind;
  deleted: boolean;
  /** Size in bytes (0 for directories and tombstones). */
  size: number;
  /** Modification time in milliseconds since the epoch; for tombstones, the deletion time. */
  mtimeMs: number;
  /** Content hash for live files; the empty string for directories and tombstones. */
  hash: ContentHash | "";
  /** The owner-executable bit (files only). */
  executable: boolean;
  /**
   * A live symbolic link's target, exactly as `readlink` gives it: a relative POSIX path that stays
   * inside the folder (see `linkTargetProblem`). Absent for every other entry, tombstones included.
   */
  target?: string;
}

/** An entry as the hub records it: the metadata plus the hub's ordering fields. */
export interface IndexEntry extends EntryMeta {
  path: RelPath;
  /** The hub's sequence number of the change that produced this version (per space). */
  seq: number;
  /** The client whose change produced this version. */
  origin: ClientId;
}
