import { randomBytes } from "node:crypto";
import { type Client, createClient, createHub, type Hub, MemoryFileSystem } from "@distsync/core";
import { waitFor } from "@distsync/core/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createNatsClientTransport, createNatsHubTransport } from "../src/index.js";
import { type NatsServer, requireNatsServer, startNatsServer } from "./helpers/nats-server.js";

const hasNats = requireNatsServer();
const T1500 = Date.UTC(2026, 0, 1, 15, 0, 0);

describe.skipIf(!hasNats)("DistSync end to end over NATS", () => {
  let server: NatsServer;
  const hubs: Hub[] = [];
  const clients: Client[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.stop()));
    await Promise.all(hubs.splice(0).map((hub) => hub.stop()));
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A hub on a fresh NATS hub transport under its own subject prefix; returns the prefix. */
  async function startHub(token?: string): Promise<string> {
    const subjectPrefix = `sync${++prefixes}`;
    const hub = createHub({
      transport: createNatsHubTransport({ url: server.url, subjectPrefix }),
      ...(token === undefined ? {} : { token }),
    });
    hubs.push(hub);
    await hub.start();
    return subjectPrefix;
  }

  function addClient(subjectPrefix: string, name: string, token?: string) {
    const fs = new MemoryFileSystem();
    const client = createClient({
      transport: createNatsClientTransport({ url: server.url, subjectPrefix }),
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
    const prefix = await startHub();
    const a = addClient(prefix, "A");
    const b = addClient(prefix, "B");
    await a.client.start();
    await b.client.start();
    a.fs.put("notes/hello.txt", "hi there", { mtimeMs: T1500 });
    await waitFor(() => b.fs.readText("notes/hello.txt") === "hi there", { message: "the file on B" });
    expect(b.fs.snapshot().get("notes/hello.txt")?.mtimeMs).toBe(T1500);
  });

  it("carries a 3 MiB random file intact (chunked by core into frames under max_payload)", async () => {
    const prefix = await startHub();
    const a = addClient(prefix, "A");
    const b = addClient(prefix, "B");
    await a.client.start();
    await b.client.start();
    const content = randomBytes(3 * 1024 * 1024);
    a.fs.put("big.bin", content, { mtimeMs: T1500 });
    await waitFor(
      () => {
        const entry = b.fs.snapshot().get("big.bin");
        return entry?.content?.length === content.length;
      },
      { timeoutMs: 15_000, message: "big.bin on B" },
    );
    const received = b.fs.snapshot().get("big.bin")?.content ?? new Uint8Array(0);
    expect(Buffer.compare(received, content)).toBe(0);
  });

  it("stops a client with a wrong DistSync token with auth-refused and writes nothing", async () => {
    const prefix = await startHub("s3cret");
    const good = addClient(prefix, "good", "s3cret");
    good.fs.put("secret.txt", "classified", { mtimeMs: T1500 });
    await good.client.start();
    const bad = addClient(prefix, "bad", "nope");
    await expect(bad.client.start()).rejects.toMatchObject({ code: "auth-refused" });
    expect((await bad.client.closed).reason).toBe("auth-refused");
    expect(bad.fs.snapshot().size).toBe(0);
  });

  it("stops a client with hub-unreachable when no hub listens on its prefix", async () => {
    const lonely = addClient("nobody", "lonely");
    await expect(lonely.client.start()).rejects.toMatchObject({ code: "connection" });
    const closed = await lonely.client.closed;
    expect(closed.reason).toBe("hub-unreachable");
    expect(closed.error?.message).toBe(`no hub is listening on nobody at ${server.url}`);
  });
});
