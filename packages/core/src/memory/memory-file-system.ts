import { concatBytes } from "../content/concat-bytes.js";
import { FileSystemError, PathNotAllowedError } from "../errors.js";
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
import { isInternalPath, pathProblem } from "../paths.js";
import type { EntryKind, RelPath } from "../types.js";

export interface MemoryFileSystemOptions {
  /** Whether the executable bit is kept; when false every entry reads as not executable. Default `true`. */
  executableBit?: boolean;
  /** The clock for default mtimes (`put`, `mkdirp`, created parents). Default `Date.now`. */
  now?: () => number;
  /**
   * Behave like a case-insensitive, case-preserving disk (macOS, Windows): `a.txt` finds `A.txt`,
   * and writing `a.txt` over it keeps the name `A.txt`. Default false.
   */
  caseInsensitive?: boolean;
  /** The `platform` capability to advertise (e.g. `"win32"` to test Windows name rules). Default none. */
  platform?: string;
}

/** One entry of {@link MemoryFileSystem.snapshot}: an independent copy. */
export interface MemorySnapshotEntry {
  kind: EntryKind;
  /** The bytes, for files only. */
  content?: Uint8Array;
  mtimeMs: number;
  executable: boolean;
  /** The target, for symbolic links only. */
  target?: string;
}

interface FileNode {
  kind: "file";
  /** Never mutated in place: a write replaces the array, so open readers keep the old bytes. */
  content: Uint8Array;
  mtimeMs: number;
  executable: boolean;
  /** The status change time, as a counter: bumped by every write and attribute change. */
  ctimeMs: number;
}

interface DirectoryNode {
  kind: "directory";
  mtimeMs: number;
  children: Map<string, MemoryNode>;
}

/** A symbolic link: its target text, never followed (a path through it is refused). */
interface SymlinkNode {
  kind: "symlink";
  target: string;
  mtimeMs: number;
}

type MemoryNode = FileNode | DirectoryNode | SymlinkNode;

interface Located {
  /** The parent directory, or `undefined` when some ancestor is missing. */
  parent: DirectoryNode | undefined;
  name: string;
  node: MemoryNode | undefined;
}

interface PendingWriter {
  path: string;
  /** The directory holding the hidden temp entry; the commit fails if it is gone or replaced. */
  directory: DirectoryNode;
}

interface InjectedFailure {
  path: string | undefined;
  error: FileSystemError | undefined;
}

interface Subscription {
  listener: (event: WatchEvent) => void;
  active: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A `FileSystem` held in memory, for tests and for running engines in a browser. It behaves like a
 * disk that the engine shares with a user: every mutation, including the engine's own writes, is
 * reported to watchers (in a microtask), and the helper methods (`put`, `delete`, `mkdirp`,
 * `removeRoot`) play the user editing the folder.
 */
export class MemoryFileSystem implements FileSystem {
  #changes = 0;
  readonly capabilities: FileSystemCapabilities;
  #root: DirectoryNode | undefined;
  readonly #now: () => number;
  readonly #subscriptions = new Set<Subscription>();
  readonly #pending = new Set<PendingWriter>();
  readonly #failures: InjectedFailure[] = [];

  constructor(options: MemoryFileSystemOptions = {}) {
    this.capabilities = {
      executableBit: options.executableBit ?? true,
      watch: true,
      ...(options.caseInsensitive ? { caseInsensitive: true } : {}),
      ...(options.platform !== undefined ? { platform: options.platform } : {}),
    };
    this.#now = options.now ?? Date.now;
    this.#root = { kind: "directory", mtimeMs: this.#now(), children: new Map() };
  }

  async rootExists(): Promise<boolean> {
    return this.#root !== undefined;
  }

  async *walk(): AsyncIterable<FileStat> {
    const stack: Array<{ path: string; node: DirectoryNode }> = [
      { path: "", node: this.#requireRoot("walk", "") },
    ];
    for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
      const directories: Array<{ path: string; node: DirectoryNode }> = [];
      for (const name of [...frame.node.children.keys()].sort()) {
        const node = frame.node.children.get(name);
        if (node === undefined) continue;
        const path = frame.path === "" ? name : `${frame.path}/${name}`;
        yield this.#statOf(path as RelPath, node);
        this.#requireRoot("walk", "");
        if (node.kind === "directory") directories.push({ path, node });
      }
      // Reversed so the stack hands the directories back in name order.
      for (let i = directories.length - 1; i >= 0; i--) stack.push(directories[i]!);
    }
  }

