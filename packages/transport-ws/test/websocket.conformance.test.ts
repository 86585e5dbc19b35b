import { Buffer } from "node:buffer";
import { execFileSync, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CloseInfo, Connection, Logger } from "@distsync/core";
import { ClosedError, ConnectionError, FrameTooLargeError, ProtocolError } from "@distsync/core";
import { runTransportConformance, waitFor } from "@distsync/core/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import {
  createWebSocketClientTransport,
  createWebSocketHubTransport,
  type WebSocketClientTransportOptions,
  type WebSocketHubTransport,
  type WebSocketHubTransportOptions,
} from "../src/index.js";

runTransportConformance("websocket on 127.0.0.1", async () => {
  const hub = createWebSocketHubTransport({ port: 0 });
  return { hub, client: () => createWebSocketClientTransport({ url: hub.url }) };
});

const MiB = 1024 * 1024;

describe("websocket transport", () => {
  /** Run after each test, last registered first. */
  const cleanups: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  interface StartedHub {
    hub: WebSocketHubTransport;
    /** The hub's side of each connection, in arrival order. */
    connected: Connection[];
    disconnected: { connection: Connection; info: CloseInfo }[];
  }

  /** A listening hub (port 0 on 127.0.0.1 unless told otherwise) that records its peers. */
  async function startHub(options: WebSocketHubTransportOptions = {}): Promise<StartedHub> {
    const hub = createWebSocketHubTransport({ port: 0, ...options });
    const connected: Connection[] = [];
    const disconnected: StartedHub["disconnected"] = [];
    hub.on("peer-connected", (connection) => {
      connected.push(connection);
    });
    hub.on("peer-disconnected", (connection, info) => {
      disconnected.push({ connection, info });
    });
    await hub.listen();
    cleanups.push(() => hub.close());
    return { hub, connected, disconnected };
  }

  /** Connects a client transport and registers its cleanup. */
  async function connect(options: WebSocketClientTransportOptions): Promise<Connection> {
    const transport = createWebSocketClientTransport(options);
    cleanups.push(() => transport.close());
    return transport.connect();
  }

  /** A plain `ws` client, for what the transport itself never sends. */
  async function rawClient(url: string): Promise<WebSocket> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    cleanups.push(() => socket.terminate());
    await once(socket, "open");
    return socket;
  }

  async function listen(server: net.Server, host = "127.0.0.1"): Promise<number> {
    server.listen(0, host);
    await once(server, "listening");
    return (server.address() as net.AddressInfo).port;
  }

  async function closeServer(server: http.Server): Promise<void> {
    if (!server.listening) return;
    const closed = once(server, "close");
    server.close();
    server.closeAllConnections();
    await closed;
  }

  function recordCloses(connection: Connection): CloseInfo[] {
    const closes: CloseInfo[] = [];
    connection.on("close", (info) => {
      closes.push(info);
    });
    return closes;
  }

  function recordFrames(connection: Connection): Uint8Array[] {
    const frames: Uint8Array[] = [];
    connection.on("message", (frame) => {
      frames.push(frame);
    });
    return frames;
  }

  /** The rejection of `promise` (fails the test if it resolves). */
  async function rejection(promise: Promise<unknown>): Promise<Error> {
    const outcome = await promise.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (!(outcome instanceof Error))
      throw new Error(`expected a rejection with an Error, got ${String(outcome)}`);
    return outcome;
  }

  function thrown(action: () => unknown): unknown {
    try {
      action();
    } catch (error) {
      return error;
    }
    throw new Error("expected a throw");
  }

  /** A round trip on a fresh pair: a frame each way arrives intact. */
  async function expectRoundTrip(hubSide: Connection, clientSide: Connection): Promise<void> {
    const atHub = recordFrames(hubSide);
    const atClient = recordFrames(clientSide);
    await clientSide.send(Uint8Array.of(1, 2, 3));
    await hubSide.send(Uint8Array.of(4, 5));
    await waitFor(() => atHub.length === 1 && atClient.length === 1, { message: "a frame each way" });
    expect([...(atHub[0] ?? [])]).toEqual([1, 2, 3]);
    expect([...(atClient[0] ?? [])]).toEqual([4, 5]);
  }

  describe("addresses and ids", () => {
    it("reports url, port, ip:port remote addresses and unique ids; frames are plain Uint8Arrays", async () => {
      const { hub, connected } = await startHub();
      expect(hub.url).toBe(`ws://127.0.0.1:${hub.port}`);
      expect(hub.port).toBeGreaterThan(0);
      const clients = [await connect({ url: hub.url }), await connect({ url: hub.url })];
      await waitFor(() => connected.length === 2, { message: "two peers on the hub" });
      for (const client of clients) expect(client.remoteAddress).toBe(`127.0.0.1:${hub.port}`);
      for (const hubSide of connected) expect(hubSide.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      const ids = [...clients, ...connected].map((connection) => connection.id);
      expect(new Set(ids).size).toBe(4);

      const atClient = recordFrames(clients[0]!);
      await connected[0]!.send(Uint8Array.of(9, 8, 7));
      await waitFor(() => atClient.length === 1, { message: "a frame on the client" });
      const frame = atClient[0]!;
      expect(Object.getPrototypeOf(frame)).toBe(Uint8Array.prototype);
      expect(Buffer.isBuffer(frame)).toBe(false);
      expect([...frame]).toEqual([9, 8, 7]);
    });

    it("throws a ConnectionError for url and port before listen", () => {
      const hub = createWebSocketHubTransport({ port: 0 });
      expect(ConnectionError.isInstance(thrown(() => hub.url))).toBe(true);
      expect(ConnectionError.isInstance(thrown(() => hub.port))).toBe(true);
    });

    it("rejects invalid options with a RangeError", () => {
      expect(() => createWebSocketHubTransport({ port: 70000 })).toThrow(RangeError);
      expect(() => createWebSocketHubTransport({ path: "sync" })).toThrow(RangeError);
      expect(() => createWebSocketHubTransport({ maxFrameBytes: 0 })).toThrow(RangeError);
      expect(() => createWebSocketClientTransport({ url: "ws://127.0.0.1:1", highWaterMark: -1 })).toThrow(
        RangeError,
      );
    });
  });

  describe("connect and listen failures", () => {
    it("rejects connect with a ConnectionError naming the URL when nothing listens", async () => {
      const probe = net.createServer();
      const port = await listen(probe);
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const url = `ws://127.0.0.1:${port}`;
      const error = await rejection(connect({ url }));
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toBe(`connection refused: ${url} (ECONNREFUSED)`);
    });

    it("rejects connect after connectTimeoutMs when the server never answers the upgrade", async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((socket) => {
        sockets.push(socket);
      });
      const port = await listen(silent);
      cleanups.push(async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      });
      const url = `ws://127.0.0.1:${port}`;
      const error = await rejection(connect({ url, connectTimeoutMs: 150 }));
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toBe(`connection timed out after 150 ms: ${url}`);
    });

    it("rejects connect when the signal aborts, and after the transport is closed", async () => {
      const { hub } = await startHub();
      const transport = createWebSocketClientTransport({ url: hub.url });
      cleanups.push(() => transport.close());
      const controller = new AbortController();
      controller.abort(new Error("stop"));
      const aborted = await rejection(transport.connect({ signal: controller.signal }));
      expect(aborted).toMatchObject({ code: "aborted" });
      const connection = await transport.connect();
      const closes = recordCloses(connection);
      await transport.close();
      expect(connection.closed).toBe(true);
      expect(closes).toEqual([{ reason: "client transport closed", local: true }]);
      const afterClose = await rejection(transport.connect());
      expect(ClosedError.isInstance(afterClose), String(afterClose)).toBe(true);
    });

    it("rejects listen with a ConnectionError naming host:port when the port is taken", async () => {
      const { hub: first } = await startHub();
      const second = createWebSocketHubTransport({ port: first.port });
      cleanups.push(() => second.close());
      const error = await rejection(second.listen());
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ code: "connection" });
      expect(error.message).toBe(
        `cannot listen on 127.0.0.1:${first.port}: address already in use (EADDRINUSE)`,
      );
      // The first hub is unaffected.
      const client = await connect({ url: first.url });
      expect(client.closed).toBe(false);
    });

    it.each([
      [
        "http://127.0.0.1:7420",
        /^unsupported URL scheme 'http:' in "http:\/\/127\.0\.0\.1:7420" — use ws:\/\/ or wss:\/\/$/,
      ],
      ["https://hub.example", /unsupported URL scheme 'https:'/],
      ["file:///tmp/hub", /unsupported URL scheme 'file:'/],
      ["nats://127.0.0.1:4222", /unsupported URL scheme 'nats:'/],
      ["localhost:7420", /unsupported URL scheme 'localhost:'/],
      ["127.0.0.1:7420", /^invalid hub URL "127\.0\.0\.1:7420": not an absolute URL$/],
      ["not a url", /^invalid hub URL "not a url": not an absolute URL$/],
      ["", /^invalid hub URL "": not an absolute URL$/],
      ["ws://", /invalid hub URL/],
      ["ws://127.0.0.1:7420/#frag", /no #fragment/],
    ])("throws a ConnectionError at creation for %j", (url, message) => {
      const error = thrown(() => createWebSocketClientTransport({ url }));
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    });

    it("answers plain HTTP with 426 and an upgrade on another path with 404", async () => {
      const { hub, connected } = await startHub();
      const response = await fetch(`http://127.0.0.1:${hub.port}/`);
      expect(response.status).toBe(426);
      expect(await response.text()).toMatch(/DistSync hub/);
      const error = await rejection(connect({ url: `ws://127.0.0.1:${hub.port}/elsewhere` }));
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toBe(
        `the hub refused the WebSocket upgrade: ws://127.0.0.1:${hub.port}/elsewhere (HTTP 404 Not Found)`,
      );
      expect(connected).toEqual([]);
    });
  });

  describe("closing", () => {
    it("fires the client's close with local false when the hub transport closes mid-stream", async () => {
      const { hub, connected } = await startHub();
      const client = await connect({ url: hub.url });
      const closes = recordCloses(client);
      const frames = recordFrames(client);
      await waitFor(() => connected.length === 1, { message: "peer-connected" });
      const hubSide = connected[0]!;
      let sent = 0;
      const streaming = (async () => {
        try {
          for (;;) {
            await hubSide.send(new Uint8Array(4096).fill(sent & 0xff));
            sent += 1;
          }
        } catch (error) {
          return error;
        }
      })();
      await waitFor(() => frames.length >= 10, { message: "the stream flowing" });
      await hub.close();
      const ended = await streaming;
      expect(ClosedError.isInstance(ended), String(ended)).toBe(true);
      await waitFor(() => closes.length === 1, { message: "close on the client" });
      expect(closes[0]).toEqual({ reason: "hub shutting down", local: false });
      expect(client.closed).toBe(true);
      // Whatever arrived is an in-order prefix of the stream.
      expect(frames.every((frame, i) => frame.length === 4096 && frame[0] === (i & 0xff))).toBe(true);
      expect(frames.length).toBeLessThanOrEqual(sent + 1);
    });

    it("reports a dropped socket as a ConnectionError on the client", async () => {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
      await once(server, "listening");
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      server.on("connection", (socket) => {
        // Mid-stream: a few frames, then the socket is destroyed without a close frame.
        for (let i = 0; i < 5; i++) socket.send(Uint8Array.of(i));
        socket.once("message", () => socket.terminate());
      });
      const port = (server.address() as net.AddressInfo).port;
      const client = await connect({ url: `ws://127.0.0.1:${port}` });
      const closes = recordCloses(client);
      const frames = recordFrames(client);
      await waitFor(() => frames.length === 5, { message: "five frames" });
      await client.send(Uint8Array.of(99));
      await waitFor(() => closes.length === 1, { message: "close on the client" });
      expect(closes[0]?.local).toBe(false);
      expect(ConnectionError.isInstance(closes[0]?.error), String(closes[0]?.error)).toBe(true);
      const error = await rejection(client.send(Uint8Array.of(1)));
      expect(ClosedError.isInstance(error)).toBe(true);
    });

    it("reports a client that vanishes as a ConnectionError in peer-disconnected", async () => {
      const { hub, connected, disconnected } = await startHub();
      const raw = await rawClient(hub.url);
      await waitFor(() => connected.length === 1, { message: "peer-connected" });
      raw.terminate();
      await waitFor(() => disconnected.length === 1, { message: "peer-disconnected" });
      expect(disconnected[0]?.connection).toBe(connected[0]);
      expect(disconnected[0]?.info.local).toBe(false);
      expect(ConnectionError.isInstance(disconnected[0]?.info.error)).toBe(true);
    });
  });

  describe("frames the transport never sends", () => {
    it("closes a connection that sends an oversized frame with 1009; other clients keep working", async () => {
      const { hub, connected, disconnected } = await startHub({ maxFrameBytes: 1024 });
      const raw = await rawClient(hub.url);
      await waitFor(() => connected.length === 1, { message: "the raw client on the hub" });
      const good = await connect({ url: hub.url, maxFrameBytes: 1024 });
      await waitFor(() => connected.length === 2, { message: "the good client on the hub" });

      const rawClosed = once(raw, "close");
      raw.send(new Uint8Array(5000));
      const [code] = (await rawClosed) as [number, Buffer];
      expect(code).toBe(1009);
      await waitFor(() => disconnected.length === 1, { message: "peer-disconnected" });
      const { connection, info } = disconnected[0]!;
      expect(connection).toBe(connected[0]);
      expect(info.local).toBe(false);
      expect(FrameTooLargeError.isInstance(info.error), String(info.error)).toBe(true);
      expect(info.error).toMatchObject({ limit: 1024, size: 5000 });

      expect(good.closed).toBe(false);
      await expectRoundTrip(connected[1]!, good);
      expect(disconnected).toHaveLength(1);
    });

    it("closes a connection that sends a text frame with 1003 and a ProtocolError", async () => {
      const { hub, connected, disconnected } = await startHub();
      const raw = await rawClient(hub.url);
      await waitFor(() => connected.length === 1, { message: "peer-connected" });
      const frames = recordFrames(connected[0]!);
      const rawClosed = once(raw, "close");
      raw.send(Uint8Array.of(1));
      raw.send("hello");
      raw.send(Uint8Array.of(2));
      const [code] = (await rawClosed) as [number, Buffer];
      expect(code).toBe(1003);
      await waitFor(() => disconnected.length === 1, { message: "peer-disconnected" });
      expect(disconnected[0]?.info.local).toBe(false);
      expect(ProtocolError.isInstance(disconnected[0]?.info.error), String(disconnected[0]?.info.error)).toBe(
        true,
      );
      // The binary frame before the violation arrived; nothing after it.
      expect(frames.map((frame) => [...frame])).toEqual([[1]]);
    });
  });

  describe("attached to an existing server", () => {
    it("serves WebSocket on its path and leaves every other request to the server", async () => {
      const server = http.createServer((request, response) => {
        response.end(`app: ${request.url}`);
      });
      const port = await listen(server);
      cleanups.push(() => closeServer(server));
      const { hub, connected } = await startHub({ server, path: "/sync" });
      expect(hub.url).toBe(`ws://127.0.0.1:${port}/sync`);
      expect(hub.port).toBe(port);

      const client = await connect({ url: hub.url });
      await waitFor(() => connected.length === 1, { message: "peer-connected" });
      await expectRoundTrip(connected[0]!, client);

      const page = await fetch(`http://127.0.0.1:${port}/status`);
      expect(await page.text()).toBe("app: /status");
      const error = await rejection(connect({ url: `ws://127.0.0.1:${port}/other` }));
      expect(ConnectionError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(/\(HTTP 404 Not Found\)$/);

      // Closing the transport closes its connections but not the server it was given.
      const closes = recordCloses(client);
      await hub.close();
      await waitFor(() => closes.length === 1, { message: "close on the client" });
      expect(closes[0]).toMatchObject({ local: false });
      expect(server.listening).toBe(true);
      expect(await (await fetch(`http://127.0.0.1:${port}/after`)).text()).toBe("app: /after");
      const refused = await rejection(connect({ url: `ws://127.0.0.1:${port}/sync` }));
      expect(ConnectionError.isInstance(refused), String(refused)).toBe(true);
    });

    it("leaves upgrades on other paths to another upgrade listener", async () => {
      const server = http.createServer();
      const port = await listen(server);
      cleanups.push(() => closeServer(server));
      const other = new WebSocketServer({ noServer: true, perMessageDeflate: false });
      server.on("upgrade", (request, socket, head) => {
        if (request.url !== "/other") return;
        other.handleUpgrade(request, socket, head, (socket) => socket.send("from the other endpoint"));
      });
      await startHub({ server, path: "/sync" });
      const raw = new WebSocket(`ws://127.0.0.1:${port}/other`, { perMessageDeflate: false });
      cleanups.push(() => raw.terminate());
      const [message] = (await once(raw, "message")) as [Buffer];
      expect(message.toString()).toBe("from the other endpoint");
      await connect({ url: `ws://127.0.0.1:${port}/sync` });
    });
  });

  it("queues frames for a late listener, stops reading past the high-water mark, and still closes promptly", async () => {
    const logged: string[] = [];
    const logger: Logger = {
      debug: (message) => logged.push(message),
      info: (message) => logged.push(message),
      warn: (message) => logged.push(message),
      error: (message) => logged.push(message),
      child: () => logger,
    };
    const { hub, connected } = await startHub({ highWaterMark: 4096, logger });
    const client = await connect({ url: hub.url });
    await waitFor(() => connected.length === 1, { message: "peer-connected" });
    await Promise.all(Array.from({ length: 64 }, (_, i) => client.send(new Uint8Array(1024).fill(i))));
    await waitFor(() => logged.includes("no message listener yet: pausing reads"), {
      message: "the hub pausing reads",
    });
    const frames = recordFrames(connected[0]!);
    await waitFor(() => frames.length === 64, { message: "all 64 frames at the late listener" });
    expect(frames.map((frame) => frame[0])).toEqual(Array.from({ length: 64 }, (_, i) => i));

    // Paused again with nobody listening, a close must still complete its handshake at once.
    const second = await connect({ url: hub.url });
    await waitFor(() => connected.length === 2, { message: "second peer-connected" });
    const pauses = logged.filter((line) => line === "no message listener yet: pausing reads").length;
    await Promise.all(Array.from({ length: 16 }, () => second.send(new Uint8Array(1024))));
    await waitFor(
      () => logged.filter((line) => line === "no message listener yet: pausing reads").length > pauses,
      {
        message: "the hub pausing reads again",
      },
    );
    const closes = recordCloses(second);
    let closed = false;
    const closing = connected[1]!.close("bye").then(() => {
      closed = true;
    });
    // Well under the 5 s close timeout that would otherwise end a handshake the hub cannot read.
    await waitFor(() => closed && closes.length === 1, { message: "both ends closed", timeoutMs: 2000 });
    await closing;
    expect(closes[0]).toEqual({ reason: "bye", local: false });
  });

  it("applies backpressure: send does not resolve while the client does not read", async () => {
    const { hub, connected } = await startHub({ highWaterMark: 64 * 1024 });
    const raw = await rawClient(hub.url);
    let received = 0;
    raw.on("message", () => {
      received += 1;
    });
    raw.pause();
    await waitFor(() => connected.length === 1, { message: "peer-connected" });
    const hubSide = connected[0]!;
    // 16 MiB: far more than the kernel's socket buffers on loopback can take.
    const count = 16;
    let resolved = 0;
    const sends = Array.from({ length: count }, () =>
      hubSide.send(new Uint8Array(MiB)).then(() => {
        resolved += 1;
      }),
    );
    // Nothing can drain while the client is paused: watch for a while that the last send stays pending.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(resolved).toBeLessThan(count);
    expect(received).toBe(0);
    // An abort ends the wait, not the frame: it is queued already and still arrives.
    const controller = new AbortController();
    const abandoned = hubSide.send(Uint8Array.of(1), { signal: controller.signal });
    controller.abort();
    expect(await rejection(abandoned)).toMatchObject({ code: "aborted" });
    raw.resume();
    await Promise.all(sends);
    expect(resolved).toBe(count);
    await waitFor(() => received === count + 1, { message: "every frame at the client" });
  });

  describe("wss", () => {
    const openssl = spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;

    it("connects over TLS with a self-signed certificate passed as ca, and refuses without it", async (context) => {
      if (!openssl) context.skip("the openssl CLI is not installed, so no test certificate can be made");
      const dir = mkdtempSync(join(tmpdir(), "distsync-ws-tls-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const keyPath = join(dir, "key.pem");
      const certPath = join(dir, "cert.pem");
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          keyPath,
          "-out",
          certPath,
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        { stdio: "pipe" },
      );
      const cert = readFileSync(certPath, "utf8");
      const server = https.createServer({ key: readFileSync(keyPath), cert });
      const port = await listen(server);
      cleanups.push(() => closeServer(server));
      const { hub, connected } = await startHub({ server });
      expect(hub.url).toBe(`wss://127.0.0.1:${port}`);

      const client = await connect({ url: hub.url, ca: cert });
      await waitFor(() => connected.length === 1, { message: "peer-connected" });
      await expectRoundTrip(connected[0]!, client);

      const byName = await connect({ url: `wss://localhost:${port}`, ca: cert });
      expect(byName.closed).toBe(false);

      const untrusted = await rejection(connect({ url: hub.url }));
      expect(ConnectionError.isInstance(untrusted), String(untrusted)).toBe(true);
      expect(untrusted.message).toMatch(
        /^TLS handshake failed: wss:\/\/127\.0\.0\.1:\d+ \(DEPTH_ZERO_SELF_SIGNED_CERT/,
      );

      const plain = await rejection(connect({ url: `ws://127.0.0.1:${port}`, connectTimeoutMs: 2000 }));
      expect(ConnectionError.isInstance(plain), String(plain)).toBe(true);
    });
  });

  describe("IPv6", () => {
    let loopback6 = false;
    beforeAll(async () => {
      const probe = net.createServer();
      loopback6 = await new Promise<boolean>((resolve) => {
        probe.once("error", () => resolve(false));
        probe.listen(0, "::1", () => probe.close(() => resolve(true)));
      });
    });

    it("listens on ::1 with a bracketed url and remote addresses", async (context) => {
      if (!loopback6) context.skip("IPv6 loopback ::1 is not available on this machine");
      const { hub, connected } = await startHub({ host: "::1" });
      expect(hub.url).toBe(`ws://[::1]:${hub.port}`);
      const client = await connect({ url: hub.url });
      await waitFor(() => connected.length === 1, { message: "peer-connected" });
      expect(client.remoteAddress).toBe(`[::1]:${hub.port}`);
      expect(connected[0]?.remoteAddress).toMatch(/^\[::1\]:\d+$/);
      await expectRoundTrip(connected[0]!, client);
    });
  });
});
