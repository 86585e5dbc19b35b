import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import type { Client } from "@distsync/core";

/** Where a running `distsync sync` says how far its folder is: read by `distsync wait`. */
const STATUS_FILE = nodePath.join(".distsync", "status.json");

/** How often a running client's status is rewritten (also its heartbeat for `wait`). */
export const STATUS_INTERVAL_MS = 200;

export interface FolderStatus {
  pid: number;
  clientId: string;
  state: string;
  /** Local changes not yet acknowledged by the hub, remote ones not yet applied, checks in flight. */
  pending: number;
  acked: number;
  delivered: number;
  /** Nothing pending, and every other connected client has applied this folder's latest change. */
  synced: boolean;
  updatedAt: number;
}

export interface StatusSource {
  root: string;
  client: Client;
  /** Watch events still to be double-checked: pending work the engine does not count yet. */
  watched: { readonly pendingChecks: number };
}

/**
 * Keeps `<dir>/.distsync/status.json` current for each folder while `sync` runs; `stop()` removes
 * the files, so a folder whose status file is missing (or names a dead process) is not being synced.
 */
export function startStatusFiles(sources: readonly StatusSource[]): { stop(): Promise<void> } {
  let writing = false;
  // Nothing is written into a folder before its client was let in by the hub (a refused token
  // leaves the folder untouched).
  const admitted = new Set<StatusSource>();
  const tick = async () => {
    if (writing) return;
    writing = true;
    for (const s of sources) {
      const state = s.client.status().state;
      if (state === "joining" || state === "live") admitted.add(s);
    }
    await Promise.all([...admitted].map((s) => writeStatus(s).catch(() => {})));
    writing = false;
  };
  const timer = setInterval(() => void tick(), STATUS_INTERVAL_MS);
  void tick();
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(sources.map((s) => rm(nodePath.join(s.root, STATUS_FILE), { force: true })));
    },
  };
}

async function writeStatus({ root, client, watched }: StatusSource): Promise<void> {
  const status = client.status();
  const pending = status.pending + watched.pendingChecks;
  const body: FolderStatus = {
    pid: process.pid,
    clientId: status.clientId,
    state: status.state,
    pending,
    acked: status.acked,
    delivered: status.delivered,
    synced: status.state === "live" && pending === 0 && status.delivered >= status.acked,
    updatedAt: Date.now(),
  };
  const dir = nodePath.join(root, ".distsync");
  // Not recursive: a folder that was removed must not come back to hold our status.
  await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  const file = nodePath.join(root, STATUS_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(body));
  await rename(temp, file);
}

/** The status a running `sync` last wrote for `root`, or `undefined` when there is none. */
export async function readStatus(root: string): Promise<FolderStatus | undefined> {
  try {
    return JSON.parse(await readFile(nodePath.join(root, STATUS_FILE), "utf8")) as FolderStatus;
  } catch {
    return undefined;
  }
}