  async stat(path: RelPath): Promise<FileStat | undefined> {
    const { node } = this.#locate("stat", path);
    return node === undefined ? undefined : this.#statOf(path, node);
  }

  async openRead(path: RelPath): Promise<FileReadHandle | undefined> {
    const { node } = this.#locate("open", path);
    if (node === undefined || node.kind !== "file") return undefined;
    const stat = this.#statOf(path, node);
    const content = node.content;
    let position = 0;
    let closed = false;
    return {
      stat,
      read: async (length: number) => {
        if (closed) throw new FileSystemError(`read ${JSON.stringify(path)}: the handle is closed`, { path });
        const chunk = content.slice(position, position + Math.max(0, length));
        position += chunk.length;
        return chunk;
      },
      close: async () => {
        closed = true;
      },
    };
  }

  async createWriter(path: RelPath): Promise<FileWriter> {
    checkPath(path);
    const parentPath = parentOf(path);
    const directory =
      parentPath === undefined
        ? this.#requireRoot("write", path)
        : this.#mkdirs("write", parentPath, "ENOTDIR");
    const { node } = this.#locate("write", path);
    if (node?.kind === "directory") throw fsError("write", path, "EISDIR", "is a directory");
    const pending: PendingWriter = { path, directory };
    this.#pending.add(pending);
    const chunks: Uint8Array[] = [];
    let state: "open" | "committed" | "aborted" | "failed" = "open";

    const fail = (error: FileSystemError): never => {
      state = "failed";
      chunks.length = 0;
      this.#pending.delete(pending);
      throw error;
    };
    const ensureOpen = (op: string): void => {
      if (state !== "open") throw fsError(op, path, undefined, `the writer is ${state}`);
      const injected = this.#takeFailure(path);
      if (injected !== undefined) fail(injected);
      if (this.#root === undefined) fail(fsError(op, path, "ENOENT", "the root directory is gone"));
    };

    return {
      write: async (chunk: Uint8Array) => {
        ensureOpen("write");
        chunks.push(chunk.slice());
      },
      commit: async (attributes: FileAttributes) => {
        if (state === "committed") return;
        ensureOpen("commit");
        const located = this.#locateForCommit(path, directory, fail);
        const content = concatBytes(chunks);
        const existing = located.node;
        located.parent.children.set(located.name, {
          kind: "file",
          content,
          mtimeMs: attributes.mtimeMs,
          executable: this.capabilities.executableBit && attributes.executable,
          ctimeMs: this.#nextChange(),
        });
        state = "committed";
        chunks.length = 0;
        this.#pending.delete(pending);
        this.#emit({ type: existing === undefined ? "add" : "change", path, kind: "file" });
      },
      abort: async () => {
        if (state === "committed" || state === "aborted") return;
        state = "aborted";
        chunks.length = 0;
        this.#pending.delete(pending);
      },
    };
  }

  /** A fresh status change time: a counter, only ever compared for equality. */
  #nextChange(): number {
    this.#changes++;
    return this.#changes;
  }

  async setAttributes(path: RelPath, attributes: Partial<FileAttributes>): Promise<void> {
    const { node } = this.#locate("set attributes of", path);
    if (node === undefined) throw fsError("set attributes of", path, "ENOENT", "no such file or directory");
    if (node.kind === "symlink") throw fsError("set attributes of", path, "ELOOP", "it is a symbolic link");
    if (attributes.mtimeMs !== undefined) node.mtimeMs = attributes.mtimeMs;
    if (node.kind === "file" && attributes.executable !== undefined) {
      node.executable = this.capabilities.executableBit && attributes.executable;
    }
    if (node.kind === "file") node.ctimeMs = this.#nextChange();
    this.#emit({ type: "change", path, kind: node.kind });
  }

  async remove(path: RelPath): Promise<void> {
    const { parent, name, node } = this.#locate("remove", path);
    if (parent === undefined || node === undefined) return;
    if (node.kind === "directory") throw fsError("remove", path, "EISDIR", "is a directory");
    parent.children.delete(name);
    this.#emit({ type: "remove", path, kind: node.kind });
  }

