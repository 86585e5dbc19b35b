import * as nodeFs from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { FileSystem } from "../../src/file-system.js";
import { MemoryFileSystem } from "../../src/memory/memory-file-system.js";
import { createNodeFileSystem } from "../../src/node/node-file-system.js";

export interface FolderEntry {
  kind: "file" | "directory";
  content?: Uint8Array;
  mtimeMs: number;
  executable: boolean;
}

/** A synced folder plus the hands of a user editing it: the same tests run on memory and on disk. */
export interface TestFolder {
  readonly kind: "memory" | "node";
  readonly fs: FileSystem;
  put(
    path: string,
    content: Uint8Array | string,
    attributes?: { mtimeMs?: number; executable?: boolean },
  ): Promise<void>;
  delete(path: string): Promise<void>;
  mkdirp(path: string): Promise<void>;
  readText(path: string): string | undefined | Promise<string | undefined>;
  snapshot(): Promise<Map<string, FolderEntry>>;
  removeRoot(): Promise<void>;
  dispose(): Promise<void>;
}

export type FolderFactory = () => Promise<TestFolder>;

export const memoryFolder: FolderFactory = async () => {
  const fs = new MemoryFileSystem();
  return {
    kind: "memory",
    fs,
    put: async (path, content, attributes) => fs.put(path, content, attributes),
    delete: async (path) => fs.delete(path),
    mkdirp: async (path) => fs.mkdirp(path),
    readText: (path) => fs.readText(path),
    snapshot: async () => fs.snapshot() as Map<string, FolderEntry>,
    removeRoot: async () => fs.removeRoot(),
    dispose: async () => {},
  };
};

const created: string[] = [];

export const nodeFolder: FolderFactory = async () => {
  const root = await mkdtemp(join(tmpdir(), "distsync-engine-"));
  created.push(root);
  const fs = await createNodeFileSystem(root, { durable: false });
  const abs = (path: string) => join(root, ...path.split("/"));
  return {
    kind: "node",
    fs,
    async put(path, content, attributes = {}) {
      const target = abs(path);
      await nodeFs.mkdir(dirname(target), { recursive: true });
      await nodeFs.writeFile(target, content);
      if (attributes.executable !== undefined)
        await nodeFs.chmod(target, attributes.executable ? 0o755 : 0o644);
      if (attributes.mtimeMs !== undefined) {
        await nodeFs.utimes(target, new Date(), new Date(attributes.mtimeMs));
      }
    },
    delete: (path) => nodeFs.rm(abs(path), { recursive: true, force: true }),
    mkdirp: async (path) => {
      await nodeFs.mkdir(abs(path), { recursive: true });
    },
    readText: async (path) => {
      try {
        return await nodeFs.readFile(abs(path), "utf8");
      } catch {
        return undefined;
      }
    },
    async snapshot() {
      const out = new Map<string, FolderEntry>();
      const visit = async (dir: string, prefix: string) => {
        let names: string[];
        try {
          names = (await nodeFs.readdir(dir)).sort();
        } catch {
          return;
        }
        for (const name of names) {
          if (name.startsWith(".distsync")) continue;
          const path = prefix ? `${prefix}/${name}` : name;
          const full = join(dir, name);
          const stat = await nodeFs.lstat(full).catch(() => undefined);
          if (!stat) continue;
          if (stat.isDirectory()) {
            out.set(path, { kind: "directory", mtimeMs: Math.round(stat.mtimeMs), executable: false });
            await visit(full, path);
          } else if (stat.isFile()) {
            const content = await nodeFs.readFile(full).catch(() => undefined);
            if (!content) continue;
            out.set(path, {
              kind: "file",
              content: new Uint8Array(content),
              mtimeMs: Math.round(stat.mtimeMs),
              executable: (stat.mode & 0o100) !== 0,
            });
          }
        }
      };
      await visit(root, "");
      return out;
    },
    removeRoot: () => nodeFs.rm(root, { recursive: true, force: true }),
    async dispose() {
      await fs.close();
    },
  };
};

export async function removeTempFolders(): Promise<void> {
  await Promise.all(created.splice(0).map((root) => rm(root, { recursive: true, force: true })));
}

/** A folder's content as comparable plain data (mtimes of directories aside). */
export async function describeFolder(folder: TestFolder): Promise<string> {
  const out: Record<string, string> = {};
  for (const [path, e] of await folder.snapshot()) {
    out[path] =
      e.kind === "directory"
        ? "dir"
        : `${fingerprint(e.content ?? new Uint8Array())}|${e.mtimeMs}|${e.executable ? "x" : "-"}`;
  }
  return JSON.stringify(out);
}

function fingerprint(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 16777619);
  return `${bytes.length}:${(h >>> 0).toString(16)}`;
}
