import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClosedError, ConnectionError, FrameTooLargeError } from "../errors.js";
import type { ClientTransport, CloseInfo, Connection, HubTransport } from "../transport.js";
import { waitFor } from "./wait-for.js";

/** What one test of the suite runs against. */
export interface TransportConformanceFixture {
  /** A hub transport that is not listening yet; the suite calls `listen()`. */
  hub: HubTransport;
  /** Makes a new client transport for the hub above; called once per client connection. */
  client: () => ClientTransport;
  /** Runs after the suite closed every connection and transport it used. */
  teardown?: () => Promise<void>;
}

/** Called before every test, so each test gets fresh instances. */
export type TransportConformanceSetup = () => Promise<TransportConformanceFixture>;

const MiB = 1024 * 1024;
/** How long to watch for something that must not happen (a late frame, a second event). */
const QUIET_MS = 50;

/**
 * The contract of `transport.ts` as tests: every transport adapter runs this suite in its
 * `test/<adapter>.conformance.test.ts`, then its own specific tests.
 */
export function runTransportConformance(name: string, setup: TransportConformanceSetup): void {
  describe(`transport conformance: ${name}`, () => {
    let h: Harness;

    beforeEach(async () => {
      h = await Harness.create(setup);
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it("round-trips frames byte-exact in both directions", async () => {
      const p = await h.connect();
      const up = Uint8Array.from({ length: 256 }, (_, i) => i);
      const down = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);
      p.hub.listen();
      p.client.listen();
      await p.client.connection.send(up);
      await p.hub.connection.send(down);
      await waitFor(() => p.hub.frames.length === 1 && p.client.frames.length === 1, {
        message: "one frame each way",
      });
      expect(p.hub.frames[0]).toBeInstanceOf(Uint8Array);
      expect(p.client.frames[0]).toBeInstanceOf(Uint8Array);
      expectBytes(p.hub.frames[0], up);
      expectBytes(p.client.frames[0], down);
    });

    it("round-trips a zero-length frame", async () => {
      const p = await h.connect();
      p.hub.listen();
      p.client.listen();
      await p.client.connection.send(new Uint8Array(0));
      await p.client.connection.send(Uint8Array.of(1));
      await p.hub.connection.send(new Uint8Array(0));
      await p.hub.connection.send(Uint8Array.of(2));
      await waitFor(() => p.hub.frames.length === 2 && p.client.frames.length === 2, {
        message: "two frames each way",
      });
      expect(p.hub.frames.map((frame) => [...frame])).toEqual([[], [1]]);
      expect(p.client.frames.map((frame) => [...frame])).toEqual([[], [2]]);
    });

    it("sends a Uint8Array view with a non-zero byteOffset as exactly its bytes", async () => {
      const p = await h.connect();
      p.hub.listen();
      p.client.listen();
      const backing = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
      const up = backing.subarray(13, 34);
      const down = new Uint8Array(backing.buffer, 40, 7);
      expect(up.byteOffset).toBe(13);
      await p.client.connection.send(up);
      await p.hub.connection.send(down);
      await waitFor(() => p.hub.frames.length === 1 && p.client.frames.length === 1, {
        message: "one frame each way",
      });
      expectBytes(
        p.hub.frames[0],
        Uint8Array.from({ length: 21 }, (_, i) => 255 - 13 - i),
      );
      expectBytes(
        p.client.frames[0],
        Uint8Array.from({ length: 7 }, (_, i) => 255 - 40 - i),
      );
    });

    it("lets the sender reuse its buffer once send resolves", async () => {
      const p = await h.connect();
      p.hub.listen();
      p.client.listen();
      const up = Uint8Array.of(1, 2, 3, 4);
      const down = Uint8Array.of(5, 6, 7);
      await p.client.connection.send(up);
      up.fill(0);
      await p.hub.connection.send(down);
      down.fill(0);
      await waitFor(() => p.hub.frames.length === 1 && p.client.frames.length === 1, {
        message: "one frame each way",
      });
      expectBytes(p.hub.frames[0], Uint8Array.of(1, 2, 3, 4));
      expectBytes(p.client.frames[0], Uint8Array.of(5, 6, 7));
    });

    it("round-trips a large random payload byte-exact", async () => {
      const p = await h.connect();
      const limit = Math.min(p.client.connection.maxFrameBytes, p.hub.connection.maxFrameBytes);
      const size = Math.max(1, Math.min(MiB, limit - 1024));
      const payload = pseudoRandomBytes(size, 0x5eed);
      // The hub echoes what it got, so the client checks both directions.
      const echoes: Promise<void>[] = [];
      p.hub.connection.on("message", (frame) => {
        p.hub.frames.push(frame);
        echoes.push(p.hub.connection.send(frame));
      });
      p.client.listen();
      await p.client.connection.send(payload);
      await waitFor(() => p.client.frames.length === 1, { message: "the echoed payload" });
      await Promise.all(echoes);
      expectBytes(p.hub.frames[0], payload);
      expectBytes(p.client.frames[0], payload);
    });

    it("accepts and delivers a frame of exactly maxFrameBytes", async () => {
      const p = await h.connect();
      p.hub.listen();
      p.client.listen();
      const up = pseudoRandomBytes(p.client.connection.maxFrameBytes, 1);
      const down = pseudoRandomBytes(p.hub.connection.maxFrameBytes, 2);
      await p.client.connection.send(up);
      await p.hub.connection.send(down);
      await waitFor(() => p.hub.frames.length === 1 && p.client.frames.length === 1, {
        message: "one full-size frame each way",
      });
      expectBytes(p.hub.frames[0], up);
      expectBytes(p.client.frames[0], down);
    });

    it("rejects maxFrameBytes + 1 with FrameTooLargeError and keeps the connection open", async () => {
      const p = await h.connect();
      p.hub.listen();
      p.client.listen();
      for (const side of [p.client, p.hub]) {
        const error = await rejectionOf(
          side.connection.send(new Uint8Array(side.connection.maxFrameBytes + 1)),
        );
        expect(FrameTooLargeError.isInstance(error), describeError(error)).toBe(true);
        expect(side.connection.closed).toBe(false);
      }
      await p.client.connection.send(Uint8Array.of(1));
      await p.hub.connection.send(Uint8Array.of(2));
      await waitFor(() => p.hub.frames.length === 1 && p.client.frames.length === 1, {
        message: "a small frame each way after the rejected ones",
      });
      await sleep(QUIET_MS);
      expect(p.hub.frames.map((frame) => [...frame])).toEqual([[1]]);
      expect(p.client.frames.map((frame) => [...frame])).toEqual([[2]]);
      expect(p.hub.closes).toEqual([]);
      expect(p.client.closes).toEqual([]);
    });

    it("keeps three clients apart", async () => {
      const pairs = [await h.connect(), await h.connect(), await h.connect()];
      expect(new Set(pairs.map((p) => p.hub.connection)).size).toBe(3);
      expect(new Set(pairs.map((p) => p.hub.connection.id)).size).toBe(3);
      for (const p of pairs) {
        p.hub.listen();
        p.client.listen();
      }
      await Promise.all(
        pairs.flatMap((p, i) => [
          p.client.connection.send(Uint8Array.of(i, 0)),
          p.client.connection.send(Uint8Array.of(i, 1)),
        ]),
      );
      await waitFor(() => pairs.every((p) => p.hub.frames.length >= 2), {
        message: "two frames from each client",
      });
      await Promise.all(pairs.map((p, i) => p.hub.connection.send(Uint8Array.of(100 + i))));
      await waitFor(() => pairs.every((p) => p.client.frames.length >= 1), {
        message: "a reply on each client",
      });
      await sleep(QUIET_MS);
      pairs.forEach((p, i) => {
        expect(
          p.hub.frames.map((frame) => [...frame]),
          `hub side of client ${i}`,
        ).toEqual([
          [i, 0],
          [i, 1],
        ]);
        expect(
          p.client.frames.map((frame) => [...frame]),
          `client ${i}`,
        ).toEqual([[100 + i]]);
      });
    });

    it("delivers 500 numbered frames in order in both directions", async () => {
      const count = 500;
      const p = await h.connect();
      p.hub.listen();
      p.client.listen();
      // Up without awaiting each send, down awaiting each: both uses must keep order.
      const up = Array.from({ length: count }, (_, i) => p.client.connection.send(numberedFrame(i)));
      for (let i = 0; i < count; i++) await p.hub.connection.send(numberedFrame(i));
      await Promise.all(up);
      await waitFor(() => p.hub.frames.length >= count && p.client.frames.length >= count, {
        message: `${count} frames each way`,
      });
      const expected = Array.from({ length: count }, (_, i) => i);
      expect(p.hub.frames.map(readNumberedFrame)).toEqual(expected);
      expect(p.client.frames.map(readNumberedFrame)).toEqual(expected);
    });

    it("emits peer-connected for each client and peer-disconnected when a client closes", async () => {
      const pairs = [await h.connect(), await h.connect(), await h.connect()];
      expect(h.connected).toHaveLength(3);
      expect(new Set(h.connected).size).toBe(3);
      const [first, leaving] = pairs as [Pair, Pair, Pair];
      await leaving.client.connection.close();
      await waitFor(() => h.disconnected.length === 1, { message: "peer-disconnected on the hub" });
      expect(h.disconnected[0]?.connection).toBe(leaving.hub.connection);
      expect(h.disconnected[0]?.info.local).toBe(false);
      await waitFor(() => leaving.hub.closes.length === 1, { message: "close on the hub's side" });
      expect(leaving.hub.closes[0]?.local).toBe(false);
      expect(leaving.hub.connection.closed).toBe(true);
      await waitFor(() => leaving.client.closes.length === 1, { message: "close on the closing client" });
      expect(leaving.client.closes[0]?.local).toBe(true);
      // The others are untouched.
      first.hub.listen();
      await first.client.connection.send(Uint8Array.of(7));
      await waitFor(() => first.hub.frames.length === 1, { message: "a frame from a remaining client" });
      await sleep(QUIET_MS);
      expect(h.disconnected).toHaveLength(1);
      expect(pairs.map((p) => [p.client.connection.closed, p.hub.connection.closed])).toEqual([
        [false, false],
        [true, true],
        [false, false],
      ]);
    });

    it("fires the client's close event when the hub closes the connection", async () => {
      const p = await h.connect();
      await p.hub.connection.close("going away");
      expect(p.hub.connection.closed).toBe(true);
      await waitFor(() => p.client.closes.length === 1, { message: "close on the client" });
      expect(p.client.closes[0]?.local).toBe(false);
      expect(p.client.connection.closed).toBe(true);
      await waitFor(() => p.hub.closes.length === 1, { message: "close on the hub's side" });
      expect(p.hub.closes[0]?.local).toBe(true);
    });

    it("fires every client's close event when the hub transport closes", async () => {
      const pairs = [await h.connect(), await h.connect()];
      await h.hub.close();
      await waitFor(() => pairs.every((p) => p.client.closes.length === 1), {
        message: "close on every client",
      });
      for (const p of pairs) {
        expect(p.client.closes[0]?.local).toBe(false);
        expect(p.client.connection.closed).toBe(true);
        expect(p.hub.connection.closed).toBe(true);
      }
    });

    for (const closer of ["client", "hub"] as const) {
      it(`delivers nothing on either side after the ${closer} closes`, async () => {
        const p = await h.connect();
        const [closing, peer] = closer === "client" ? [p.client, p.hub] : [p.hub, p.client];
        closing.listen();
        peer.listen();
        // Frames in flight both ways when the close happens.
        const sends = Array.from({ length: 50 }, (_, i) => [
          p.client.connection.send(numberedFrame(i)).catch(() => {}),
          p.hub.connection.send(numberedFrame(i)).catch(() => {}),
        ]).flat();
        await closing.connection.close();
        const receivedByCloser = closing.frames.length;
        expect(closing.connection.closed).toBe(true);
        await waitFor(() => peer.closes.length === 1, { message: `close on the ${closer}'s peer` });
        expect(peer.connection.closed).toBe(true);
        await peer.connection.send(Uint8Array.of(1)).catch(() => {});
        await Promise.all(sends);
        await sleep(QUIET_MS);
        expect(closing.frames.length, "frames reaching the closer after close() resolved").toBe(
          receivedByCloser,
        );
        expect(closing.framesAfterClose, "frames reaching the closer once closed").toBe(0);
        expect(peer.framesAfterClose, "frames reaching the peer once closed").toBe(0);
      });
    }

    it("resolves a double close and fires close once per side", async () => {
      const p = await h.connect();
      await Promise.all([p.client.connection.close(), p.client.connection.close()]);
      await p.client.connection.close();
      await waitFor(() => p.hub.closes.length === 1, { message: "close on the hub's side" });
      await p.hub.connection.close();
      await p.hub.connection.close();
      await sleep(QUIET_MS);
      expect(p.client.closes).toHaveLength(1);
      expect(p.hub.closes).toHaveLength(1);
      expect(h.disconnected).toHaveLength(1);
      await Promise.all([h.hub.close(), h.hub.close()]);
      await h.hub.close();
      const transport = h.clients[0];
      await transport?.close?.();
      await transport?.close?.();
    });

    it("rejects send after close with ClosedError on both sides", async () => {
      const p = await h.connect();
      await p.client.connection.close();
      const local = await rejectionOf(p.client.connection.send(Uint8Array.of(1)));
      expect(ClosedError.isInstance(local), describeError(local)).toBe(true);
      await waitFor(() => p.hub.closes.length === 1, { message: "close on the hub's side" });
      const remote = await rejectionOf(p.hub.connection.send(Uint8Array.of(2)));
      expect(ClosedError.isInstance(remote), describeError(remote)).toBe(true);
    });

    it("rejects connect with ConnectionError when the hub is closed", async () => {
      await h.connect();
      await h.hub.close();
      const error = await rejectionOf(h.newClient().connect());
      expect(ConnectionError.isInstance(error), describeError(error)).toBe(true);
    });

    it("delivers frames sent before the hub attaches its listener in peer-connected", async () => {
      const received: Uint8Array[] = [];
      h.hub.on("peer-connected", (connection) => {
        connection.on("message", (frame) => {
          received.push(frame);
        });
      });
      const connection = await h.openClient();
      await Promise.all([0, 1, 2].map((i) => connection.send(Uint8Array.of(10, i))));
      await waitFor(() => received.length >= 3, { message: "three frames on the hub" });
      await sleep(QUIET_MS);
      expect(received.map((frame) => [...frame])).toEqual([
        [10, 0],
        [10, 1],
        [10, 2],
      ]);
    });

    it("delivers frames that arrive before any listener is attached, on both sides", async () => {
      const sentByHub: Promise<void>[] = [];
      h.hub.on("peer-connected", (connection) => {
        for (const i of [0, 1, 2]) sentByHub.push(connection.send(Uint8Array.of(20, i)));
      });
      const p = await h.connect();
      await Promise.all([0, 1, 2].map((i) => p.client.connection.send(Uint8Array.of(30, i))));
      await Promise.all(sentByHub);
      await sleep(QUIET_MS);
      p.hub.listen();
      p.client.listen();
      await waitFor(() => p.hub.frames.length >= 3 && p.client.frames.length >= 3, {
        message: "three queued frames each way",
      });
      await sleep(QUIET_MS);
      expect(p.hub.frames.map((frame) => [...frame])).toEqual([
        [30, 0],
        [30, 1],
        [30, 2],
      ]);
      expect(p.client.frames.map((frame) => [...frame])).toEqual([
        [20, 0],
        [20, 1],
        [20, 2],
      ]);
    });
  });
}

/** Records what one connection delivers. Close events from the start; frames once `listen()` is called. */
class Recorder {
  readonly frames: Uint8Array[] = [];
  readonly closes: CloseInfo[] = [];
  /** Frames delivered while the connection was closed or after its close event: each one a bug. */
  framesAfterClose = 0;
  #listening = false;

  constructor(readonly connection: Connection) {
    connection.on("close", (info) => {
      this.closes.push(info);
    });
  }

  /** Attaches the message listener, once. Frames that arrived earlier must have been queued for it. */
  listen(): this {
    if (this.#listening) return this;
    this.#listening = true;
    this.connection.on("message", (frame) => {
      if (this.closes.length > 0 || this.connection.closed) this.framesAfterClose += 1;
      this.frames.push(frame);
    });
    return this;
  }
}

interface Pair {
  client: Recorder;
  hub: Recorder;
}

/** One test's transports, and the cleanup of everything they opened. */
class Harness {
  readonly connected: Connection[] = [];
  readonly disconnected: { connection: Connection; info: CloseInfo }[] = [];
  readonly clients: ClientTransport[] = [];
  readonly #hubRecorders: Recorder[] = [];
  readonly #clientConnections: Connection[] = [];

  private constructor(readonly fixture: TransportConformanceFixture) {}

  static async create(setup: TransportConformanceSetup): Promise<Harness> {
    const harness = new Harness(await setup());
    harness.hub.on("peer-connected", (connection) => {
      harness.connected.push(connection);
      harness.#hubRecorders.push(new Recorder(connection));
    });
    harness.hub.on("peer-disconnected", (connection, info) => {
      harness.disconnected.push({ connection, info });
    });
    await harness.hub.listen();
    return harness;
  }

  get hub(): HubTransport {
    return this.fixture.hub;
  }

  newClient(): ClientTransport {
    const transport = this.fixture.client();
    this.clients.push(transport);
    return transport;
  }

  /** Connects a new client transport, without waiting for the hub to see it. */
  async openClient(): Promise<Connection> {
    const connection = await this.newClient().connect();
    this.#clientConnections.push(connection);
    return connection;
  }

  /**
   * Connects a new client and pairs it with the hub's side of the connection. Pairing by arrival
   * order is sound because the suite never has two connects in progress at once.
   */
  async connect(): Promise<Pair> {
    const index = this.#hubRecorders.length;
    const client = new Recorder(await this.openClient());
    await waitFor(() => this.#hubRecorders.length > index, { message: "peer-connected on the hub" });
    return { client, hub: this.#hubRecorders[index]! };
  }

  /** Closes everything, in order, and reports every failure rather than only the first. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void> | undefined): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const connection of this.#clientConnections) await attempt(() => connection.close());
    for (const connection of this.connected) await attempt(() => connection.close());
    await attempt(() => this.hub.close());
    for (const transport of this.clients) await attempt(() => transport.close?.());
    const teardown = this.fixture.teardown;
    if (teardown) await attempt(teardown);
    if (errors.length > 0) throw new AggregateError(errors, "transport conformance cleanup failed");
  }
}

function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual, "frame").toBeDefined();
  if (actual === undefined) return;
  if (expected.length <= 512) {
    expect([...actual]).toEqual([...expected]);
    return;
  }
  // Large frames: name the first difference instead of diffing megabytes.
  expect(actual.length, "frame length").toBe(expected.length);
  let firstDifference = -1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      firstDifference = i;
      break;
    }
  }
  expect(firstDifference, "index of the first differing byte").toBe(-1);
}

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** A 4-byte big-endian index, then a filler whose length depends on it too, so whole frames are checked. */
function numberedFrame(index: number): Uint8Array {
  const frame = new Uint8Array(4 + (index % 61));
  new DataView(frame.buffer).setUint32(0, index);
  frame.fill(index & 0xff, 4);
  return frame;
}

function readNumberedFrame(frame: Uint8Array): number {
  if (frame.length < 4) return -1;
  const index = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  const whole =
    frame.length === 4 + (index % 61) && frame.subarray(4).every((byte) => byte === (index & 0xff));
  return whole ? index : -1;
}

/** The rejection reason of `promise`; fails if it resolves or stays pending for `timeoutMs`. */
async function rejectionOf(promise: Promise<unknown>, timeoutMs = 5000): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    promise.then(
      () => ({ settled: "resolved" }) as const,
      (error: unknown) => ({ settled: "rejected", error }) as const,
    ),
    new Promise<{ settled: "pending" }>((resolve) => {
      timer = setTimeout(() => resolve({ settled: "pending" }), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome.settled !== "rejected")
    throw new Error(`expected a rejection, but the promise ${outcome.settled}`);
  return outcome.error;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
