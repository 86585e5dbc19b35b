import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import * as nodePath from "node:path";
import type { CloseInfo, Connection } from "@distsync/core";
import { ConnectionError, FrameTooLargeError } from "@distsync/core";
import { waitFor } from "@distsync/core/testing";
import { type NatsConnection, connect as natsConnect } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createNatsClientTransport,
  createNatsHubTransport,
  type NatsClientTransportOptions,
  type NatsHubTransport,
  type NatsHubTransportOptions,
  type NatsTransportConnection,
  redactUrl,
} from "../src/index.js";
import { encodeMessage, encodeText, Kind } from "../src/wire.js";
import { decentralizedAuth } from "./helpers/nats-auth.js";
import {
  type NatsServer,
  requireNatsServer,
  startNatsServer,
  stopAllNatsServers,
} from "./helpers/nats-server.js";

const hasNats = requireNatsServer();
const MiB = 1024 * 1024;

describe.skipIf(!hasNats)("nats transport", () => {
  /** Shared by the tests that do not kill or reconfigure it. */
  let server: NatsServer;
  /** Run after each test, last registered first. */
  const cleanups: (() => Promise<unknown> | undefined)[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await stopAllNatsServers();
  });

  interface StartedHub {
    hub: NatsHubTransport;
    connected: NatsTransportConnection[];
    disconnected: { connection: Connection; info: CloseInfo }[];
    prefix: string;
  }

  async function startHub(options: Partial<NatsHubTransportOptions> = {}): Promise<StartedHub> {
    const prefix = options.subjectPrefix ?? `t${++prefixes}`;
    const hub = createNatsHubTransport({ url: server.url, ...options, subjectPrefix: prefix });
    const connected: NatsTransportConnection[] = [];
    const disconnected: StartedHub["disconnected"] = [];
    hub.on("peer-connected", (connection) => {
      connected.push(connection as NatsTransportConnection);
    });
    hub.on("peer-disconnected", (connection, info) => {
      disconnected.push({ connection, info });
    });
    cleanups.push(() => hub.close());
    await hub.listen();
    return { hub, connected, disconnected, prefix };
  }

  function client(options: Partial<NatsClientTransportOptions> & { subjectPrefix: string }) {
    const transport = createNatsClientTransport({ url: server.url, ...options });
    cleanups.push(() => transport.close());
    return transport;
  }

  /** A plain NATS connection, for what the transport itself never sends. */
  async function raw(url = server.url): Promise<NatsConnection> {
    const nc = await natsConnect({ servers: url });
    cleanups.push(() => nc.close());
    return nc;
  }

  function record(connection: Connection): { frames: Uint8Array[]; closes: CloseInfo[] } {
    const out = { frames: [] as Uint8Array[], closes: [] as CloseInfo[] };
    connection.on("message", (frame) => {
      out.frames.push(frame);
    });
    connection.on("close", (info) => {
      out.closes.push(info);
    });
    return out;
  }

  async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error("expected a rejection");
      },
      (error: unknown) => error,
    );
  }

  describe("connecting", () => {
    it("rejects quickly with a ConnectionError naming the URL when no server listens", async () => {
      const gone = await startNatsServer();
      await gone.stop();
      const started = Date.now();
      const hubError = await rejectionOf(createNatsHubTransport({ url: gone.url }).listen());
      const clientError = await rejectionOf(createNatsClientTransport({ url: gone.url }).connect());
      expect(Date.now() - started).toBeLessThan(2000);
      for (const error of [hubError, clientError]) {
        expect(ConnectionError.isInstance(error), String(error)).toBe(true);
        expect((error as Error).message).toBe(`connection refused: NATS server ${gone.url} (ECONNREFUSED)`);
      }
    });

    it("gives up after connectTimeoutMs on a server that never answers", async () => {
      // Accepts, never sends INFO (a port that is not NATS, e.g. a web server).
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      cleanups.push(async () => {
        // nats.js 3.4 leaves a dial that timed out before INFO open (see the README): close it here.
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      });
      const { port } = silent.address() as net.AddressInfo;
      const started = Date.now();
      const error = await rejectionOf(
        createNatsClientTransport({ url: `nats://127.0.0.1:${port}`, connectTimeoutMs: 300 }).connect(),
      );
      expect(Date.now() - started).toBeLessThan(2000);
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(`nats://127.0.0.1:${port}`);
    });

    it("rejects with 'no hub is listening' when nobody answers on the prefix", async () => {
      const error = await rejectionOf(client({ subjectPrefix: "nobody.here" }).connect());
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toBe(`no hub is listening on nobody.here at ${server.url}`);
    });

    it("refuses to start a second hub on the same prefix", async () => {
      const first = await startHub();
      const error = await rejectionOf(
        createNatsHubTransport({ url: server.url, subjectPrefix: first.prefix }).listen(),
      );
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/another DistSync hub already listens on t\d+\.hub\.connect/);
      // The first one still works.
      const connection = await client({ subjectPrefix: first.prefix }).connect();
      expect(connection.closed).toBe(false);
    });

    it("rejects a malformed URL or a missing server at creation", () => {
      expect(() => createNatsClientTransport({ url: "ws://127.0.0.1:1" })).toThrow(
        /unsupported URL scheme 'ws:'/,
      );
      expect(() => createNatsClientTransport({ url: "nats://h:1/path" })).toThrow(/no path/);
      expect(() => createNatsHubTransport({})).toThrow(/no NATS server given/);
      expect(() => createNatsHubTransport({ url: "nats://h:1", subjectPrefix: "a.*" })).toThrow(RangeError);
    });

    it("aborts a connect", async () => {
      const { prefix } = await startHub();
      const controller = new AbortController();
      controller.abort();
      const error = await rejectionOf(
        client({ subjectPrefix: prefix }).connect({ signal: controller.signal }),
      );
      expect((error as { code?: string }).code).toBe("aborted");
    });
  });

  describe("frames", () => {
    it("puts hub and client on the subjects of the README and agrees on the frame limit", async () => {
      const { connected, prefix, hub } = await startHub();
      const connection = await client({ subjectPrefix: prefix }).connect();
      await waitFor(() => connected.length === 1);
      const hubSide = connected[0]!;
      expect(hubSide.receiveSubject).toMatch(new RegExp(`^${prefix}\\.hub\\.c\\.[A-Za-z0-9]+$`));
      expect(connection.sendSubject).toBe(hubSide.receiveSubject);
      expect(connection.receiveSubject).toMatch(new RegExp(`^${prefix}\\.client\\.`));
      expect(hubSide.sendSubject).toBe(connection.receiveSubject);
      expect(connection.id).toBe(hubSide.id);
      expect(hub.capabilities.maxFrameBytes).toBe(MiB - 8);
      expect(connection.maxFrameBytes).toBe(MiB - 8);
      expect(hubSide.remoteAddress).toBe("127.0.0.1");
    });

    it("closes on a gap in the sequence numbers, naming it, on both sides", async () => {
      const { connected, prefix } = await startHub();
      const connection = await client({ subjectPrefix: prefix }).connect();
      await waitFor(() => connected.length === 1);
      const hubSide = record(connected[0]!);
      const clientSide = record(connection);
      await connection.send(Uint8Array.of(1)); // sequence 1
      await waitFor(() => hubSide.frames.length === 1);
      // Sequence 2 lost: a raw client injects 3 on the connection's subject.
      const nc = await raw();
      nc.publish(connection.sendSubject, encodeMessage(Kind.frame, 3, Uint8Array.of(3)));
      await waitFor(() => hubSide.closes.length === 1 && clientSide.closes.length === 1);
      const [hubClose] = hubSide.closes;
      expect(ConnectionError.isInstance(hubClose?.error)).toBe(true);
      expect(hubClose?.error?.message).toBe(`connection ${connection.id}: frames lost: expected 2, got 3`);
      expect(hubSide.frames).toHaveLength(1);
      // The hub told the client why.
      expect(ConnectionError.isInstance(clientSide.closes[0]?.error)).toBe(true);
      expect(clientSide.closes[0]?.error?.message).toMatch(/frames lost: expected 2, got 3/);
      expect(connection.closed).toBe(true);
      // Both sides close marked `resync`: the side that lost frames, and the side that learns of it
      // from the abort message (so a client re-joins even when it was the hub that lost frames).
      expect(hubClose?.resync).toBe(true);
      expect(clientSide.closes[0]?.resync).toBe(true);
    });

    it("closes on a reordered or duplicated frame on the client side", async () => {
      const { connected, prefix } = await startHub();
      const connection = await client({ subjectPrefix: prefix }).connect();
      await waitFor(() => connected.length === 1);
      const clientSide = record(connection);
      await connected[0]!.send(Uint8Array.of(1));
      await waitFor(() => clientSide.frames.length === 1);
      const nc = await raw();
      nc.publish(connection.receiveSubject, encodeMessage(Kind.frame, 1, Uint8Array.of(9)));
      await waitFor(() => clientSide.closes.length === 1);
      expect(clientSide.closes[0]?.error?.message).toBe(
        `connection ${connection.id}: frames out of order: expected 2, got 1`,
      );
    });

    it("closes with a ProtocolError on a message shorter than the prefix", async () => {
      const { connected, prefix } = await startHub();
      const connection = await client({ subjectPrefix: prefix }).connect();
      await waitFor(() => connected.length === 1);
      const hubSide = record(connected[0]!);
      const clientSide = record(connection);
      (await raw()).publish(connection.sendSubject, encodeText("hi"));
      await waitFor(() => hubSide.closes.length === 1 && clientSide.closes.length === 1);
      expect(hubSide.closes[0]?.error?.code).toBe("protocol");
      // A broken peer is no lost frame: neither side asks for a resync.
      expect(hubSide.closes[0]?.resync).toBeUndefined();
      expect(clientSide.closes[0]?.resync).toBeUndefined();
    });

    it("keeps order and content through a small send window (backpressure)", async () => {
      const { connected, prefix } = await startHub({ highWaterMark: 256 * 1024 });
      const connection = await client({ subjectPrefix: prefix, highWaterMark: 256 * 1024 }).connect();
      await waitFor(() => connected.length === 1);
      const hubSide = record(connected[0]!);
      const frame = new Uint8Array(64 * 1024);
      for (let i = 0; i < 200; i++) {
        frame.fill(i & 0xff);
        await connection.send(frame);
      }
      await waitFor(() => hubSide.frames.length === 200, { timeoutMs: 10_000 });
      expect(
        hubSide.frames.every(
          (f, i) => f.length === 64 * 1024 && f[0] === (i & 0xff) && f[65535] === (i & 0xff),
        ),
      ).toBe(true);
    });
  });

  describe("losing the NATS server", () => {
    it("closes both sides with a ConnectionError when nats-server is killed, and the hub serves again after a restart", async () => {
      const own = await startNatsServer();
      // A small window, so that sends wait for PONGs: the ones lost with the server must not stall it.
      const hub = createNatsHubTransport({ url: own.url, subjectPrefix: "kill", highWaterMark: 128 * 1024 });
      const connected: Connection[] = [];
      const errors: Error[] = [];
      hub.on("peer-connected", (connection) => {
        connected.push(connection);
      });
      hub.on("error", (error) => {
        errors.push(error);
      });
      cleanups.push(() => own.stop());
      cleanups.push(() => hub.close());
      await hub.listen();
      const transport = createNatsClientTransport({ url: own.url, subjectPrefix: "kill" });
      cleanups.push(() => transport.close());
      const connection = await transport.connect();
      await waitFor(() => connected.length === 1);
      const hubSide = record(connected[0]!);
      const clientSide = record(connection);
      const chunk = new Uint8Array(64 * 1024);
      // In flight when the server dies: a frozen server answers no PING, so sends wait for PONGs.
      process.kill(own.pid, "SIGSTOP");
      const inFlight = Array.from({ length: 8 }, () => connected[0]!.send(chunk).catch((e: unknown) => e));
      const killedAt = Date.now();
      await own.kill();
      await waitFor(() => hubSide.closes.length === 1 && clientSide.closes.length === 1, { timeoutMs: 5000 });
      expect(Date.now() - killedAt).toBeLessThan(2000);
      for (const info of [hubSide.closes[0], clientSide.closes[0]]) {
        expect(ConnectionError.isInstance(info?.error), JSON.stringify(info)).toBe(true);
        expect(info?.local).toBe(false);
      }
      expect(clientSide.closes[0]?.error?.message).toMatch(`lost the NATS server at ${own.url}`);
      expect(hubSide.closes[0]?.error?.message).toMatch(/lost the NATS server .*reconnecting/);
      expect(errors.length).toBeGreaterThanOrEqual(1);
      // While it is down, connect fails fast; after a restart on the same port the hub is back.
      const whileDown = await rejectionOf(transport.connect());
      expect(ConnectionError.isInstance(whileDown)).toBe(true);
      await own.restart();
      let again: Connection | undefined;
      await waitFor(
        async () => {
          again = await transport.connect().catch(() => undefined);
          return again !== undefined;
        },
        { timeoutMs: 10_000, message: "a connect through the restarted server" },
      );
      await Promise.all(inFlight); // settled, one way or the other
      await waitFor(() => connected.length === 2);
      const hubAgain = record(connected[1]!);
      const clientAgain = record(again!);
      await again?.send(Uint8Array.of(42));
      await waitFor(() => hubAgain.frames.length === 1);
      // The hub's window works after the reconnect: 40 × 64 KiB through a 128 KiB window.
      for (let i = 0; i < 40; i++) await connected[1]!.send(chunk);
      await waitFor(() => clientAgain.frames.length === 40, { timeoutMs: 5000 });
    });
  });

  describe("credentials", () => {
    it("passes user and password from the URL or the options, and refuses without", async () => {
      const secured = await startNatsServer({ args: ["--user", "u", "--pass", "p@ss"] });
      cleanups.push(() => secured.stop());
      const port = secured.port;
      const withCreds = `nats://u:p%40ss@127.0.0.1:${port}`;
      const hub = createNatsHubTransport({ url: withCreds, subjectPrefix: "creds" });
      cleanups.push(() => hub.close());
      await hub.listen();
      expect(hub.url).toBe(`nats://u:***@127.0.0.1:${port}`);
      const byUrl = createNatsClientTransport({ url: withCreds, subjectPrefix: "creds" });
      const byOptions = createNatsClientTransport({
        url: secured.url,
        user: "u",
        pass: "p@ss",
        subjectPrefix: "creds",
      });
      cleanups.push(
        () => byUrl.close(),
        () => byOptions.close(),
      );
      expect((await byUrl.connect()).closed).toBe(false);
      expect((await byOptions.connect()).closed).toBe(false);
      for (const url of [secured.url, `nats://u:wrong@127.0.0.1:${port}`]) {
        const error = await rejectionOf(createNatsClientTransport({ url, subjectPrefix: "creds" }).connect());
        expect(ConnectionError.isInstance(error), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/refused the credentials: .*Authorization Violation/i);
        expect((error as Error).message).not.toMatch(/wrong|p@ss/);
      }
    });

    it("passes a NATS auth token from the token option or the URL, and refuses without", async () => {
      const secured = await startNatsServer({ args: ["--auth", "tok3n"] });
      cleanups.push(() => secured.stop());
      const hub = createNatsHubTransport({ url: secured.url, token: "tok3n", subjectPrefix: "tok" });
      cleanups.push(() => hub.close());
      await hub.listen();
      const byUrl = createNatsClientTransport({
        url: `nats://tok3n@127.0.0.1:${secured.port}`,
        subjectPrefix: "tok",
      });
      cleanups.push(() => byUrl.close());
      expect(byUrl.url).toBe(`nats://***@127.0.0.1:${secured.port}`);
      expect((await byUrl.connect()).closed).toBe(false);
      const error = await rejectionOf(
        createNatsClientTransport({ url: secured.url, subjectPrefix: "tok" }).connect(),
      );
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/refused the credentials/);
    });

    it("authenticates hub and clients with .creds files (operator mode, README permissions), and refuses wrong ones", async () => {
      const auth = await decentralizedAuth();
      const secured = await startNatsServer({ config: auth.config });
      cleanups.push(() => secured.stop());
      const dir = await mkdtemp(nodePath.join(tmpdir(), "distsync-creds-"));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const file = async (name: string, text: string): Promise<string> => {
        const path = nodePath.join(dir, name);
        await writeFile(path, text, { mode: 0o600 });
        return path;
      };
      // The default prefix: the users' permissions are those the README lists for `distsync`.
      const hub = createNatsHubTransport({
        url: secured.url,
        credsFile: await file("hub.creds", auth.hubCreds),
      });
      const connected: Connection[] = [];
      hub.on("peer-connected", (connection) => {
        connected.push(connection);
      });
      cleanups.push(() => hub.close());
      await hub.listen();
      const transport = createNatsClientTransport({
        url: secured.url,
        credsFile: await file("client.creds", auth.clientCreds),
      });
      cleanups.push(() => transport.close());
      const connection = await transport.connect();
      await waitFor(() => connected.length === 1);
      const hubSide = record(connected[0]!);
      const clientSide = record(connection);
      await connection.send(Uint8Array.of(1, 2, 3));
      await connected[0]!.send(Uint8Array.of(4, 5));
      await waitFor(() => hubSide.frames.length === 1 && clientSide.frames.length === 1);
      expect([...hubSide.frames[0]!]).toEqual([1, 2, 3]);
      expect([...clientSide.frames[0]!]).toEqual([4, 5]);

      // Without credentials, or with a user of an unknown account, or a JWT whose seed is not its own.
      const refusals = [
        createNatsClientTransport({ url: secured.url }),
        createNatsClientTransport({
          url: secured.url,
          credsFile: await file("stranger.creds", auth.strangerCreds),
        }),
        createNatsClientTransport({
          url: secured.url,
          credsFile: await file("mismatch.creds", auth.mismatchedCreds),
        }),
        createNatsHubTransport({
          url: secured.url,
          subjectPrefix: "other",
          credsFile: nodePath.join(dir, "stranger.creds"),
        }),
      ];
      for (const refused of refusals) {
        const error = await rejectionOf("listen" in refused ? refused.listen() : refused.connect());
        expect(ConnectionError.isInstance(error), String(error)).toBe(true);
        expect((error as Error).message).toMatch(
          `the NATS server at ${secured.url} refused the credentials: Authorization Violation`,
        );
      }
      // A file that is not a .creds file is named as such before any connect.
      const broken = await rejectionOf(
        createNatsClientTransport({
          url: secured.url,
          credsFile: await file("broken.creds", "not a creds file\n"),
        }).connect(),
      );
      expect(ConnectionError.isInstance(broken), String(broken)).toBe(true);
      expect((broken as Error).message).toMatch(
        /the NATS credentials file .*broken\.creds is not a \.creds file/,
      );
    });

    it("fails with a ConnectionError naming a credentials file it cannot read", async () => {
      const error = await rejectionOf(
        createNatsClientTransport({ url: server.url, credsFile: "/nonexistent/user.creds" }).connect(),
      );
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /cannot read the NATS credentials file \/nonexistent\/user\.creds/,
      );
    });

    it("redacts passwords and tokens in URLs", () => {
      expect(redactUrl("nats://u:secret@h:4222")).toBe("nats://u:***@h:4222");
      expect(redactUrl("nats://tok@h:4222")).toBe("nats://***@h:4222");
      expect(redactUrl("nats://h:4222")).toBe("nats://h:4222");
    });
  });

  describe("max_payload", () => {
    it("follows the server's max_payload (2 MB): maxFrameBytes, and a 1.5 MiB frame each way", async () => {
      const big = await startNatsServer({ config: "max_payload: 2MB\n" });
      cleanups.push(() => big.stop());
      const hub = createNatsHubTransport({ url: big.url, subjectPrefix: "big" });
      const connected: Connection[] = [];
      hub.on("peer-connected", (connection) => {
        connected.push(connection);
      });
      cleanups.push(() => hub.close());
      expect(hub.capabilities.maxFrameBytes).toBe(MiB - 8); // assumed until connected
      await hub.listen();
      expect(hub.capabilities.maxFrameBytes).toBe(2 * MiB - 8);
      const transport = createNatsClientTransport({ url: big.url, subjectPrefix: "big" });
      cleanups.push(() => transport.close());
      const connection = await transport.connect();
      expect(transport.capabilities.maxFrameBytes).toBe(2 * MiB - 8);
      expect(connection.maxFrameBytes).toBe(2 * MiB - 8);
      await waitFor(() => connected.length === 1);
      const hubSide = record(connected[0]!);
      const clientSide = record(connection);
      const payload = new Uint8Array(1.5 * MiB).map((_, i) => (i * 31) & 0xff);
      await connection.send(payload);
      await connected[0]!.send(payload);
      await waitFor(() => hubSide.frames.length === 1 && clientSide.frames.length === 1);
      expect(Buffer.compare(hubSide.frames[0]!, payload)).toBe(0);
      expect(Buffer.compare(clientSide.frames[0]!, payload)).toBe(0);
      const tooBig = await rejectionOf(connection.send(new Uint8Array(2 * MiB)));
      expect(FrameTooLargeError.isInstance(tooBig)).toBe(true);
    });

    it("refuses a server whose max_payload is below what DistSync needs", async () => {
      const small = await startNatsServer({ config: "max_payload: 256KB\n" });
      cleanups.push(() => small.stop());
      const error = await rejectionOf(createNatsHubTransport({ url: small.url }).listen());
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/at most 262144 bytes \(max_payload\); DistSync needs/);
    });
  });
});
