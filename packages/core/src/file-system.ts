import type { DistSyncError } from "./errors.js";
import type { EntryKind, RelPath } from "./types.js";

export interface FileStat {
  path: RelPath;
  /** `"symlink"` only from a file system with `readLink` and `createSymlink`; the link is never followed. */
  kind: EntryKind;
  /** Bytes (0 for directories; for a link, what the system reports, usually the target's length). */
  size: number;
  mtimeMs: number;
  /** The owner-executable bit; always false where the file system has none. */
  executable: boolean;
  /**
   * Files, where the file system has one: the status change time, which every write, rename and
   * attribute change moves and no program can set. Only compared for equality (a counter will do):
   * an unchanged one lets the client trust an unchanged stat without reading the file again.
   */
  ctimeMs?: number;
}

export interface FileAttributes {
  mtimeMs: number;
  executable: boolean;
}

/** A hint that something at `path` changed; the engine re-reads the path to learn what. */
export type WatchEvent =
  | { type: "add" | "change" | "remove"; path: RelPath; kind: EntryKind }
  /** The watched root itself went away (deleted, moved, unmounted). */
  | { type: "root-removed" }
  /** The watcher failed; changes may be missed until it recovers. */
  | { type: "error"; error: DistSyncError };

export interface Watcher {
  close(): Promise<void>;
}

export interface FileReadHandle {
  /** The file's stat when it was opened. */
  readonly stat: FileStat;
  /** Reads up to `length` bytes; an empty array means end of file. */
  read(length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * A file written to a temp file and moved into place by `commit` only: a reader sees the old
 * version or the new one, never a mix. `abort` removes the temp file. Both are idempotent.
 */
export interface FileWriter {
  write(chunk: Uint8Array): Promise<void>;
  commit(attributes: FileAttributes): Promise<void>;
  abort(): Promise<void>;
}

export interface FileSystemCapabilities {
  /** Whether the executable bit is kept. */
  readonly executableBit: boolean;
  /** Whether `watch` reports changes made by other programs. */
  readonly watch: boolean;
  /**
   * Whether names differing only in case (`A.txt`, `a.txt`) are one entry here (macOS, Windows).
   * The client then skips a received path whose twin it holds (`name-collision`). Default false.
   */
  readonly caseInsensitive?: boolean;
  /** Whether NFC and NFD spellings of a name are one entry here (macOS). Default false. */
  readonly normalizationInsensitive?: boolean;
  /**
   * The naming rules of the OS holding the folder, as `process.platform` spells it: on `"win32"`
   * the client skips received names Windows cannot hold (`name-not-supported`, see
   * `unsupportedNameReason`). Default: no rules beyond valid paths.
   */
  readonly platform?: string;
}

/**
 * One synced folder. Every path is a {@link RelPath} that core has validated before the call.
 * Missing paths read as `undefined`; every other failure is a `FileSystemError`. Implementations
 * never report their own temp files (names starting with `.distsync-`), nor the `.distsync` folder.
 */
export interface FileSystem {
  readonly capabilities: FileSystemCapabilities;
  /** False when the root is gone, no longer a directory, or was replaced by another directory. */
  rootExists(): Promise<boolean>;
  /** Every file and directory below the root (not the root), parents before children. */
  walk(): AsyncIterable<FileStat>;
  stat(path: RelPath): Promise<FileStat | undefined>;
  /** Opens a file for sequential reading; `undefined` when it is missing or is a directory. */
  openRead(path: RelPath): Promise<FileReadHandle | undefined>;
  /** Starts an atomic write; parent directories are created as needed. */
  createWriter(path: RelPath): Promise<FileWriter>;
  /** Sets mtime and, for files, the executable bit. */
  setAttributes(path: RelPath, attributes: Partial<FileAttributes>): Promise<void>;
  /** Removes a file or a symbolic link (the link itself, never its target); missing is not an error. */
  remove(path: RelPath): Promise<void>;
  /** Creates a directory and its parents; an existing directory is not an error. */
  mkdir(path: RelPath, attributes?: { mtimeMs?: number }): Promise<void>;
  /** Removes an empty directory; missing is not an error; not empty is `FileSystemError` `ENOTEMPTY`. */
  rmdir(path: RelPath): Promise<void>;
  /** Starts watching; resolves once the watcher is ready (events after that are reported). */
  watch(listener: (event: WatchEvent) => void): Promise<Watcher>;
  /**
   * Optional: reads a small state blob the client keeps beside the synced content but never syncs
   * (its index of agreed versions, so offline deletions are noticed at the next start).
   */
  loadState?(name: string): Promise<Uint8Array | undefined>;
  /** Optional: replaces a state blob atomically (a crash leaves the old one or the new one). */
  saveState?(name: string, data: Uint8Array): Promise<void>;
  /**
   * Optional, for file systems that fold names (`caseInsensitive`, `normalizationInsensitive`):
   * `path` spelled as the entries that exist on disk are spelled, segment by segment, the missing
   * rest as given (`Dir/a.txt` for `dir/a.txt` when the folder holds `Dir`, `dir/a.txt` when it
   * holds nothing of the kind). The client compares it with `path` to find a case-only twin that
   * is on disk but not in its index.
   */
  storedPath?(path: RelPath): Promise<string>;
  /**
   * Optional, with `createSymlink`: symbolic links are synced as links. Without both, a file system
   * never reports links (`walk` and `stat` leave them out) and the client skips received links.
   * Returns the target text of the link at `path`; `undefined` when missing or not a link.
   */
  readLink?(path: RelPath): Promise<string | undefined>;
  /**
   * Optional: creates a symbolic link at `path` atomically (a link at a temp name renamed into
   * place), replacing a file or a link there, never a directory; parents are created as needed.
   * Refuses (`PathNotAllowedError`) a target that leads outside the folder. Sets the link's own
   * mtime (`lutimes`) where the system can.
   */
  createSymlink?(path: RelPath, target: string, attributes?: { mtimeMs?: number }): Promise<void>;
}
