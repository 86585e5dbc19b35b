import * as nodeFs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { WatchEvent } from "../src/file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { createNodeFileSystem, type NodeFileSystem } from "../src/node/node-file-system.js";
import { type Client, createClient } from "../src/sync/client.js";
import { createHub, type Hub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";

// The real inotify limit is exercised end to end in packages/cli/test/fault-inotify.test.ts (where
// user namespaces allow it); here the periodic scan is forced, so it runs everywhere.

const roots: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await Promise.all(roots.splice(0).map((r) => nodeFs.rm(r, { recursive: true, force: true })));
});

async function folder(
  options: { forceScanFallback?: boolean } = {},
): Promise<{ root: string; fs: NodeFileSystem }> {
  const root = await nodeFs.mkdtemp(join(tmpdir(), "distsync-scan-"));
  roots.push(root);
  const fs = await createNodeFileSystem(root, { durable: false, scanIntervalMs: 100, ...options });
  cleanups.push(() => fs.close());
  return { root, fs };
}

const text = (path: string) => nodeFs.readFile(path, "utf8").catch(() => undefined);

describe("the periodic scan that replaces the OS watcher", () => {
  it("reports additions, edits, deletions and new directories as watch events", async () => {
    const { root, fs } = await folder({ forceScanFallback: true });
    await nodeFs.writeFile(join(root, "before.txt"), "there at the start\n");
    const events: WatchEvent[] = [];
    const watcher = await fs.watch((event) => events.push(event));
    cleanups.push(() => watcher.close());
    const seen = (type: string, path: string) =>
      waitFor(() => events.some((e) => e.type === type && "path" in e && e.path === path), {
        timeoutMs: 5000,
        message: `${type} ${path}`,
      });

    await nodeFs.mkdir(join(root, "dir/sub"), { recursive: true });
    await nodeFs.writeFile(join(root, "dir/sub/new.txt"), "new\n");
    await seen("add", "dir");
    await seen("add", "dir/sub/new.txt");
    await nodeFs.writeFile(join(root, "before.txt"), "edited, and longer than before\n");
    await seen("change", "before.txt");
    await nodeFs.rm(join(root, "dir"), { recursive: true });
    await seen("remove", "dir/sub/new.txt");
    await seen("remove", "dir");
    // What existed when watching began is no news; removals come deepest first.
    expect(events.some((e) => e.type === "add" && e.path === "before.txt")).toBe(false);
    const removals = events.filter((e) => e.type === "remove").map((e) => ("path" in e ? e.path : ""));
    expect(removals).toEqual(["dir/sub/new.txt", "dir/sub", "dir"]);
    // The temp files of writes are never reported.
    const writer = await fs.createWriter("written.txt" as never);
    await writer.write(new TextEncoder().encode("x"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    await writer.commit({ mtimeMs: Date.now(), executable: false });
    await seen("add", "written.txt");
    expect(events.some((e) => "path" in e && e.path.includes(".distsync"))).toBe(false);
  });

  it("keeps a client in sync without any OS watcher: created, modified and deleted files propagate", async () => {
    const network = createMemoryNetwork();
    const hub: Hub = createHub({ transport: network.hubTransport() });
    await hub.start();
    cleanups.push(() => hub.stop());
    const scanned = await folder({ forceScanFallback: true });
    const watched = await folder();
    const clients: Client[] = [scanned, watched].map(({ fs }) =>
      createClient({ transport: network.clientTransport(), fs, settleMs: 5, deleteSettleMs: 20 }),
    );
    for (const client of clients) cleanups.push(() => client.stop());
    await Promise.all(clients.map((c) => c.start()));

    const file = (side: { root: string }, path: string) => join(side.root, ...path.split("/"));
    await nodeFs.mkdir(file(scanned, "docs"));
    await nodeFs.writeFile(file(scanned, "docs/a.txt"), "created\n");
    await waitFor(async () => (await text(file(watched, "docs/a.txt"))) === "created\n", {
      timeoutMs: 5000,
      message: "the created file",
    });
    await nodeFs.writeFile(file(scanned, "docs/a.txt"), "modified, a little longer\n");
    await waitFor(async () => (await text(file(watched, "docs/a.txt"))) === "modified, a little longer\n", {
      timeoutMs: 5000,
      message: "the modified file",
    });
    await nodeFs.rm(file(scanned, "docs/a.txt"));
    await waitFor(async () => (await text(file(watched, "docs/a.txt"))) === undefined, {
      timeoutMs: 5000,
      message: "the deletion",
    });
    // And the other way round, through the scanned side's writes.
    await nodeFs.writeFile(file(watched, "back.txt"), "back\n");
    await waitFor(async () => (await text(file(scanned, "back.txt"))) === "back\n", {
      timeoutMs: 5000,
      message: "back.txt on the scanned side",
    });
  });
});