  async mkdir(path: RelPath, attributes?: { mtimeMs?: number }): Promise<void> {
    const existed = this.#locate("mkdir", path).node?.kind === "directory";
    const directory = this.#mkdirs("mkdir", path);
    if (attributes?.mtimeMs === undefined) return;
    directory.mtimeMs = attributes.mtimeMs;
    if (existed) this.#emit({ type: "change", path, kind: "directory" });
  }

  async rmdir(path: RelPath): Promise<void> {
    const { parent, name, node } = this.#locate("rmdir", path);
    if (parent === undefined || node === undefined) return;
    if (node.kind !== "directory") throw fsError("rmdir", path, "ENOTDIR", "not a directory");
    const holdsTempFile = [...this.#pending].some((writer) => writer.directory === node);
    if (node.children.size > 0 || holdsTempFile) {
      throw fsError("rmdir", path, "ENOTEMPTY", "directory not empty");
    }
    parent.children.delete(name);
    this.#emit({ type: "remove", path, kind: "directory" });
  }

  async readLink(path: RelPath): Promise<string | undefined> {
    const { node } = this.#locate("read link", path);
    return node?.kind === "symlink" ? node.target : undefined;
  }

  async createSymlink(path: RelPath, target: string, attributes?: { mtimeMs?: number }): Promise<void> {
    checkPath(path);
    const problem = linkTargetProblem(path, target);
    if (problem !== undefined) throw new PathNotAllowedError(path, `symbolic link: ${problem}`);
    this.#putLink("create link", path, target, attributes?.mtimeMs ?? this.#now());
  }

  readonly #state = new Map<string, Uint8Array>();

  // Kept apart from the tree: state is never synced and never shows in snapshot().
  async loadState(name: string): Promise<Uint8Array | undefined> {
    const data = this.#state.get(name);
    return data && new Uint8Array(data);
  }

  async saveState(name: string, data: Uint8Array): Promise<void> {
    this.#state.set(name, new Uint8Array(data));
  }

  async storedPath(path: RelPath): Promise<string> {
    checkPath(path);
    let directory: MemoryNode | undefined = this.#requireRoot("stored path of", path);
    const spelled: string[] = [];
    for (const segment of path.split("/")) {
      if (directory?.kind !== "directory") {
        spelled.push(segment);
        directory = undefined;
        continue;
      }
      const key = this.#key(directory, segment);
      spelled.push(key);
      directory = directory.children.get(key);
    }
    return spelled.join("/");
  }

  async watch(listener: (event: WatchEvent) => void): Promise<Watcher> {
    this.#requireRoot("watch", "");
    const subscription: Subscription = { listener, active: true };
    this.#subscriptions.add(subscription);
    return {
      close: async () => {
        subscription.active = false;
        this.#subscriptions.delete(subscription);
      },
    };
  }

  // ---- helpers that act like a user editing the folder ----

  /** Writes a file as a user would: creates parents, replaces content; mtime defaults to `now()`. */
  put(path: string, content: Uint8Array | string, attributes: Partial<FileAttributes> = {}): void {
    checkPath(path);
    const parentPath = parentOf(path);
    const parent =
      parentPath === undefined ? this.#requireRoot("put", path) : this.#mkdirs("put", parentPath, "ENOTDIR");
    const name = this.#key(parent, baseName(path));
    const existing = parent.children.get(name);
    if (existing?.kind === "directory") throw fsError("put", path, "EISDIR", "is a directory");
    const bytes = typeof content === "string" ? encoder.encode(content) : content.slice();
    parent.children.set(name, {
      kind: "file",
      content: bytes,
      ctimeMs: this.#nextChange(),
      mtimeMs: attributes.mtimeMs ?? this.#now(),
      executable:
        this.capabilities.executableBit &&
        (attributes.executable ?? (existing?.kind === "file" ? existing.executable : false)),
    });
    this.#emit({ type: existing === undefined ? "add" : "change", path: path as RelPath, kind: "file" });
  }

  /**
   * Creates a symbolic link as a user would (`ln -sfn`): any target text, even one leading outside,
   * replacing a file or link; mtime defaults to `now()`.
   */
  symlink(path: string, target: string, attributes: { mtimeMs?: number } = {}): void {
    checkPath(path);
    this.#putLink("symlink", path, target, attributes.mtimeMs ?? this.#now());
  }

  /** Deletes a file, or a directory with everything below it (children first, one event each). */
  delete(path: string): void {
    checkPath(path);
    const { parent, name, node } = this.#locate("delete", path);
    if (parent === undefined || node === undefined) return;
    this.#removeTree(path, node);
    parent.children.delete(name);
  }

  /** Creates a directory and its missing parents (mtime `now()`); existing directories are kept. */
  mkdirp(path: string): void {
    checkPath(path);
    this.#mkdirs("mkdir", path);
  }

  /** Deletes the root itself: every later operation except `rootExists` throws `ENOENT`. */
  removeRoot(): void {
    if (this.#root === undefined) return;
    this.#root = undefined;
    this.#pending.clear();
    this.#emit({ type: "root-removed" });
  }

  /** A file's content as UTF-8 text, or `undefined` when it is missing or not a file. */
  readText(path: string): string | undefined {
    if (this.#root === undefined) return undefined;
    const { node } = this.#locate("read", path);
    return node?.kind === "file" ? decoder.decode(node.content) : undefined;
  }

  /** A deep copy of every entry, parents before children, for comparing folders. */
  snapshot(): Map<string, MemorySnapshotEntry> {
    const result = new Map<string, MemorySnapshotEntry>();
    const visit = (prefix: string, directory: DirectoryNode): void => {
      for (const name of [...directory.children.keys()].sort()) {
        const node = directory.children.get(name)!;
        const path = prefix === "" ? name : `${prefix}/${name}`;
        if (node.kind === "file") {
          result.set(path, {
            kind: "file",
            content: node.content.slice(),
            mtimeMs: node.mtimeMs,
            executable: node.executable,
          });
        } else if (node.kind === "symlink") {
          result.set(path, {
            kind: "symlink",
            target: node.target,
            mtimeMs: node.mtimeMs,
            executable: false,
          });
        } else {
          result.set(path, { kind: "directory", mtimeMs: node.mtimeMs, executable: false });
          visit(path, node);
        }
      }
    };
    if (this.#root !== undefined) visit("", this.#root);
    return result;
  }

  /**
   * Makes the next `write` or `commit` of a writer for `path` (any path when omitted) fail with
   * `error` (default: `ENOSPC`). The writer is then dead and the old file stays. Calls queue up.
   */
  failNextWrite(path?: string, error?: FileSystemError): void {
    this.#failures.push({ path, error });
  }

  // ---- internals ----

  #requireRoot(op: string, path: string): DirectoryNode {
    if (this.#root === undefined) {
      throw fsError(op, path, "ENOENT", "the root directory is gone");
    }
    return this.#root;
  }

  #locate(op: string, path: string): Located {
    checkPath(path);
    let directory = this.#requireRoot(op, path);
    const segments = path.split("/");
    const name = segments.pop()!;
    for (const segment of segments) {
      const child = directory.children.get(this.#key(directory, segment));
      if (child === undefined) return { parent: undefined, name, node: undefined };
      if (child.kind === "symlink") throw new PathNotAllowedError(path, "a parent is a symbolic link");
      if (child.kind !== "directory") throw fsError(op, path, "ENOTDIR", "a parent is not a directory");
      directory = child;
    }
    const key = this.#key(directory, name);
    return { parent: directory, name: key, node: directory.children.get(key) };
  }

  /** Like a rename of the temp file: fails when its directory is gone or the target is a directory. */
  #locateForCommit(
    path: string,
    directory: DirectoryNode,
    fail: (error: FileSystemError) => never,
  ): Located & { parent: DirectoryNode } {
    let located: Located;
    try {
      located = this.#locate("commit", path);
    } catch (error) {
      return fail(error as FileSystemError);
    }
    if (located.parent !== directory) {
      return fail(fsError("commit", path, "ENOENT", "the directory was removed during the write"));
    }
    if (located.node?.kind === "directory") return fail(fsError("commit", path, "EISDIR", "is a directory"));
    return { ...located, parent: directory };
  }

  /** `mkdir -p`: creates missing directories parents first, each with an `add` event. */
  #mkdirs(op: string, path: string, fileInTheWay: "EEXIST" | "ENOTDIR" = "EEXIST"): DirectoryNode {
    checkPath(path);
    let directory = this.#requireRoot(op, path);
    let prefix = "";
    for (const segment of path.split("/")) {
      prefix = prefix === "" ? segment : `${prefix}/${segment}`;
      const child = directory.children.get(this.#key(directory, segment));
      if (child === undefined) {
        const created: DirectoryNode = { kind: "directory", mtimeMs: this.#now(), children: new Map() };
        directory.children.set(segment, created);
        this.#emit({ type: "add", path: prefix as RelPath, kind: "directory" });
        directory = created;
      } else if (child.kind === "directory") {
        directory = child;
      } else if (child.kind === "symlink" && prefix !== path) {
        throw new PathNotAllowedError(path, "a parent is a symbolic link");
      } else {
        const code = prefix === path ? fileInTheWay : "ENOTDIR";
        throw fsError(op, path, code, `${JSON.stringify(prefix)} is a file`);
      }
    }
    return directory;
  }

  /** Emits remove events for `node` and everything below it, children first. */
  #removeTree(path: string, node: MemoryNode): void {
    if (node.kind === "directory") {
      for (const [name, child] of [...node.children].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        this.#removeTree(`${path}/${name}`, child);
      }
      node.children.clear();
    }
    this.#emit({ type: "remove", path: path as RelPath, kind: node.kind });
  }

  /**
   * The name `name` is filed under in `directory`: itself, or on a case-insensitive file system the
   * existing child that differs from it only by case.
   */
  #key(directory: DirectoryNode, name: string): string {
    if (!this.capabilities.caseInsensitive || directory.children.has(name)) return name;
    const folded = name.toLowerCase();
    for (const key of directory.children.keys()) if (key.toLowerCase() === folded) return key;
    return name;
  }

  #takeFailure(path: string): FileSystemError | undefined {
    const index = this.#failures.findIndex((failure) => failure.path === undefined || failure.path === path);
    if (index === -1) return undefined;
    const [failure] = this.#failures.splice(index, 1);
    return failure?.error ?? fsError("write", path, "ENOSPC", "no space left on device (injected)");
  }

