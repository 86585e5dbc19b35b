import { describe, expect, it } from "vitest";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { createClient } from "../src/sync/client.js";
import { createHub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { Connection, HubTransport } from "../src/transport.js";
import { SpyTransport } from "./helpers/spy-transport.js";
import { wrapConnection } from "./helpers/wrap-connection.js";

/** A hub transport whose connections number `stalled` never finish a send: a client that stopped reading. */
function withStalledConnection(inner: HubTransport, stalled: number): HubTransport {
  let count = 0;
  return {
    capabilities: inner.capabilities,
    listen: (o) => inner.listen(o),
    close: () => inner.close(),
    on(event, listener) {
      if (event !== "peer-connected") return inner.on(event, listener);
      return inner.on("peer-connected", (connection) => {
        count++;
        if (count !== stalled) return (listener as (c: Connection) => void)(connection);
        let welcomed = false;
        // The welcome and the join answers go through; after that nothing is ever taken.
        const wrapped = wrapConnection(connection, {
          send: (frame, options) => {
            if (!welcomed || frame.length < 64) {
              welcomed = true;
              return connection.send(frame, options);
            }
            return new Promise(() => {});
          },
        });
        (listener as (c: Connection) => void)(wrapped);
      });
    },
  };
}

describe("hub limits", () => {
  it("drops a client that cannot keep up instead of queueing without bound; others keep syncing", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({
      transport: withStalledConnection(network.hubTransport(), 2),
      maxQueueBytes: 64 * 1024,
    });
    const left: string[] = [];
    hub.on("client-left", (_client, reason) => left.push(reason));
    await hub.start();
    const writer = new MemoryFileSystem();
    const a = createClient({ transport: network.clientTransport(), fs: writer, settleMs: 2 });
    const slow = createClient({
      transport: network.clientTransport(),
      fs: new MemoryFileSystem(),
      settleMs: 2,
    });
    const reader = new MemoryFileSystem();
    const b = createClient({ transport: network.clientTransport(), fs: reader, settleMs: 2 });
    await a.start();
    void slow.start().catch(() => {});
    await waitFor(() => hub.status().spaces[0]?.clients.length === 2);
    await b.start();
    // Incompressible, so each file really is ~40 KB on the wire.
    let x = 12345;
    const noise = () =>
      new Uint8Array(40_000).map(() => {
        x = (Math.imul(x, 1103515245) + 12345) | 0;
        return x >>> 24;
      });
    for (let i = 0; i < 10; i++) writer.put(`f${i}.bin`, noise());
    await waitFor(() => left.some((r) => r.includes("cannot keep up")), {
      message: "the slow client to be dropped",
    });
    await waitFor(() => reader.readText("f9.bin") !== undefined, { message: "the others to keep syncing" });
    await Promise.all([a.stop(), b.stop(), slow.stop()]);
    await hub.stop();
  });

  it("refuses a file above maxFileBytes with content-too-large, asks no upload, and keeps syncing the rest", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({ transport: network.hubTransport(), maxFileBytes: 100_000 });
    await hub.start();
    const fs = new MemoryFileSystem();
    const spy = new SpyTransport(network.clientTransport());
    const a = createClient({ transport: spy, fs, settleMs: 2 });
    const errors: string[] = [];
    a.on("error", (e) => errors.push(e.code));
    const other = new MemoryFileSystem();
    const b = createClient({ transport: network.clientTransport(), fs: other, settleMs: 2 });
    await a.start();
    await b.start();
    fs.put("huge.bin", new Uint8Array(200_000).fill(7));
    fs.put("small.txt", "fine");
    await waitFor(() => errors.includes("content-too-large"), { message: "the refusal" });
    await waitFor(() => other.readText("small.txt") === "fine");
    expect(spy.count("received", "upload")).toBe(0);
    expect(hub.entries().map((e) => e.path)).toEqual(["small.txt"]);
    expect(a.status().pending).toBe(0);
    await Promise.all([a.stop(), b.stop()]);
    await hub.stop();
  });

  it("turns away connections beyond maxConnections with too-many-connections; the others keep syncing", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({ transport: network.hubTransport(), maxConnections: 2 });
    await hub.start();
    const [fsA, fsB] = [new MemoryFileSystem(), new MemoryFileSystem()];
    const a = createClient({ transport: network.clientTransport(), fs: fsA, settleMs: 2 });
    const b = createClient({ transport: network.clientTransport(), fs: fsB, settleMs: 2 });
    await a.start();
    await b.start();

    // Without reconnect: it stops as for an unreachable hub, saying why.
    const third = createClient({ transport: network.clientTransport(), fs: new MemoryFileSystem() });
    await expect(third.start()).rejects.toThrow(/limit of 2 connections/);
    const closed = await third.closed;
    expect(closed.reason).toBe("hub-unreachable");
    expect(closed.error?.message).toMatch(/too many|limit of 2 connections/);
    expect(hub.status().spaces[0]?.clients.length).toBe(2);

    // With reconnect: it keeps trying, and joins once a place is free.
    const fsD = new MemoryFileSystem();
    const d = createClient({
      transport: network.clientTransport(),
      fs: fsD,
      settleMs: 2,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    const reconnecting: number[] = [];
    d.on("reconnecting", ({ attempt }) => reconnecting.push(attempt));
    const dReady = d.start();
    fsA.put("during.txt", "the full hub still serves its clients");
    await waitFor(() => fsB.readText("during.txt") === "the full hub still serves its clients");
    await waitFor(() => reconnecting.length >= 2, { message: "d to retry" });
    await b.stop();
    await dReady;
    await waitFor(() => fsD.readText("during.txt") === "the full hub still serves its clients");
    await Promise.all([a.stop(), d.stop()]);
    await hub.stop();
  });

  it("makes room by closing the oldest connection that never said hello", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({ transport: network.hubTransport(), maxConnections: 2 });
    await hub.start();
    const fsA = new MemoryFileSystem();
    const a = createClient({ transport: network.clientTransport(), fs: fsA, settleMs: 2 });
    await a.start();
    // A connection that says nothing holds the second place.
    const silent = await network.clientTransport().connect();
    const silentClosed = new Promise<void>((resolve) => silent.on("close", () => resolve()));
    const fsB = new MemoryFileSystem();
    const b = createClient({ transport: network.clientTransport(), fs: fsB, settleMs: 2 });
    await b.start();
    await silentClosed;
    fsA.put("x.txt", "room was made");
    await waitFor(() => fsB.readText("x.txt") === "room was made");
    await Promise.all([a.stop(), b.stop()]);
    await hub.stop();
  });
});
