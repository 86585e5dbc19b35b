import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import * as nodePath from "node:path";

export interface TreeEntry {
  kind: "file" | "directory";
  /** SHA-256 of the content (files). */
  sha?: string;
  size?: number;
  executable?: boolean;
  mtimeMs?: number;
}

/** Every file and directory below `root` (DistSync's own `.distsync` and `.distsync-*` names left out), by relative path. */
export async function snapshot(root: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const visit = async (dir: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (name === ".distsync" || name.startsWith(".distsync-")) continue;
      const abs = nodePath.join(dir, name);
      const path = rel === "" ? name : `${rel}/${name}`;
      let stats: Awaited<ReturnType<typeof lstat>>;
      try {
        stats = await lstat(abs);
      } catch {
        continue;
      }
      if (stats.isDirectory()) {
        out.set(path, { kind: "directory" });
        await visit(abs, path);
      } else if (stats.isFile()) {
        let data: Buffer;
        try {
          data = await readFile(abs);
        } catch {
          continue;
        }
        out.set(path, {
          kind: "file",
          sha: createHash("sha256").update(data).digest("hex"),
          size: data.length,
          executable: (stats.mode & 0o100) !== 0,
          mtimeMs: stats.mtimeMs,
        });
      }
    }
  };
  await visit(root, "");
  return out;
}

/** The snapshot without mtimes, as a plain object (for `toEqual` diffs). */
export function content(tree: Map<string, TreeEntry>): Record<string, Omit<TreeEntry, "mtimeMs">> {
  const out: Record<string, Omit<TreeEntry, "mtimeMs">> = {};
  for (const [path, { mtimeMs: _, ...rest }] of tree) out[path] = rest;
  return out;
}

/** Polls `condition` every 50 ms until it holds; rejects after `timeoutMs` with `what` and the last detail. */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  detail?: () => Promise<string> | string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${await detail()}` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves once every directory holds the same tree (paths, kinds, contents, exec bits); returns it. */
export async function waitForConvergence(
  dirs: readonly string[],
  timeoutMs: number,
  also: (tree: Map<string, TreeEntry>) => boolean = () => true,
): Promise<Map<string, TreeEntry>> {
  let last: Map<string, TreeEntry>[] = [];
  await waitUntil(
    async () => {
      last = await Promise.all(dirs.map((d) => snapshot(d)));
      const [first, ...rest] = last.map((t) => JSON.stringify(content(t)));
      return rest.every((r) => r === first) && also(last[0]!);
    },
    timeoutMs,
    "the directories to converge",
    () => last.map((t, i) => `${dirs[i]}: ${JSON.stringify(content(t))}`).join("\n"),
  );
  return last[0]!;
}

/** Sleeps; only for the "nothing happens" windows. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
