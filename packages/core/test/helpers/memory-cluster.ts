import { MemoryFileSystem } from "../../src/memory/memory-file-system.js";
import { createMemoryNetwork, type MemoryNetworkOptions } from "../../src/memory/memory-network.js";
import { type Client, type ClientOptions, createClient } from "../../src/sync/client.js";
import { createHub, type Hub, type HubOptions } from "../../src/sync/hub.js";

/** A hub and any number of clients on one in-memory network, each with its own memory folder. */
export class MemoryCluster {
  readonly network;
  readonly hub: Hub;
  readonly clients: Client[] = [];
  readonly folders: MemoryFileSystem[] = [];

  constructor(options: { network?: MemoryNetworkOptions; hub?: Omit<HubOptions, "transport"> } = {}) {
    this.network = createMemoryNetwork(options.network);
    this.hub = createHub({ transport: this.network.hubTransport(), ...options.hub });
  }

  async start(): Promise<void> {
    await this.hub.start();
  }

  /** Adds a client (not started) with a fresh folder, or the given one. */
  add(
    options: Partial<Omit<ClientOptions, "transport" | "fs">> = {},
    fs = new MemoryFileSystem(),
  ): { client: Client; fs: MemoryFileSystem } {
    const client = createClient({
      transport: this.network.clientTransport(),
      fs,
      settleMs: 5,
      deleteSettleMs: 15,
      ...options,
    });
    this.clients.push(client);
    this.folders.push(fs);
    return { client, fs };
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
    await this.hub.stop();
  }
}

/** A folder's content as comparable plain data (mtimes of directories aside). */
export function describe(fs: MemoryFileSystem): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, e] of fs.snapshot()) {
    out[path] =
      e.kind === "directory"
        ? "dir"
        : `${new TextDecoder().decode(e.content ?? new Uint8Array())}|${e.mtimeMs}|${e.executable ? "x" : "-"}`;
  }
  return out;
}
