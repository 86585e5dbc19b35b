import { randomBytes } from "node:crypto";
import {
  type BigIntStats,
  close as closeFd,
  constants,
  type Dirent,
  fstat as fstatFd,
  watch as fsWatch,
  type FSWatcher as NodeWatcher,
  open as openFd,
  type Stats,
} from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import * as nodePath from "node:path";
import { promisify } from "node:util";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import { DistSyncError, FileSystemError, PathNotAllowedError } from "../errors.js";
import type {
  FileAttributes,
  FileReadHandle,
  FileStat,
  FileSystem,
  FileSystemCapabilities,
  FileWriter,
  WatchEvent,
  Watcher,
} from "../file-system.js";
import { linkTargetProblem } from "../link-target.js";
import { INTERNAL_PREFIX, isInternalPath, parentPath, pathProblem, STATE_DIR_NAME } from "../paths.js";
import { foldPath, type NameFolding } from "../sync/name-rules.js";
import type { RelPath } from "../types.js";
import { startDirectoryWatcher } from "./directory-watcher.js";
import { DEFAULT_SCAN_INTERVAL_MS, startScanWatcher } from "./scan-watcher.js";
import { watchWithTrailingEvents } from "./trailing-watch-events.js";

export interface NodeFileSystemOptions {
  /**
   * `fsync` each file before it is moved into place, so a crash cannot leave a torn or empty file
   * behind the new name. Default `true`.
   */
  durable?: boolean;
  /**
   * Called for each entry that `walk` or `watch` leaves out although it is not DistSync's own:
   * symbolic links leading outside the folder (once per path), special files, names that are not
   * valid paths (`reason` says which). Links that stay inside are entries of kind `"symlink"`. The
   * entries below a skipped directory are not visited, so they are not reported. Default: none.
   */
  onSkip?: (path: string, reason: string) => void;
  /**
   * When the OS refuses to watch the folder (the inotify limits: `ENOSPC` "System limit for
   * number of file watchers reached", or `EMFILE`), `watch` reports one error naming the limit to
   * raise and falls back to walking the folder every `scanIntervalMs`, comparing stats. Default
   * 2000 ms.
   */
  scanIntervalMs?: number;
  /** Skip the OS watcher and scan periodically from the start (tests, exotic mounts). Default false. */
  forceScanFallback?: boolean;
  /**
   * How the folder is watched: `"directories"`, one OS watch per directory and one `lstat` per
   * event (see `startDirectoryWatcher`), or `"chokidar"`. Default `"directories"` on Linux, where
   * it is tested, and `"chokidar"` elsewhere.
   */
  watcher?: "directories" | "chokidar";
  /**
   * The naming rules to advertise as the `platform` capability (the client skips received names
   * this OS cannot hold). Default `process.platform`; `"win32"` on another OS is for tests.
   */
  platform?: string;
  /**
   * @internal Test seam, not for programs: awaited after a writer's last check and right before
   * its rename, so a test can swap a parent directory for a symbolic link inside that window and
   * see the re-check after the rename catch it.
   */
  beforeRenameForTests?: (path: RelPath) => Promise<void> | void;
}

/** Opens without following a final symbolic link, and without blocking on a FIFO. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
/** How many `lstat` calls `walk` keeps in flight. */
const WALK_BATCH = 32;
/** The temp files `createWriter` makes; a crash (kill -9, power loss) can leave them behind. */
const TEMP_FILE = /^\.distsync-[0-9a-f]{16}\.tmp$/;
/** The temp files `saveState` makes in the state folder. */
const STATE_TEMP_FILE = /\.[0-9a-f]{12}\.tmp$/;

/**
 * Opens the folder at `root` (relative to the working directory if not absolute). Fails with
 * `FileSystemError` `ENOENT` or `ENOTDIR` when it is missing or not a directory.
 */
