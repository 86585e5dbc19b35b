import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ClosedError, ConnectionError } from "../src/errors.js";
import { createMemoryNetwork, type MemoryNetworkOptions } from "../src/memory/memory-network.js";
import { runTransportConformance } from "../src/testing/transport-conformance.js";
import type { CloseInfo, Connection } from "../src/transport.js";

runTransportConformance("memory", async () => {
  const network = createMemoryNetwork();
  return { hub: network.hubTransport(), client: () => network.clientTransport() };
});

runTransportConformance("memory with latency and jitter", async () => {
  const network = createMemoryNetwork({ latencyMs: 1, jitterMs: 3, random: mulberry32(42) });
  return { hub: network.hubTransport(), client: () => network.clientTransport() };
});

// Below 1 MiB + 1024, so the large-payload case sizes itself from the limit.
runTransportConformance("memory with a 64 KiB frame limit", async () => {
  const network = createMemoryNetwork({ maxFrameBytes: 64 * 1024 });
  return { hub: network.hubTransport(), client: () => network.clientTransport() };
});

describe("memory network", () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A listening hub that records its connections, and a way to connect new clients. */
  async function start(options?: MemoryNetworkOptions) {
    const network = createMemoryNetwork(options);
    const hub = network.hubTransport();
    const hubSide: Connection[] = [];
    const disconnected: CloseInfo[] = [];
    hub.on("peer-connected", (connection) => {
      hubSide.push(connection);
    });
    hub.on("peer-disconnected", (_connection, info) => {
      disconnected.push(info);
    });
    await hub.listen();
    cleanups.push(() => hub.close());
    const connect = async (): Promise<Connection> => {
      const transport = network.clientTransport();
      cleanups.push(async () => transport.close?.());
      return transport.connect();
    };
    return { network, hub, hubSide, disconnected, connect };
  }

  function recordCloses(connection: Connection): CloseInfo[] {
    const closes: CloseInfo[] = [];
    connection.on("close", (info) => {
      closes.push(info);
    });
    return closes;
  }

  it("breaks every connection on dropAll, with a ConnectionError on both ends", async () => {
    const { network, hubSide, disconnected, connect } = await start();
    const clients = [await connect(), await connect()];
    const ends = [...clients, ...hubSide];
    expect(ends).toHaveLength(4);
    const closes = ends.map(recordCloses);
    expect(network.connections).toHaveLength(2);

    await network.dropAll();

    expect(network.connections).toEqual([]);
    for (const [i, recorded] of closes.entries()) {
      expect(recorded, `end ${i}`).toHaveLength(1);
      expect(recorded[0]?.local).toBe(false);
      expect(ConnectionError.isInstance(recorded[0]?.error)).toBe(true);
      expect(ends[i]?.closed).toBe(true);
    }
    expect(disconnected).toHaveLength(2);
    expect(disconnected.every((info) => ConnectionError.isInstance(info.error) && !info.local)).toBe(true);
    const error = await clients[0]?.send(Uint8Array.of(1)).catch((reason: unknown) => reason);
    expect(ClosedError.isInstance(error)).toBe(true);
    // The hub still listens: a new client gets in.
    const again = await connect();
    expect(again.closed).toBe(false);
    expect(network.connections).toEqual([again.id]);
  });

  it("drops one connection by id and leaves the others working", async () => {
    const { network, hubSide, connect } = await start();
    const [a, b] = [await connect(), await connect()];
    const closesA = recordCloses(a);
    const received: number[] = [];
    hubSide[1]?.on("message", (frame) => {
      received.push(frame[0] ?? -1);
    });

    expect(await network.drop(a.id)).toBe(true);
    expect(await network.drop(a.id)).toBe(false);

    expect(closesA).toHaveLength(1);
    expect(ConnectionError.isInstance(closesA[0]?.error)).toBe(true);
    expect(hubSide[0]?.closed).toBe(true);
    await b.send(Uint8Array.of(9));
    await vi.waitFor(() => expect(received).toEqual([9]));
    expect(network.connections).toEqual([b.id]);
  });

  it("gives connections unique ids and memory: addresses", async () => {
    const { network, hubSide, connect } = await start();
    const clients = [await connect(), await connect(), await connect()];
    expect(new Set(network.connections).size).toBe(3);
    for (const [i, client] of clients.entries()) {
      expect(hubSide[i]?.id).toBe(client.id);
      expect(client.remoteAddress).toBe("memory:0");
      expect(hubSide[i]?.remoteAddress).toMatch(/^memory:[1-9]\d*$/);
    }
    expect(new Set(hubSide.map((connection) => connection.remoteAddress)).size).toBe(3);
  });

  it("allows one listening hub per network", async () => {
    const { network, hub } = await start();
    expect(() => network.hubTransport()).toThrow(/address in use/);
    await hub.close();
    const next = network.hubTransport();
    await next.listen();
    await next.close();
  });

  it("refuses connections while no hub listens", async () => {
    const network = createMemoryNetwork();
    const hub = network.hubTransport();
    const error = await network
      .clientTransport()
      .connect()
      .catch((reason: unknown) => reason);
    expect(ConnectionError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/connection refused/);
    await hub.close();
  });

  it("copies a frame when send is called, before the caller can touch its buffer", async () => {
    const { hubSide, connect } = await start();
    const client = await connect();
    const received: Uint8Array[] = [];
    hubSide[0]?.on("message", (frame) => {
      received.push(frame);
    });
    const buffer = Uint8Array.of(1, 2, 3);
    const sent = client.send(buffer);
    buffer.fill(0);
    await sent;
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect([...(received[0] ?? [])]).toEqual([1, 2, 3]);
    expect(received[0]?.byteOffset).toBe(0);
    expect(received[0]?.buffer.byteLength).toBe(3);
  });

  it("rejects invalid options", () => {
    expect(() => createMemoryNetwork({ maxFrameBytes: 0 })).toThrow(RangeError);
    expect(() => createMemoryNetwork({ latencyMs: -1 })).toThrow(RangeError);
    expect(() => createMemoryNetwork({ jitterMs: Number.NaN })).toThrow(RangeError);
  });

  describe("under jitter (fake timers)", () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Three clients send 50 numbered frames each at once; returns the hub's arrivals as `client:index`. */
    async function jitterRun(seed: number): Promise<string[]> {
      const network = createMemoryNetwork({ latencyMs: 1, jitterMs: 3, random: mulberry32(seed) });
      const hub = network.hubTransport();
      const arrivals: string[] = [];
      hub.on("peer-connected", (connection) => {
        connection.on("message", (frame) => {
          arrivals.push(`${frame[0]}:${frame[1]}`);
        });
      });
      await hub.listen();
      const clients: Connection[] = [];
      for (let c = 0; c < 3; c++) {
        const pending = network.clientTransport().connect();
        await vi.advanceTimersByTimeAsync(1);
        clients.push(await pending);
      }
      await Promise.all(
        clients.flatMap((client, c) =>
          Array.from({ length: 50 }, (_, i) => client.send(Uint8Array.of(c, i))),
        ),
      );
      await vi.advanceTimersByTimeAsync(50);
      await hub.close();
      return arrivals;
    }

    it("keeps each connection in send order while frames across connections interleave", async () => {
      const arrivals = await jitterRun(1);
      expect(arrivals).toHaveLength(150);
      for (const c of [0, 1, 2]) {
        const indexes = arrivals.filter((a) => a.startsWith(`${c}:`)).map((a) => Number(a.split(":")[1]));
        expect(indexes, `client ${c}`).toEqual(Array.from({ length: 50 }, (_, i) => i));
      }
      // Sent as three blocks; without reordering across connections they would arrive with 2 switches.
      const switches = arrivals.filter((a, i) => i > 0 && a[0] !== arrivals[i - 1]?.[0]).length;
      expect(switches).toBeGreaterThan(2);
    });

    it("gives the same delivery order for the same seed, and another for another seed", async () => {
      const first = await jitterRun(7);
      const second = await jitterRun(7);
      const other = await jitterRun(8);
      expect(second).toEqual(first);
      expect(other).not.toEqual(first);
    });
  });
});

/** A small seeded PRNG returning numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
