// A hub and two clients in one process: the hub listens on WebSocket (127.0.0.1, a free port) and
// each client keeps one folder on disk in sync through it. The docs test runs this against real
// temp directories (apps/docs/test/embedded-sync.test.ts).
import { basename } from "node:path";
import { type ChangeInfo, type Client, createClient, createHub, type Hub } from "@distsync/core";
import { createNodeFileSystem, type NodeFileSystem } from "@distsync/core/node";
import {
  createWebSocketClientTransport,
  createWebSocketHubTransport,
  type WebSocketClientTransport,
} from "@distsync/transport-ws";

export interface EmbeddedSync {
  /** The URL other clients could join, e.g. `ws://127.0.0.1:43127`. */
  url: string;
  hub: Hub;
  clients: Client[];
  /** Stops the clients (they say goodbye), then the hub; releases the transports and folders. */
  stop(): Promise<void>;
}

export async function startEmbeddedSync(
  dirs: readonly string[],
  onApplied: (dir: string, change: ChangeInfo) => void = () => {},
): Promise<EmbeddedSync> {
  // 1. The hub. Port 0 picks a free port; the real one is in `hubTransport.url` once listening.
  const hubTransport = createWebSocketHubTransport({ host: "127.0.0.1", port: 0 });
  const hub = createHub({ transport: hubTransport });
  hub.on("conflict", (c) => console.warn(`conflict on ${c.path}: ${c.winner.origin} beat ${c.loser.origin}`));
  await hub.start();

  // 2. One client per folder, each with its own connection to the hub.
  const clients: Client[] = [];
  const transports: WebSocketClientTransport[] = [];
  const folders: NodeFileSystem[] = [];
  for (const dir of dirs) {
    const fs = await createNodeFileSystem(dir); // FileSystemError (ENOENT) if the folder is missing
    folders.push(fs);
    const transport = createWebSocketClientTransport({ url: hubTransport.url });
    transports.push(transport);
    // `name` shows in logs, at the hub and in conflict file names (default: the random client id).
    const client = createClient({ transport, fs, name: basename(dir) });
    client.on("change-applied", (change) => onApplied(dir, change));
    client.on("error", (error) => console.error(`${dir}: ${error.code}: ${error.message}`));
    clients.push(client);
  }

  // 3. Start them. Each start() resolves once its folder matches the hub (or rejects if the
  //    client stopped first, e.g. with auth-refused; `client.closed` then says why).
  for (const client of clients) await client.start();

  return {
    url: hubTransport.url,
    hub,
    clients,
    async stop() {
      await Promise.all(clients.map((client) => client.stop()));
      await hub.stop(); // also closes the hub transport
      // A client does not close its transport, nor the folder: whoever created them does.
      await Promise.all([...transports.map((t) => t.close()), ...folders.map((fs) => fs.close())]);
    },
  };
}