export async function createNodeFileSystem(
  root: string,
  options: NodeFileSystemOptions = {},
): Promise<NodeFileSystem> {
  const absolute = nodePath.resolve(root);
  let stats: Awaited<ReturnType<typeof statIdentity>>;
  let realRoot: string;
  try {
    stats = await statIdentity(absolute);
    realRoot = await fsp.realpath(absolute);
  } catch (error) {
    throw mapError("open the folder", absolute, error);
  }
  if (!stats.isDirectory()) {
    throw new FileSystemError(`open the folder ${JSON.stringify(absolute)} failed: not a directory`, {
      path: absolute,
      systemCode: "ENOTDIR",
    });
  }
  // Holding the directory open keeps its inode allocated, so a new directory created under the
  // same name cannot get the same inode number (ext4 reuses a freed one at once). Windows cannot
  // open a directory this way; there the dev/ino check is all we have.
  let fd: number | undefined;
  try {
    fd = await openAsync(absolute, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
    // Identify exactly what is pinned, in case the root was swapped since the stat above.
    stats = await fstatAsync(fd, { bigint: true });
  } catch {
    if (fd !== undefined) await closeAsync(fd).catch(() => {});
    fd = undefined;
  }
  const folding = await probeFolding(absolute);
  return new NodeFileSystem(
    { root: absolute, realRoot, dev: stats.dev, ino: stats.ino, fd, folding },
    options,
  );
}

/**
 * Learns whether the folder's file system folds case (`A` and `a` are one name) and Unicode
 * normalization (NFC and NFD are one name): creates a probe file in `<root>/.distsync/` and looks
 * it up spelled otherwise. When the probe cannot run (a read-only folder, `.distsync` not a plain
 * directory), assumes the usual defaults of the OS: both on macOS, case on Windows, neither elsewhere.
 */
export async function probeFolding(root: string): Promise<NameFolding> {
  const fallback: NameFolding = {
    caseInsensitive: process.platform === "darwin" || process.platform === "win32",
    normalizationInsensitive: process.platform === "darwin",
  };
  const dir = nodePath.join(root, STATE_DIR_NAME);
  let created = false;
  try {
    await fsp.mkdir(dir);
    created = true;
  } catch (error) {
    if (systemCodeOf(error) !== "EEXIST") return fallback;
  }
  // "probe-<hex>-xé": lower case, and an é that NFD spells as e + U+0301.
  const name = `probe-${randomBytes(6).toString("hex")}-x\u00e9.tmp`;
  const probe = nodePath.join(dir, name);
  try {
    if (!(await fsp.lstat(dir)).isDirectory()) return fallback; // a link: not ours to write through
    await (await fsp.open(probe, "wx")).close();
    try {
      const exists = (other: string) =>
        fsp.lstat(nodePath.join(dir, other)).then(
          () => true,
          () => false,
        );
      return {
        caseInsensitive: await exists(name.toUpperCase()),
        normalizationInsensitive: await exists(name.normalize("NFD")),
      };
    } finally {
      await fsp.unlink(probe).catch(() => {});
    }
  } catch {
    return fallback;
  } finally {
    if (created) await fsp.rmdir(dir).catch(() => {});
  }
}

const openAsync = promisify(openFd);
const closeAsync = promisify(closeFd);
const fstatAsync = (fd: number, options: { bigint: true }) =>
  new Promise<BigIntStats>((resolve, reject) =>
    fstatFd(fd, options, (error, stats) => (error ? reject(error) : resolve(stats))),
  );

/** What {@link createNodeFileSystem} learned about the root; the root must keep this identity. */
export interface NodeFileSystemRoot {
  /** Absolute path. */
  root: string;
  /** `realpath` of the root: writes must land below it. */
  realRoot: string;
  dev: bigint;
  ino: bigint;
  /** An open descriptor of the root that pins its inode; released by `close()`. */
  fd?: number | undefined;
  /** How the file system compares names (see `probeFolding`). Default: it folds nothing. */
  folding?: NameFolding | undefined;
}

/**
 * A folder on the local disk. Writes go to a temp file next to the target and are renamed into
 * place; nothing is ever read or written through a symbolic link or outside the root; `watch`
 * uses the OS's notifications, never polling unless the OS refuses (one `fs.watch` per directory on
 * Linux, chokidar elsewhere: `NodeFileSystemOptions.watcher`). Create one with
 * {@link createNodeFileSystem}.
 */
export class NodeFileSystem implements FileSystem {
  readonly capabilities: FileSystemCapabilities = {
    executableBit: process.platform !== "win32",
    watch: true,
  };
  /** The absolute path of the root. */
  readonly root: string;
  readonly #identity: NodeFileSystemRoot;
  readonly #durable: boolean;
  readonly #onSkip: (path: string, reason: string) => void;
  #fd: number | undefined;
  readonly #pendingChecks = { value: 0 };
  readonly #scanIntervalMs: number;
  readonly #forceScan: boolean;
  readonly #watcherKind: "directories" | "chokidar";
  /** Absolute paths of the temp files of writers still open: never taken for stale ones. */
  readonly #liveTemps = new Set<string>();
  /** Links already reported through `onSkip` as leading outside: one report per path. */
  readonly #reportedLinks = new Set<string>();
  readonly #beforeRename: ((path: RelPath) => Promise<void> | void) | undefined;

  constructor(identity: NodeFileSystemRoot, options: NodeFileSystemOptions = {}) {
    this.root = identity.root;
    this.#identity = identity;
    this.#durable = options.durable ?? true;
    this.#onSkip = options.onSkip ?? (() => {});
    this.#fd = identity.fd;
    this.#scanIntervalMs = options.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS;
    this.#forceScan = options.forceScanFallback ?? false;
    this.#watcherKind = options.watcher ?? (process.platform === "linux" ? "directories" : "chokidar");
    this.#beforeRename = options.beforeRenameForTests;
    this.capabilities = {
      ...this.capabilities,
      caseInsensitive: identity.folding?.caseInsensitive ?? false,
      normalizationInsensitive: identity.folding?.normalizationInsensitive ?? false,
      platform: options.platform ?? process.platform,
    };
  }

  /**
   * Releases the descriptor that pins the root's identity (not part of `FileSystem`). Other
   * operations keep working, but a root replaced afterwards may go unnoticed. Idempotent.
   */
  async close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await closeAsync(fd).catch(() => {});
  }

  async rootExists(): Promise<boolean> {
    try {
      const stats = await statIdentity(this.root);
      return stats.isDirectory() && stats.dev === this.#identity.dev && stats.ino === this.#identity.ino;
    } catch {
      return false;
    }
  }

  async *walk(): AsyncIterable<FileStat> {
    await this.#assertRoot("walk", "");
    // Directories still to list. Each is listed whole (one readdir), its entries reported in name
    // order, then its subdirectories are visited in name order: parents always come first.
    const stack: string[] = [""];
    for (let directory = stack.pop(); directory !== undefined; directory = stack.pop()) {
      let entries: Dirent[];
      try {
        entries = await fsp.readdir(this.#absolute(directory), { withFileTypes: true });
      } catch (error) {
        // A directory removed (or replaced by a file) since its parent was listed is just gone.
        const code = systemCodeOf(error);
        if (directory !== "" && (code === "ENOENT" || code === "ENOTDIR")) continue;
        throw mapError("walk", directory === "" ? this.root : directory, error);
      }
      entries.sort((a, b) => compareNames(a.name, b.name));
      const subdirectories: string[] = [];
      for (let i = 0; i < entries.length; i += WALK_BATCH) {
        const batch = entries.slice(i, i + WALK_BATCH).map((entry) => this.#walkEntry(directory, entry));
        for (const stat of await Promise.all(batch)) {
          if (stat === undefined) continue;
          yield stat;
          if (stat.kind === "directory") subdirectories.push(stat.path);
        }
      }
      for (let i = subdirectories.length - 1; i >= 0; i--) stack.push(subdirectories[i]!);
    }
  }

  async stat(path: RelPath): Promise<FileStat | undefined> {
    const absolute = this.#resolve(path);
    if (!(await this.#checkRealDirectory("stat", path, nodePath.dirname(absolute)))) {
      return this.#missing("stat", path);
    }
    let stats: Stats;
    try {
      stats = await fsp.lstat(absolute);
    } catch (error) {
      if (systemCodeOf(error) === "ENOENT") return this.#missing("stat", path);
      throw mapError("stat", path, error);
    }
    if (stats.isSymbolicLink()) return this.#linkStat(path, stats, true);
    return this.#toStat(path, stats);
  }

  async openRead(path: RelPath): Promise<FileReadHandle | undefined> {
    const absolute = this.#resolve(path);
    if (!(await this.#checkRealDirectory("open", path, nodePath.dirname(absolute)))) {
      return this.#missing("open", path);
    }
    let handle: FileHandle;
    try {
      handle = await fsp.open(absolute, READ_FLAGS);
    } catch (error) {
      const code = systemCodeOf(error);
      if (code === "ENOENT") return this.#missing("open", path);
      if (code === "ELOOP") return undefined; // a symbolic link: not a file as far as DistSync knows
      throw mapError("open", path, error);
    }
    try {
      const stat = this.#toStat(path, await handle.stat());
      if (stat?.kind !== "file") {
        await handle.close();
        return undefined;
      }
      return new NodeReadHandle(handle, stat);
    } catch (error) {
      await handle.close().catch(() => {});
      throw mapError("open", path, error);
    }
  }

  /** Reads `<root>/.distsync/<name>`: state the client keeps beside the content, never synced. */
  async loadState(name: string): Promise<Uint8Array | undefined> {
    await this.#removeStaleStateTemps();
    try {
      return new Uint8Array(await fsp.readFile(nodePath.join(this.root, STATE_DIR_NAME, stateName(name))));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw mapError("read state", STATE_DIR_NAME as RelPath, error);
    }
  }

  /** Replaces `<root>/.distsync/<name>` atomically (temp, fsync, rename). */
  async saveState(name: string, data: Uint8Array): Promise<void> {
    const dir = nodePath.join(this.root, STATE_DIR_NAME);
    const final = nodePath.join(dir, stateName(name));
    const temp = `${final}.${randomBytes(6).toString("hex")}.tmp`;
    this.#liveTemps.add(temp);
    try {
      // Not recursive: a root that is gone must stay gone, not come back holding our state.
      await fsp.mkdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
      const handle = await fsp.open(temp, "w");
      try {
        await handle.writeFile(data);
        if (this.#durable) await handle.datasync();
      } finally {
        await handle.close();
      }
      await fsp.rename(temp, final);
    } catch (error) {
      await fsp.rm(temp, { force: true }).catch(() => {});
      throw mapError("save state", STATE_DIR_NAME as RelPath, error);
    } finally {
      this.#liveTemps.delete(temp);
    }
  }

  /**
   * `path` spelled as the existing entries are spelled on disk (see `FileSystem.storedPath`). On a
   * file system that folds nothing, the spelling is always the one given. Lists one directory per
   * existing segment, so the client calls it only on folding file systems and only for new paths.
   */
  async storedPath(path: RelPath): Promise<string> {
    this.#resolve(path);
    const folding: NameFolding = this.capabilities;
    if (!folding.caseInsensitive && !folding.normalizationInsensitive) return path;
    const segments = path.split("/");
    const spelled: string[] = [];
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      let names: string[];
      try {
        names = await fsp.readdir(this.#absolute(spelled.join("/")));
      } catch {
        return [...spelled, ...segments.slice(i)].join("/"); // missing, or not a directory
      }
      const key = foldPath(segment, folding);
      const found = names.includes(segment) ? segment : names.find((name) => foldPath(name, folding) === key);
      if (found === undefined) return [...spelled, ...segments.slice(i)].join("/");
      spelled.push(found);
    }
    return spelled.join("/");
  }

  async createWriter(path: RelPath): Promise<FileWriter> {
    const absolute = this.#resolve(path);
    await this.#assertRoot("write", path);
    const directory = nodePath.dirname(absolute);
    const parent = parentPath(path);
    if (parent !== undefined) await this.#ensureDirectory("write", path, parent, "ENOTDIR");
    const existing = await fsp.lstat(absolute).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new FileSystemError(`write ${JSON.stringify(path)} failed: it is a directory`, {
        path,
        systemCode: "EISDIR",
      });
    }
    const temp = nodePath.join(directory, `${INTERNAL_PREFIX}${randomBytes(8).toString("hex")}.tmp`);
    let handle: FileHandle;
    try {
      handle = await fsp.open(temp, "wx");
    } catch (error) {
      throw mapError("write", path, error);
    }
    this.#liveTemps.add(temp);
    return new NodeFileWriter({
      path,
      absolute,
      temp,
      handle,
      durable: this.#durable,
      executableBit: this.capabilities.executableBit,
      release: () => this.#liveTemps.delete(temp),
      beforeRename: async () => {
        await this.#assertRoot("commit", path);
        if (!(await this.#checkRealDirectory("commit", path, directory))) {
          throw new FileSystemError(`commit ${JSON.stringify(path)} failed: its directory is gone`, {
            path,
            systemCode: "ENOENT",
          });
        }
        await this.#beforeRename?.(path);
      },
      afterRename: (written) =>
        this.#recheckAfterRename(path, directory, nodePath.basename(absolute), written),
    });
  }

  async setAttributes(path: RelPath, attributes: Partial<FileAttributes>): Promise<void> {
    const op = "set attributes of";
    const absolute = this.#resolve(path);
    await this.#assertRoot(op, path);
    await this.#checkRealDirectory(op, path, nodePath.dirname(absolute));
    // Through a descriptor opened without following links, so a link swapped in cannot redirect
    // the change; by path (after an lstat) when the entry cannot be opened for reading.
    let handle: FileHandle | undefined;
    try {
      handle = await fsp.open(absolute, READ_FLAGS);
    } catch (error) {
      const code = systemCodeOf(error);
      if (code !== "EACCES" && code !== "EPERM" && code !== "EISDIR") throw mapError(op, path, error);
    }
    try {
      const stats = handle !== undefined ? await handle.stat() : await fsp.lstat(absolute);
      if (stats.isSymbolicLink()) {
        throw new FileSystemError(`${op} ${JSON.stringify(path)} failed: it is a symbolic link`, {
          path,
          systemCode: "ELOOP",
        });
      }
      if (attributes.mtimeMs !== undefined) {
        const atime = stats.atimeMs / 1000;
        const mtime = attributes.mtimeMs / 1000;
        await (handle !== undefined ? handle.utimes(atime, mtime) : fsp.utimes(absolute, atime, mtime));
      }
      if (attributes.executable !== undefined && stats.isFile() && this.capabilities.executableBit) {
        const mode = withExecutable(stats.mode & 0o7777, attributes.executable);
        if (mode !== (stats.mode & 0o7777)) {
          await (handle !== undefined ? handle.chmod(mode) : fsp.chmod(absolute, mode));
        }
      }
    } catch (error) {
      throw mapError(op, path, error);
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  async remove(path: RelPath): Promise<void> {
    const absolute = this.#resolve(path);
    await this.#assertRoot("remove", path);
    if (!(await this.#checkRealDirectory("remove", path, nodePath.dirname(absolute)))) return;
    try {
      await fsp.unlink(absolute);
    } catch (error) {
      if (systemCodeOf(error) === "ENOENT") return;
      throw mapError("remove", path, error);
    }
  }

  /** The target text of the link at `path`, never following it; `undefined` when not a link. */
  async readLink(path: RelPath): Promise<string | undefined> {
    const absolute = this.#resolve(path);
    if (!(await this.#checkRealDirectory("read link", path, nodePath.dirname(absolute)))) {
      return this.#missing("read link", path);
    }
    try {
      return toPosixTarget(await fsp.readlink(absolute));
    } catch (error) {
      const code = systemCodeOf(error);
      if (code === "ENOENT" || code === "EINVAL" || code === "UNKNOWN") return undefined;
      throw mapError("read link", path, error);
    }
  }

  /**
   * Creates the link at a temp name (`.distsync-<hex>.tmp`) beside `path`, sets its mtime with
   * `lutimes` (best effort), and renames it over `path`: a file or link there is replaced in one
   * step. Refused when the target leads outside the folder, by its text or through what is on
   * disk now. Where the OS refuses links (`EPERM` on Windows without the privilege), fails with
   * that system code.
   */
  async createSymlink(path: RelPath, target: string, attributes?: { mtimeMs?: number }): Promise<void> {
    const op = "create link";
    const absolute = this.#resolve(path);
    const problem = linkTargetProblem(path, target);
    if (problem !== undefined) throw new PathNotAllowedError(path, `symbolic link: ${problem}`);
    await this.#assertRoot(op, path);
    const parent = parentPath(path);
    if (parent !== undefined) await this.#ensureDirectory(op, path, parent, "ENOTDIR");
    const directory = nodePath.dirname(absolute);
    const existing = await fsp.lstat(absolute).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new FileSystemError(`${op} ${JSON.stringify(path)} failed: it is a directory`, {
        path,
        systemCode: "EISDIR",
      });
    }
    const outside = await this.#linkLeadsOutside(absolute, target);
    if (outside !== undefined) throw new PathNotAllowedError(path, `symbolic link: ${outside}`);
    const temp = nodePath.join(directory, `${INTERNAL_PREFIX}${randomBytes(8).toString("hex")}.tmp`);
    this.#liveTemps.add(temp);
    try {
      await fsp.symlink(target, temp);
      if (attributes?.mtimeMs !== undefined) {
        const mtime = attributes.mtimeMs / 1000;
        await fsp.lutimes(temp, mtime, mtime).catch(() => {}); // not everywhere: then the time of sync
      }
      await this.#assertRoot(op, path);
      if (!(await this.#checkRealDirectory(op, path, directory))) {
        throw new FileSystemError(`${op} ${JSON.stringify(path)} failed: its directory is gone`, {
          path,
          systemCode: "ENOENT",
        });
      }
      const written = await fsp.lstat(temp);
      await fsp.rename(temp, absolute);
      // As for files: a parent swapped for a link in the meantime would have put the link outside.
      await this.#recheckAfterRename(path, directory, nodePath.basename(absolute), written);
    } catch (error) {
      await fsp.unlink(temp).catch(() => {});
      throw mapError(op, path, error);
    } finally {
      this.#liveTemps.delete(temp);
    }
  }

  async mkdir(path: RelPath, attributes?: { mtimeMs?: number }): Promise<void> {
    const absolute = this.#resolve(path);
    await this.#assertRoot("mkdir", path);
    await this.#ensureDirectory("mkdir", path, path, "EEXIST");
    if (attributes?.mtimeMs === undefined) return;
    try {
      const stats = await fsp.lstat(absolute);
      await fsp.lutimes(absolute, stats.atimeMs / 1000, attributes.mtimeMs / 1000);
    } catch (error) {
      throw mapError("mkdir", path, error);
    }
  }

  async rmdir(path: RelPath): Promise<void> {
    const absolute = this.#resolve(path);
    await this.#assertRoot("rmdir", path);
    if (!(await this.#checkRealDirectory("rmdir", path, nodePath.dirname(absolute)))) return;
    try {
      await fsp.rmdir(absolute);
    } catch (error) {
      const code = systemCodeOf(error);
      if (code === "ENOENT") return;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw new FileSystemError(
          `rmdir ${JSON.stringify(path)} failed: directory not empty`,
          { path, systemCode: "ENOTEMPTY" },
          { cause: error },
        );
      }
      throw mapError("rmdir", path, error);
    }
  }

  /** File events still to be double-checked for a dropped trailing write (see trailing-watch-events). */
  get pendingWatchChecks(): number {
    return this.#pendingChecks.value;
  }

  async watch(listener: (event: WatchEvent) => void): Promise<Watcher> {
    // Only chokidar drops the last write of a quick burst (see trailing-watch-events).
    if (this.#watcherKind === "directories") return this.#watchRaw(listener);
    return watchWithTrailingEvents(
      { stat: (path) => this.stat(path), watch: (inner) => this.#watchRaw(inner) },
      listener,
      this.#pendingChecks,
    );
  }

  async #watchRaw(listener: (event: WatchEvent) => void): Promise<Watcher> {
    await this.#assertRoot("watch", "");
    const root = this.root;
    let closed = false;
    let rootRemoved = false;
    let closing: Promise<void> | undefined;
    const emit = (event: WatchEvent): void => {
      if (closed) return;
      try {
        listener(event);
      } catch (error) {
        // Not chokidar's problem: rethrow outside its call stack.
        queueMicrotask(() => {
          throw error;
        });
      }
    };
    const startScan = (announceBaseline: boolean): Promise<Watcher> =>
      startScanWatcher({
        walk: () => this.walk(),
        rootExists: () => this.rootExists(),
        emit,
        intervalMs: this.#scanIntervalMs,
        announceBaseline,
      });
    if (this.#forceScan) {
      const scanner = await startScan(false);
      return {
        close: () => {
          closed = true;
          closing ??= scanner.close();
          return closing;
        },
      };
    }
    const emitRootRemoved = (): void => {
      if (rootRemoved) return;
      rootRemoved = true;
      emit({ type: "root-removed" });
    };
    const checkRoot = (): void => {
      void this.rootExists().then((exists) => {
        if (!exists) emitRootRemoved();
      });
    };
    // The root's own inotify watch says nothing when the root is deleted while `close()` has not
    // released the descriptor pinning it, so also watch the parent (one watch, not recursive) for
    // the root's name going away or being replaced.
    const parentWatcher = watchParent(root, checkRoot);
    /** What `watch` hands out: closes the OS watcher, then the periodic scan that replaced it. */
    const handle = (
      closeWatcher: () => Promise<void>,
      scanner: () => Promise<Watcher | undefined> | undefined,
    ): Watcher => ({
      close: () => {
        closed = true;
        parentWatcher?.close();
        closing ??= (async () => {
          await closeWatcher();
          await (await scanner()?.catch(() => undefined))?.close();
        })();
        return closing;
      },
    });
    if (this.#watcherKind === "directories") {
      /** Set once the OS refused a watch for good and a periodic scan replaced the watcher. */
      let fallback: Promise<Watcher | undefined> | undefined;
      let started = false;
      const directories: Promise<Watcher> = startDirectoryWatcher({
        root,
        emit: (event) => {
          if (fallback === undefined) emit(event);
        },
        onSkip: (path, reason) => {
          try {
            this.#onSkip(path, reason);
          } catch (error) {
            // The caller's problem, not the watcher's: rethrow outside its call stack.
            queueMicrotask(() => {
              throw error;
            });
          }
        },
        onRootEvent: checkRoot,
        onError: (error) => emit({ type: "error", error: watchError(root, error) }),
        onLimit: (error) => {
          if (fallback !== undefined || closed) return;
          emit({ type: "error", error: watchError(root, error, this.#scanIntervalMs) });
          // A fallback after the start may have missed changes already: announce every entry once.
          const announce = started;
          fallback = directories
            .then((watcher) => watcher.close())
            .catch(() => {})
            .then(() => (closed ? undefined : startScan(announce)));
        },
      });
      await directories;
      started = true;
      if (fallback !== undefined) await fallback;
      return handle(
        async () => (await directories).close(),
        () => fallback,
      );
    }

    const watcher: FSWatcher = chokidarWatch(root, {
      ignoreInitial: true,
      atomic: false,
      followSymlinks: false,
      alwaysStat: false,
      persistent: true,
      ignored: (absolute: string) => {
        const relative = toRelative(root, absolute);
        return relative !== undefined && relative !== "" && isInternalPath(relative);
      },
    });
    /** Set once the OS watcher failed for good and a periodic scan replaced it. */
    let fallback: Promise<Watcher | undefined> | undefined;
    let ready = false;

    watcher.on("all", (name, absolute) => {
      if (fallback !== undefined) return;
      const relative = toRelative(root, absolute);
      if (relative === undefined) return;
      if (relative === "") {
        if (name === "unlinkDir") emitRootRemoved();
        return;
      }
      if (isInternalPath(relative)) return;
      const problem = pathProblem(relative);
      if (problem !== undefined) {
        if (name === "add" || name === "addDir") this.#onSkip(relative, problem);
        return;
      }
      const path = relative as RelPath;
      switch (name) {
        case "add":
          return emit({ type: "add", path, kind: "file" });
        case "addDir":
          return emit({ type: "add", path, kind: "directory" });
        case "change":
          return emit({ type: "change", path, kind: "file" });
        case "unlink":
          return emit({ type: "remove", path, kind: "file" });
        case "unlinkDir":
          return emit({ type: "remove", path, kind: "directory" });
      }
    });
    let fellBack!: () => void;
    const fellBackPromise = new Promise<void>((resolve) => {
      fellBack = resolve;
    });
    watcher.on("error", (error: unknown) => {
      if (fallback !== undefined) return;
      const code = systemCodeOf(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        // Usually the root itself vanished; otherwise a path raced away, which is no news.
        checkRoot();
        return;
      }
      if (code === "ENOSPC" || code === "EMFILE") {
        // Out of inotify watches (or descriptors): part of the tree would go unwatched, silently.
        // Say so once, then scan the whole folder periodically instead.
        emit({ type: "error", error: watchError(root, error, this.#scanIntervalMs) });
        // A fallback after `ready` may have missed changes already: announce every entry once.
        const announce = ready;
        fallback = watcher
          .close()
          .catch(() => {})
          .then(() => (closed ? undefined : startScan(announce)));
        void fallback.then(fellBack, fellBack);
        return;
      }
      emit({ type: "error", error: watchError(root, error) });
    });

    await Promise.race([
      new Promise<void>((resolve) => {
        watcher.once("ready", () => resolve());
      }),
      fellBackPromise,
    ]);
    ready = true;
    if (fallback !== undefined) await fallback;
    return handle(
      () => watcher.close(),
      () => fallback,
    );
  }

  // ---- internals ----

  /** The absolute path of a checked relative path ("" is the root). */
  #absolute(path: string): string {
    return path === "" ? this.root : nodePath.join(this.root, ...path.split("/"));
  }

  /** Checks `path` again (core already did) and that it resolves below the root. */
  #resolve(path: string): string {
    const problem = pathProblem(path);
    if (problem !== undefined) throw new PathNotAllowedError(path, problem);
    if (isInternalPath(path)) throw new PathNotAllowedError(path, "reserved for DistSync");
    const absolute = nodePath.resolve(this.root, ...path.split("/"));
    if (!isInside(absolute, this.root)) throw new PathNotAllowedError(path, "outside the synced folder");
    return absolute;
  }

  async #assertRoot(op: string, path: string): Promise<void> {
    if (!(await this.rootExists())) throw rootGone(op, path, this.root);
  }

  /** A missing path is `undefined`, unless the whole root is gone: then nothing can be trusted. */
  async #missing(op: string, path: string): Promise<undefined> {
    await this.#assertRoot(op, path);
    return undefined;
  }

  /**
   * Resolves the real path of the existing `directory` and throws `PathNotAllowedError` if it is
   * not below the real root (a symbolic link on the way points outside). False when it is missing.
   */
  async #checkRealDirectory(op: string, path: string, directory: string): Promise<boolean> {
    let real: string;
    try {
      real = await fsp.realpath(directory);
    } catch (error) {
      if (systemCodeOf(error) === "ENOENT") return false;
      throw mapError(op, path, error);
    }
    const realRoot = this.#identity.realRoot;
    if (real !== realRoot && !isInside(real, realRoot)) {
      throw new PathNotAllowedError(path, "a parent directory leads outside the synced folder");
    }
    return true;
  }

  /**
   * After a rename into `directory`: if the real path of `directory` now leads outside the root (a
   * parent was swapped for a symbolic link between the last check and the rename), the rename
   * followed the link. Removes the file it put there, when the entry found there is still the very
   * file written (same device and inode), and throws `PathNotAllowedError` either way. It cannot
   * bring back a file of the same name that the rename replaced out there.
   */
  async #recheckAfterRename(path: RelPath, directory: string, name: string, written: Stats): Promise<void> {
    let real: string;
    try {
      real = await fsp.realpath(directory);
    } catch {
      return; // the directory went away after the rename: nothing to find out there
    }
    if (real === this.#identity.realRoot || isInside(real, this.#identity.realRoot)) return;
    const landed = nodePath.join(real, name);
    let removed = false;
    try {
      const found = await fsp.lstat(landed);
      const same = found.dev === written.dev && found.ino === written.ino;
      if ((found.isFile() || found.isSymbolicLink()) && same) {
        await fsp.unlink(landed);
        removed = true;
      }
    } catch {
      // Gone or not ours any more: leave it.
    }
    throw new PathNotAllowedError(
      path,
      `a parent directory was replaced by a link leading outside the synced folder during the write; ${
        removed ? "the file written there was removed again" : "the file written there could not be removed"
      }`,
    );
  }

  /**
   * After creating `directory` (absolute): if its real path is outside the root (a parent swapped
   * for a symbolic link in the meantime), removes the empty directory just made out there and
   * throws `PathNotAllowedError`.
   */
  async #recheckCreated(path: string, directory: string): Promise<void> {
    let real: string;
    try {
      real = await fsp.realpath(directory);
    } catch {
      return;
    }
    if (isInside(real, this.#identity.realRoot)) return;
    const removed = await fsp.rmdir(real).then(
      () => true,
      () => false,
    );
    throw new PathNotAllowedError(
      path,
      `a parent directory was replaced by a link leading outside the synced folder while creating it; ${
        removed
          ? "the directory created there was removed again"
          : "the directory created there could not be removed"
      }`,
    );
  }

  /**
   * `mkdir -p directory`, one level at a time from the root, so a vanished root is never
   * recreated and no symbolic link on the way can lead outside the root.
   */
  async #ensureDirectory(
    op: string,
    path: string,
    directory: string,
    notDirectoryCode: string,
  ): Promise<void> {
    const absolute = this.#absolute(directory);
    if (await this.#checkRealDirectory(op, path, absolute)) {
      let stats: Stats;
      try {
        stats = await fsp.stat(absolute);
      } catch (error) {
        throw mapError(op, path, error);
      }
      if (!stats.isDirectory()) throw notADirectory(op, path, directory, notDirectoryCode);
      return;
    }
    let current = this.root;
    let prefix = "";
    for (const segment of directory.split("/")) {
      current = nodePath.join(current, segment);
      prefix = prefix === "" ? segment : `${prefix}/${segment}`;
      let made = false;
      try {
        await fsp.mkdir(current);
        made = true;
      } catch (error) {
        const code = systemCodeOf(error);
        if (code === "ENOENT") throw rootGone(op, path, this.root, error);
        if (code !== "EEXIST") throw mapError(op, path, error);
      }
      if (made) {
        await this.#recheckCreated(path, current);
        continue;
      }
      let stats: Stats;
      try {
        stats = await fsp.lstat(current);
      } catch (error) {
        throw mapError(op, path, error);
      }
      if (stats.isSymbolicLink()) {
        await this.#checkRealDirectory(op, path, current);
        stats = await fsp.stat(current).catch((error: unknown) => {
          throw mapError(op, path, error);
        });
      }
      if (!stats.isDirectory()) {
        throw notADirectory(op, path, prefix, prefix === directory ? notDirectoryCode : "ENOTDIR");
      }
    }
  }

  async #walkEntry(directory: string, entry: Dirent): Promise<FileStat | undefined> {
    const name = entry.name;
    if (isInternalPath(name)) {
      if ((entry.isFile() || entry.isSymbolicLink()) && TEMP_FILE.test(name))
        await this.#removeStaleTemp(this.#absolute(directory), name);
      return undefined;
    }
    const path = directory === "" ? name : `${directory}/${name}`;
    const problem = pathProblem(path);
    if (problem !== undefined) return this.#skip(path, problem);
    if (entry.isSymbolicLink()) return this.#linkStat(path as RelPath, undefined, true);
    if (!entry.isFile() && !entry.isDirectory()) return this.#skip(path, "not a regular file or directory");
    let stats: Stats;
    try {
      stats = await fsp.lstat(this.#absolute(path));
    } catch (error) {
      if (systemCodeOf(error) !== "ENOENT") throw mapError("walk", path, error);
      // Deleted since readdir, or a name that is not valid UTF-8 (readdir replaced its bytes).
      return name.includes("\uFFFD") ? this.#skip(path, "name is not valid UTF-8") : undefined;
    }
    return this.#toStat(path as RelPath, stats);
  }

  /**
   * Removes a temp file of ours that no writer of this instance holds: the remains of a write cut
   * short by a crash. Only names `createWriter` makes (`.distsync-<16 hex>.tmp`), only regular files.
   * Two programs syncing one folder at once are not supported, so no other writer can own it.
   */
  async #removeStaleTemp(directory: string, name: string): Promise<void> {
    const absolute = nodePath.join(directory, name);
    if (this.#liveTemps.has(absolute)) return;
    await fsp.unlink(absolute).catch(() => {});
  }

  /** The same for `saveState`'s temp files in `<root>/.distsync/`. */
  async #removeStaleStateTemps(): Promise<void> {
    const dir = nodePath.join(this.root, STATE_DIR_NAME);
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isFile() || !STATE_TEMP_FILE.test(entry.name)) continue;
      const absolute = nodePath.join(dir, entry.name);
      if (!this.#liveTemps.has(absolute)) await fsp.unlink(absolute).catch(() => {});
    }
  }

  #skip(path: string, reason: string): undefined {
    this.#onSkip(path, reason);
    return undefined;
  }

  /**
   * A symbolic link as a `FileStat` of kind `"symlink"` when its target stays inside the folder;
   * otherwise `undefined`, reported through `onSkip` once per path (not at every walk or stat) when
   * `report`. The link is never followed, only its target resolved to check it.
   */
  async #linkStat(path: RelPath, known: Stats | undefined, report: boolean): Promise<FileStat | undefined> {
    const absolute = this.#absolute(path);
    let stats: Stats;
    let target: string;
    try {
      stats = known ?? (await fsp.lstat(absolute));
      if (!stats.isSymbolicLink()) return this.#toStat(path, stats);
      target = toPosixTarget(await fsp.readlink(absolute));
    } catch (error) {
      const code = systemCodeOf(error);
      if (code === "ENOENT" || code === "EINVAL") return undefined; // gone or replaced meanwhile
      throw mapError("stat", path, error);
    }
    const problem = linkTargetProblem(path, target) ?? (await this.#linkLeadsOutside(absolute, target));
    if (problem !== undefined) {
      if (report && !this.#reportedLinks.has(path)) {
        this.#reportedLinks.add(path);
        this.#onSkip(path, `symbolic link not synced: ${problem}`);
      }
      return undefined;
    }
    this.#reportedLinks.delete(path);
    return { path, kind: "symlink", size: stats.size, mtimeMs: stats.mtimeMs, executable: false };
  }

  /**
   * Why the link at `absolute` with `target` leads outside the real root through what is on disk
   * now (a link on the way pointing outside), or `undefined`. Resolves the longest existing part of
   * the target with `realpath`; a dangling link on the way is followed by its text (a few levels).
   * A target that loops (`ELOOP`) leads nowhere, so not outside.
   */
  async #linkLeadsOutside(absolute: string, target: string, depth = 0): Promise<string | undefined> {
    if (depth > 8) return "too many dangling links on the way";
    let directory: string;
    try {
      directory = await fsp.realpath(nodePath.dirname(absolute));
    } catch {
      return "its directory cannot be resolved";
    }
    if (nodePath.isAbsolute(target)) return "target leads outside the folder";
    const realRoot = this.#identity.realRoot;
    const inside = (real: string) => real === realRoot || isInside(real, realRoot);
    let candidate = nodePath.resolve(directory, ...target.split("/").filter((s) => s !== "" && s !== "."));
    if (!inside(candidate)) return "target leads outside the folder";
    const rest: string[] = [];
    for (;;) {
      try {
        const real = await fsp.realpath(candidate);
        return inside(nodePath.join(real, ...rest))
          ? undefined
          : "target leads outside the folder through a link";
      } catch (error) {
        const code = systemCodeOf(error);
        if (code === "ELOOP") return undefined;
        if (code !== "ENOENT" && code !== "ENOTDIR") return "target cannot be resolved";
      }
      const found = await fsp.lstat(candidate).catch(() => undefined);
      if (found?.isSymbolicLink()) {
        // A dangling link on the way: where its own text leads, then the rest below it.
        const text = toPosixTarget(await fsp.readlink(candidate).catch(() => "/"));
        const next = rest.length === 0 ? text : `${text}/${rest.join("/")}`;
        return this.#linkLeadsOutside(candidate, next, depth + 1);
      }
      const up = nodePath.dirname(candidate);
      if (up === candidate) return "target cannot be resolved";
      rest.unshift(nodePath.basename(candidate));
      candidate = up;
    }
  }

  /** `undefined` for anything but a regular file or a directory (symbolic links included). */
  #toStat(path: RelPath, stats: Stats): FileStat | undefined {
    if (stats.isFile()) {
      return {
        path,
        kind: "file",
        size: stats.size,
        mtimeMs: stats.mtimeMs,
        executable: this.capabilities.executableBit && (stats.mode & 0o100) !== 0,
        ctimeMs: stats.ctimeMs,
      };
    }
    if (stats.isDirectory())
      return { path, kind: "directory", size: 0, mtimeMs: stats.mtimeMs, executable: false };
    return undefined;
  }
}

class NodeReadHandle implements FileReadHandle {
  readonly stat: FileStat;
  readonly #handle: FileHandle;
  #position = 0;
  #closed = false;

  constructor(handle: FileHandle, stat: FileStat) {
    this.#handle = handle;
    this.stat = stat;
  }

  async read(length: number): Promise<Uint8Array> {
    if (this.#closed) {
      throw new FileSystemError(`read ${JSON.stringify(this.stat.path)} failed: the handle is closed`, {
        path: this.stat.path,
      });
    }
    const size = Math.max(0, Math.floor(length));
    const buffer = new Uint8Array(size);
    let bytesRead: number;
    try {
      ({ bytesRead } = await this.#handle.read(buffer, 0, size, this.#position));
    } catch (error) {
      throw mapError("read", this.stat.path, error);
    }
    this.#position += bytesRead;
    return bytesRead === size ? buffer : buffer.slice(0, bytesRead);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}

interface WriterInit {
  path: RelPath;
  absolute: string;
  temp: string;
  handle: FileHandle;
  durable: boolean;
  executableBit: boolean;
  /** Called once the temp file is renamed or removed. */
  release: () => void;
  /** Re-checks, right before the rename, that the target directory is still the one inside the root. */
  beforeRename: () => Promise<void>;
  /** Re-checks after the rename that the file landed inside the root; `written` is the temp file's stat. */
  afterRename: (written: Stats) => Promise<void>;
}

class NodeFileWriter implements FileWriter {
  readonly #init: WriterInit;
  #state: "open" | "committing" | "committed" | "aborted" | "failed" = "open";
  #handleOpen = true;
  #position = 0;
  #commit: Promise<void> | undefined;

  constructor(init: WriterInit) {
    this.#init = init;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#assertOpen("write");
    // Positions are claimed up front, so writes that overlap in time still land in call order.
    const position = this.#position;
    this.#position += chunk.length;
    try {
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await this.#init.handle.write(
          chunk,
          offset,
          chunk.length - offset,
          position + offset,
        );
        offset += bytesWritten;
      }
    } catch (error) {
      this.#state = "failed";
      await this.#discard();
      throw mapError("write", this.#init.path, error);
    }
  }

  async commit(attributes: FileAttributes): Promise<void> {
    if (this.#state === "committed") return;
    if (this.#commit !== undefined) return this.#commit;
    this.#assertOpen("commit");
    this.#state = "committing";
    this.#commit = this.#doCommit(attributes);
    return this.#commit;
  }

  async abort(): Promise<void> {
    if (this.#state === "committing") await this.#commit?.catch(() => {});
    if (this.#state !== "open") return;
    this.#state = "aborted";
    await this.#discard();
  }

  async #doCommit(attributes: FileAttributes): Promise<void> {
    const { handle, absolute, temp, path } = this.#init;
    try {
      const stats = await handle.stat();
      if (this.#init.executableBit) {
        // Keep the permissions of the file being replaced; a new file gets the umask default.
        let mode = stats.mode & 0o7777;
        try {
          const target = await fsp.lstat(absolute);
          if (target.isFile()) mode = target.mode & 0o7777;
        } catch {
          // No previous file (or it cannot be read): keep the default.
        }
        await handle.chmod(withExecutable(mode, attributes.executable));
      }
      await handle.utimes(stats.atimeMs / 1000, attributes.mtimeMs / 1000);
      if (this.#init.durable) await handle.sync();
      this.#handleOpen = false;
      await handle.close();
      await this.#init.beforeRename();
      await fsp.rename(temp, absolute);
      await this.#init.afterRename(stats);
      this.#init.release();
      this.#state = "committed";
    } catch (error) {
      this.#state = "failed";
      await this.#discard();
      throw mapError("commit", path, error);
    }
  }

  async #discard(): Promise<void> {
    if (this.#handleOpen) {
      this.#handleOpen = false;
      await this.#init.handle.close().catch(() => {});
    }
    await fsp.unlink(this.#init.temp).catch(() => {});
    this.#init.release();
  }

  #assertOpen(op: string): void {
    if (this.#state !== "open") {
      throw new FileSystemError(
        `${op} ${JSON.stringify(this.#init.path)} failed: the writer is ${this.#state}`,
        {
          path: this.#init.path,
        },
      );
    }
  }
}

/** Calls `onChange` whenever the entry named like `root` in its parent changes; best effort. */
function watchParent(root: string, onChange: () => void): NodeWatcher | undefined {
  const parent = nodePath.dirname(root);
  if (parent === root) return undefined;
  const name = nodePath.basename(root);
  try {
    const watcher = fsWatch(parent, { persistent: false }, (_type, filename) => {
      if (filename === null || filename === name) onChange();
    });
    watcher.on("error", () => {});
    return watcher;
  } catch {
    return undefined; // e.g. no permission to watch the parent: chokidar's unlinkDir still helps
  }
}

/** Stat with 64-bit dev and inode numbers, which a `number` could round. */
function statIdentity(path: string) {
  return fsp.stat(path, { bigint: true });
}

/** Adds the x bits matching the r bits (and always the owner's), or removes every x bit. */
function withExecutable(mode: number, executable: boolean): number {
  return executable ? mode | ((mode & 0o444) >> 2) | 0o100 : mode & ~0o111;
}

function isInside(path: string, directory: string): boolean {
  const prefix = directory.endsWith(nodePath.sep) ? directory : directory + nodePath.sep;
  return path.startsWith(prefix) && path.length > prefix.length;
}

/** The POSIX relative path of `absolute` below `root` ("" for the root), or `undefined` outside. */
function toRelative(root: string, absolute: string): string | undefined {
  if (absolute === root) return "";
  if (!isInside(absolute, root)) return undefined;
  const relative = absolute.slice(root.endsWith(nodePath.sep) ? root.length : root.length + 1);
  return nodePath.sep === "/" ? relative : relative.split(nodePath.sep).join("/");
}

/** A link target as DistSync spells it: `/`-separated (Windows stores and reads back `\\`). */
function toPosixTarget(target: string): string {
  return nodePath.sep === "\\" ? target.split("\\").join("/") : target;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function systemCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function mapError(op: string, path: string, error: unknown): DistSyncError {
  if (DistSyncError.isInstance(error)) return error;
  const systemCode = systemCodeOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  return new FileSystemError(
    `${op} ${JSON.stringify(path)} failed: ${reason}`,
    { path, systemCode },
    { cause: error },
  );
}

function rootGone(op: string, path: string, root: string, cause?: unknown): FileSystemError {
  return new FileSystemError(
    `${op} ${JSON.stringify(path)} failed: the synced folder ${JSON.stringify(root)} is gone or was replaced`,
    { path, systemCode: "ENOENT" },
    { cause },
  );
}

function notADirectory(op: string, path: string, directory: string, systemCode: string): FileSystemError {
  return new FileSystemError(
    `${op} ${JSON.stringify(path)} failed: ${JSON.stringify(directory)} is not a directory`,
    {
      path,
      systemCode,
    },
  );
}

/**
 * A watcher failure as a `FileSystemError`, with the fix when the inotify limits are hit, and the
 * scan interval when the watcher falls back to scanning.
 */
function watchError(root: string, error: unknown, scanIntervalMs?: number): FileSystemError {
  const systemCode = systemCodeOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  let message = `watching ${JSON.stringify(root)} failed: ${reason}`;
  if (systemCode === "ENOSPC") {
    message =
      `watching ${JSON.stringify(root)} failed: the system limit on inotify watches is reached (ENOSPC). ` +
      "Raise fs.inotify.max_user_watches, e.g. `sudo sysctl fs.inotify.max_user_watches=524288` " +
      "(and add it to /etc/sysctl.conf to keep it)";
  } else if (systemCode === "EMFILE") {
    message =
      `watching ${JSON.stringify(root)} failed: too many open files or inotify instances (EMFILE). ` +
      "Raise the open-file limit (ulimit -n) or fs.inotify.max_user_instances";
  }
  if (scanIntervalMs !== undefined) {
    message += `; meanwhile the folder is scanned for changes every ${scanIntervalMs / 1000} s instead`;
  }
  return new FileSystemError(message, { path: root, systemCode }, { cause: error });
}

/** State names become file names: anything but a safe character is replaced. */
function stateName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 120);
}
