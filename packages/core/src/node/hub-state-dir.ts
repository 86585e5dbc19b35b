import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NodeContentStore } from "./node-content-store.js";
import { NodeHubJournal } from "./node-hub-journal.js";

/** A hub's state directory, opened: pass `store` and `journal` to `createHub`. */
export interface HubStateDir {
  readonly dir: string;
  readonly store: NodeContentStore;
  readonly journal: NodeHubJournal;
  /** Releases the directory's lock (after the hub stopped). */
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) a hub state directory: `index.log` (the index and tombstones),
 * `content/` (chunks and manifests) and a `lock` holding the owner's pid, so two hubs never write
 * the same directory. A lock left by a process that no longer runs (after `kill -9`) is taken over.
 */
export async function openHubStateDir(dir: string): Promise<HubStateDir> {
  await mkdir(dir, { recursive: true });
  const lock = join(dir, "lock");
  await takeLock(lock);
  const store = new NodeContentStore(join(dir, "content"));
  try {
    await store.open();
  } catch (error) {
    await rm(lock, { force: true });
    throw error;
  }
  const journal = new NodeHubJournal(dir);
  return {
    dir,
    store,
    journal,
    async close() {
      await journal.close();
      await rm(lock, { force: true });
    },
  };
}

async function takeLock(lock: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(await readFile(lock, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
      throw new Error(`the state directory is in use by another hub (process ${owner}); stop it first`);
    }
    await rm(lock, { force: true });
  }
  throw new Error("could not lock the state directory");
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
