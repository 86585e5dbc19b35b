import { type Client, createClient, createHub, type Hub, MemoryFileSystem } from "@distsync/core";
import { waitFor } from "@distsync/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { createWebSocketClientTransport, createWebSocketHubTransport } from "../src/index.js";

const T1500 = Date.UTC(2026, 0, 1, 15, 0, 0);

describe("DistSync end to end over WebSocket", () => {
  const hubs: Hub[] = [];
  const clients: Client[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.stop()));
    await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
  });

  /** A hub on a fresh WebSocket transport (127.0.0.1, free port); returns its URL. */
  async function startHub(token?: string): Promise<string> {
    const transport = createWebSocketHubTransport({ port: 0 });
    const hub = createHub({ transport, ...(token === undefined ? {} : { token }) });
    hubs.push(hub);
    await hub.start();
    return transport.url;
  }

  function addClient(url: string, name: string, token?: string): { client: Client; fs: MemoryFileSystem } {
    const fs = new MemoryFileSystem();
    const client = createClient({
      transport: createWebSocketClientTransport({ url }),
      fs,
      name,
      settleMs: 5,
      deleteSettleMs: 15,
      ...(token === undefined ? {} : { token }),
    });
    clients.push(client);
    return { client, fs };
  }

  it("carries a file put on one client to another", async () => {
    const url = await startHub();
    const a = addClient(url, "A");
    const b = addClient(url, "B");
    await a.client.start();
    await b.client.start();
    a.fs.put("notes/hello.txt", "hi there", { mtimeMs: T1500 });
    await waitFor(() => b.fs.readText("notes/hello.txt") === "hi there", { message: "the file on B" });
    expect(b.fs.snapshot().get("notes/hello.txt")?.mtimeMs).toBe(T1500);
  });

  it("stops a client with a wrong token with auth-refused and writes nothing", async () => {
    const url = await startHub("s3cret");
    const good = addClient(url, "good", "s3cret");
    good.fs.put("secret.txt", "classified", { mtimeMs: T1500 });
    await good.client.start();
    const bad = addClient(url, "bad", "nope");
    await expect(bad.client.start()).rejects.toMatchObject({ code: "auth-refused" });
    const closed = await bad.client.closed;
    expect(closed.reason).toBe("auth-refused");
    expect(bad.fs.snapshot().size).toBe(0);
  });
});