  #statOf(path: RelPath, node: MemoryNode): FileStat {
    if (node.kind === "symlink") {
      const size = encoder.encode(node.target).length;
      return { path, kind: "symlink", size, mtimeMs: node.mtimeMs, executable: false };
    }
    return node.kind === "file"
      ? {
          path,
          kind: "file",
          size: node.content.length,
          mtimeMs: node.mtimeMs,
          executable: node.executable,
          ctimeMs: node.ctimeMs,
        }
      : { path, kind: "directory", size: 0, mtimeMs: node.mtimeMs, executable: false };
  }

  /** Puts a link at `path` in one step (like a rename over it): replaces a file or link, not a directory. */
  #putLink(op: string, path: string, target: string, mtimeMs: number): void {
    const parentPath = parentOf(path);
    const parent =
      parentPath === undefined ? this.#requireRoot(op, path) : this.#mkdirs(op, parentPath, "ENOTDIR");
    const name = baseName(path);
    const existing = parent.children.get(name);
    if (existing?.kind === "directory") throw fsError(op, path, "EISDIR", "is a directory");
    parent.children.set(name, { kind: "symlink", target, mtimeMs });
    const type = existing === undefined ? "add" : "change";
    this.#emit({ type, path: path as RelPath, kind: "symlink" });
  }

  #emit(event: WatchEvent): void {
    // One microtask per listener, so a throwing listener cannot starve the others.
    for (const subscription of this.#subscriptions) {
      queueMicrotask(() => {
        if (subscription.active) subscription.listener(event);
      });
    }
  }
}

function checkPath(path: string): void {
  const problem = pathProblem(path);
  if (problem !== undefined) throw new PathNotAllowedError(path, problem);
  if (isInternalPath(path)) throw new PathNotAllowedError(path, "reserved for DistSync");
}

function fsError(op: string, path: string, systemCode: string | undefined, message: string): FileSystemError {
  const detail = systemCode === undefined ? message : `${systemCode}: ${message}`;
  return new FileSystemError(`${op} ${JSON.stringify(path)} failed (${detail})`, { path, systemCode });
}

function parentOf(path: string): string | undefined {
  const index = path.lastIndexOf("/");
  return index === -1 ? undefined : path.slice(0, index);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
