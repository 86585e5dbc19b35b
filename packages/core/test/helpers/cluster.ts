import { createMemoryNetwork, type MemoryNetworkOptions } from "../../src/memory/memory-network.js";
import { type Client, type ClientOptions, createClient } from "../../src/sync/client.js";
import { createHub, type Hub, type HubOptions } from "../../src/sync/hub.js";
import { waitFor } from "../../src/testing/wait-for.js";
import type { ClientTransport } from "../../src/transport.js";
import { describeFolder, type FolderFactory, memoryFolder, type TestFolder } from "./test-folder.js";

export interface Member {
  client: Client;
  dir: TestFolder;
}

/** A hub and any number of clients on one in-memory network, each with its own folder. */
export class Cluster {
  readonly network;
  readonly hub: Hub;
  readonly members: Member[] = [];
  readonly #folder: FolderFactory;

  constructor(
    options: {
      network?: MemoryNetworkOptions;
      hub?: Omit<HubOptions, "transport">;
      folder?: FolderFactory;
    } = {},
  ) {
    this.network = createMemoryNetwork(options.network);
    this.hub = createHub({ transport: this.network.hubTransport(), ...options.hub });
    this.#folder = options.folder ?? memoryFolder;
  }

  async start(): Promise<void> {
    await this.hub.start();
  }

  /** Adds a client (not started) with a fresh folder. */
  async add(
    options: Partial<Omit<ClientOptions, "transport" | "fs">> & { transport?: ClientTransport } = {},
  ): Promise<Member> {
    const dir = await this.#folder();
    const client = createClient({
      transport: this.network.clientTransport(),
      fs: dir.fs,
      settleMs: 5,
      deleteSettleMs: 20,
      ...options,
    });
    const member = { client, dir };
    this.members.push(member);
    return member;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.client.stop()));
    await this.hub.stop();
    await Promise.all(this.members.map((m) => m.dir.dispose()));
  }
}

export async function converged(...dirs: TestFolder[]): Promise<void> {
  let last = "";
  await waitFor(
    async () => {
      const all = await Promise.all(dirs.map((d) => describeFolder(d)));
      last = all.join("\n");
      return all.every((x) => x === all[0]);
    },
    { message: "convergence", timeoutMs: 8000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${last}`);
  });
}
