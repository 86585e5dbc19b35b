import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ContentStore, HubJournal } from "@distsync/core";
import { NodeContentStore, openHubStateDir } from "@distsync/core/node";
import { CliError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";

/** Where a CLI hub keeps its content and (with a state directory) its index. */
export interface HubStorage {
  store: ContentStore;
  journal: HubJournal | undefined;
  close(): Promise<void>;
}

/**
 * With `stateDir`: the persistent state directory. Without: content still goes to disk — a
 * temporary directory removed at the end — so a 1 GiB file never sits in the hub's memory; only
 * the index is lost when the hub stops.
 */
export async function openHubStorage(stateDir: string | undefined, cwd: string): Promise<HubStorage> {
  if (stateDir !== undefined) {
    const dir = resolve(cwd, stateDir);
    try {
      const state = await openHubStateDir(dir);
      return { store: state.store, journal: state.journal, close: () => state.close() };
    } catch (error) {
      throw new CliError(ExitCode.usage, `--state-dir ${dir}: ${(error as Error).message}`, { cause: error });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "distsync-hub-"));
  // Removed when the hub stops, and useless after a crash: no fsync per chunk.
  const store = new NodeContentStore(dir, { durable: false });
  await store.open();
  return { store, journal: undefined, close: () => rm(dir, { recursive: true, force: true }) };
}
