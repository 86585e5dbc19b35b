import { afterEach, describe, expect, it } from "vitest";
import { ContentHasher, sha256 } from "../src/content/hash.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { decodeMessage, encodeMessage } from "../src/protocol/codec.js";
import { INLINE_MAX_BYTES } from "../src/protocol/constants.js";
import type { Message } from "../src/protocol/messages.js";
import { createClient } from "../src/sync/client.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { Connection } from "../src/transport.js";
import { describe as folder, MemoryCluster } from "./helpers/memory-cluster.js";
import { SpyTransport } from "./helpers/spy-transport.js";

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 10, 1, 12, 0, 0);

let cluster: MemoryCluster;
afterEach(async () => {
  await cluster?.stop();
});

async function startCluster(
  options: ConstructorParameters<typeof MemoryCluster>[0] = {},
): Promise<MemoryCluster> {
  cluster = new MemoryCluster(options);
  await cluster.start();
  return cluster;
}

function same(...folders: MemoryFileSystem[]): boolean {
  const first = JSON.stringify(folder(folders[0] as MemoryFileSystem));
  return folders.every((f) => JSON.stringify(folder(f)) === first);
}

async function converged(...folders: MemoryFileSystem[]): Promise<void> {
  await waitFor(() => same(...folders), { message: "convergence" });
}

function random(bytes: number, seed = 1): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A raw protocol connection, to speak to the hub like a (possibly malicious) client. */
async function raw(
  c: MemoryCluster,
): Promise<{ connection: Connection; inbox: Message[]; closed: () => boolean }> {
  const connection = await c.network.clientTransport().connect();
  const inbox: Message[] = [];
  let isClosed = false;
  connection.on("message", (frame) => inbox.push(decodeMessage(frame)));
  connection.on("close", () => {
    isClosed = true;
  });
  return { connection, inbox, closed: () => isClosed };
}

function hello(clientId: string, extra: Record<string, unknown> = {}): Uint8Array {
  return encodeMessage({ type: "hello", versions: [1, 1], space: "default", clientId, ...extra } as Message);
}

describe("rule 1: paths", () => {
  for (const bad of [
    "../escape.txt",
    "/etc/passwd",
    "a/../../b",
    "a\\b",
    "a/./b",
    "a//b",
    "C:evil",
    "nul\u0000byte",
  ]) {
    it(`the hub refuses ${JSON.stringify(bad)} with path-not-allowed and relays nothing`, async () => {
      const c = await startCluster();
      const b = c.add();
      await b.client.start();
      const evil = await raw(c);
      await evil.connection.send(hello("evil"));
      await waitFor(() => evil.inbox.some((m) => m.type === "welcome"));
      const entry = {
        kind: "file",
        deleted: false,
        size: 1,
        mtimeMs: BASE,
        hash: "a".repeat(64),
        executable: false,
      };
      await evil.connection.send(
        encodeMessage({ type: "propose", items: [{ path: bad, base: 0, entry }] } as unknown as Message),
      );
      await waitFor(() => evil.closed());
      const error = evil.inbox.find((m) => m.type === "error");
      expect(error).toMatchObject({ type: "error", code: "path-not-allowed", fatal: true });
      expect(c.hub.status().spaces[0]?.seq).toBe(0);
      expect(b.fs.snapshot().size).toBe(0);
    });
  }
});

describe("rule 3: ordering and last writer wins", () => {
  it("a change made on the current version wins even with an older mtime (restored backup)", async () => {
    const c = await startCluster();
    const a = c.add();
    const b = c.add();
    a.fs.put("notes.txt", "v1", { mtimeMs: BASE });
    await a.client.start();
    await b.client.start();
    await converged(a.fs, b.fs);
    b.fs.put("notes.txt", "restored from an old backup", { mtimeMs: BASE - 10 * HOUR });
    await waitFor(() => a.fs.readText("notes.txt") === "restored from an old backup");
    await converged(a.fs, b.fs);
  });

  it("concurrent edits: the later mtime wins regardless of arrival order", async () => {
    const c = await startCluster({ network: { latencyMs: 1, jitterMs: 5 } });
    const a = c.add({ name: "A" });
    const b = c.add({ name: "B" });
    const d = c.add({ name: "D" });
    a.fs.put("x.txt", "base", { mtimeMs: BASE });
    await a.client.start();
    await b.client.start();
    await d.client.start();
    await converged(a.fs, b.fs, d.fs);
    // Both edit version 1 at once; B's edit is older but may well arrive last.
    a.fs.put("x.txt", "A's newer edit", { mtimeMs: BASE + 2 * HOUR });
    b.fs.put("x.txt", "B's older edit", { mtimeMs: BASE + HOUR });
    await converged(a.fs, b.fs, d.fs);
    expect(d.fs.readText("x.txt")).toBe("A's newer edit");
  });

  it("an mtime tie is broken by content hash, the same on every client", async () => {
    const c = await startCluster({ network: { latencyMs: 1, jitterMs: 3 } });
    const a = c.add();
    const b = c.add();
    a.fs.put("tie.txt", "alpha", { mtimeMs: BASE });
    b.fs.put("tie.txt", "omega", { mtimeMs: BASE });
    await Promise.all([a.client.start(), b.client.start()]);
    await converged(a.fs, b.fs);
    const hashOf = async (s: string) => {
      const h = new ContentHasher();
      const bytes = new TextEncoder().encode(s);
      h.add(await sha256(bytes), bytes.length);
      return h.digest();
    };
    const expected = (await hashOf("alpha")) > (await hashOf("omega")) ? "alpha" : "omega";
    expect(a.fs.readText("tie.txt")).toBe(expected);
  });
});

describe("rule 4 and 6: origin exclusion, no echo", () => {
  it("a change goes to every other client, never back to its origin, and nothing echoes", async () => {
    const c = await startCluster();
    const spies = [0, 1, 2].map(() => new SpyTransport(c.network.clientTransport()));
    const clients = spies.map((spy) => {
      const fs = new MemoryFileSystem();
      const client = createClient({ transport: spy, fs, settleMs: 5, deleteSettleMs: 15 });
      c.clients.push(client);
      return { client, fs, spy };
    });
    for (const x of clients) await x.client.start();
    const [a, b, d] = clients as [(typeof clients)[0], (typeof clients)[0], (typeof clients)[0]];
    for (const s of spies) s.reset();
    a.fs.put("one.txt", "1");
    await waitFor(() => b.fs.readText("one.txt") === "1" && d.fs.readText("one.txt") === "1");
    // Let any echo happen if it were going to.
    await new Promise((r) => setTimeout(r, 100));
    expect(a.spy.deliveries("one.txt")).toHaveLength(0);
    expect(b.spy.deliveries("one.txt")).toHaveLength(1);
    expect(d.spy.deliveries("one.txt")).toHaveLength(1);
    expect(b.spy.count("sent", "propose")).toBe(0);
    expect(d.spy.count("sent", "propose")).toBe(0);
    expect(c.hub.status().spaces[0]?.seq).toBe(1);
  });
});

describe("rule 5: losers converge", () => {
  it('with conflicts: "keep" the losing content is kept beside the winner and synced', async () => {
    const c = await startCluster();
    const a = c.add({ name: "A", conflicts: "keep" });
    const b = c.add({ name: "B", conflicts: "keep" });
    a.fs.put("report.txt", "A's version", { mtimeMs: BASE });
    b.fs.put("report.txt", "B's version", { mtimeMs: BASE + HOUR });
    await a.client.start();
    await b.client.start();
    await converged(a.fs, b.fs);
    expect(a.fs.readText("report.txt")).toBe("B's version");
    const kept = [...a.fs.snapshot().keys()].find((p) => p.startsWith("report.conflict-A-"));
    expect(kept).toBe("report.conflict-A-20261101-120000.txt");
    expect(b.fs.readText(kept as string)).toBe("A's version");
  });

  it('with the default "lww" the loser is overwritten and a conflict event reports it', async () => {
    const c = await startCluster();
    const a = c.add({ name: "A" });
    const b = c.add({ name: "B" });
    const conflicts: unknown[] = [];
    a.client.on("conflict", (x) => conflicts.push(x));
    a.fs.put("r.txt", "old", { mtimeMs: BASE });
    b.fs.put("r.txt", "new", { mtimeMs: BASE + HOUR });
    await b.client.start();
    await a.client.start();
    await converged(a.fs, b.fs);
    expect(a.fs.snapshot().size).toBe(1);
    expect(conflicts).toHaveLength(1);
  });
});

describe("rule 7: join", () => {
  it("unchanged files cross the wire as metadata only", async () => {
    const c = await startCluster();
    const a = c.add();
    const big = random(300_000, 7);
    a.fs.put("same.bin", big, { mtimeMs: BASE });
    a.fs.put("small.txt", "tiny", { mtimeMs: BASE });
    await a.client.start();
    const spy = new SpyTransport(c.network.clientTransport());
    const fs = new MemoryFileSystem();
    fs.put("same.bin", big, { mtimeMs: BASE });
    fs.put("small.txt", "tiny", { mtimeMs: BASE });
    const b = createClient({ transport: spy, fs });
    c.clients.push(b);
    await b.start();
    expect(spy.count("received", "content")).toBe(0);
    expect(spy.count("sent", "content")).toBe(0);
    expect(spy.count("sent", "fetch")).toBe(0);
    expect(spy.bytesSent).toBeLessThan(20_000);
  });

  it("a late joiner receives every current file, and deleted files stay deleted", async () => {
    const c = await startCluster();
    const a = c.add();
    a.fs.put("keep.txt", "kept");
    a.fs.put("gone.txt", "doomed", { mtimeMs: BASE });
    await a.client.start();
    a.fs.delete("gone.txt");
    await waitFor(() => c.hub.status().spaces[0]?.seq === 3);
    const late = c.add();
    late.fs.put("gone.txt", "a stale copy", { mtimeMs: BASE });
    await late.client.start();
    await converged(a.fs, late.fs);
    expect(late.fs.readText("gone.txt")).toBeUndefined();
    expect(late.fs.readText("keep.txt")).toBe("kept");
  });
});

describe("rule 8 and 9: deletes, directories, content", () => {
  it("large files travel in chunks, compressible content compressed and random content raw", async () => {
    const c = await startCluster();
    const spy = new SpyTransport(c.network.clientTransport());
    const fs = new MemoryFileSystem();
    const a = createClient({ transport: spy, fs, settleMs: 5 });
    c.clients.push(a);
    const b = c.add();
    await a.start();
    await b.client.start();
    const text = new TextEncoder().encode("all work and no play makes a dull sync tool\n".repeat(40_000));
    const noise = random(2_000_000, 3);
    fs.put("text.txt", text);
    fs.put("noise.bin", noise);
    await converged(fs, b.fs);
    const contents = spy.sent.filter((m) => m.type === "content");
    expect(contents.length).toBeGreaterThan(4);
    for (const m of contents) expect(m.type === "content" && m.data.length).toBeLessThanOrEqual(512 * 1024);
    const encodings = new Set(contents.map((m) => (m.type === "content" ? m.encoding : "")));
    expect(encodings).toEqual(new Set(["raw", "deflate"]));
    const textBytes = contents
      .filter((m) => m.type === "content" && m.encoding === "deflate")
      .reduce((n, m) => n + (m.type === "content" ? m.data.length : 0), 0);
    expect(textBytes).toBeLessThan(text.length / 10);
  });

  it("a rename or copy of known content needs no upload", async () => {
    const c = await startCluster();
    const spy = new SpyTransport(c.network.clientTransport());
    const fs = new MemoryFileSystem();
    const a = createClient({ transport: spy, fs, settleMs: 5, deleteSettleMs: 15 });
    c.clients.push(a);
    const b = c.add();
    const big = random(INLINE_MAX_BYTES * 20, 9);
    fs.put("original.bin", big, { mtimeMs: BASE });
    await a.start();
    await b.client.start();
    await converged(fs, b.fs);
    spy.reset();
    fs.put("copy.bin", big, { mtimeMs: BASE });
    fs.delete("original.bin");
    fs.put("moved.bin", big, { mtimeMs: BASE });
    await converged(fs, b.fs);
    expect(spy.count("sent", "content")).toBe(0);
    expect(b.fs.snapshot().has("original.bin")).toBe(false);
  });

  it("the exec bit and binary content round trip", async () => {
    const c = await startCluster();
    const a = c.add();
    const b = c.add();
    await a.client.start();
    await b.client.start();
    a.fs.put("run.sh", random(1000, 5), { executable: true, mtimeMs: BASE });
    await converged(a.fs, b.fs);
    expect(b.fs.snapshot().get("run.sh")?.executable).toBe(true);
  });
});

describe("rule 10: liveness", () => {
  it("a removed root stops that client with directory-removed and sends no deletes", async () => {
    const c = await startCluster();
    const a = c.add();
    const b = c.add();
    a.fs.put("dir/a.txt", "a");
    a.fs.put("b.txt", "b");
    await a.client.start();
    await b.client.start();
    await converged(a.fs, b.fs);
    const seq = c.hub.status().spaces[0]?.seq;
    a.fs.removeRoot();
    expect((await a.client.closed).reason).toBe("directory-removed");
    await new Promise((r) => setTimeout(r, 100));
    expect(c.hub.status().spaces[0]?.seq).toBe(seq);
    expect(b.fs.readText("b.txt")).toBe("b");
    expect(b.fs.readText("dir/a.txt")).toBe("a");
  });

  it("a silent hub is detected by heartbeats: the client stops with hub-lost", async () => {
    const c = new MemoryCluster();
    cluster = c;
    // A fake hub that welcomes and then never speaks again (no TCP close to rely on).
    const hubTransport = c.network.hubTransport();
    hubTransport.on("peer-connected", (connection) => {
      connection.on("message", (frame) => {
        const m = decodeMessage(frame);
        if (m.type === "hello") {
          void connection.send(
            encodeMessage({
              type: "welcome",
              version: 1,
              clientId: m.clientId,
              epoch: "e",
              seq: 0,
              heartbeatMs: 50,
              timeoutMs: 300,
            }),
          );
        }
      });
    });
    await hubTransport.listen();
    const a = c.add();
    const started = Date.now();
    void a.client.start().catch(() => {});
    const closed = await a.client.closed;
    expect(closed.reason).toBe("hub-lost");
    expect(Date.now() - started).toBeLessThan(2500);
    await hubTransport.close();
  });

  it("with reconnect, a client survives a dropped network and converges after", async () => {
    const c = await startCluster();
    const a = c.add({ reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const b = c.add({ reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    await a.client.start();
    await b.client.start();
    await c.network.dropAll();
    a.fs.put("during-outage.txt", "made while disconnected");
    await waitFor(() => b.fs.readText("during-outage.txt") === "made while disconnected");
    await converged(a.fs, b.fs);
  });

  it("without reconnect, losing the hub stops the client with hub-lost", async () => {
    const c = await startCluster();
    const a = c.add();
    await a.client.start();
    await c.network.dropAll();
    expect((await a.client.closed).reason).toBe("hub-lost");
  });
});

describe("rule 11 and 12: auth and bad frames", () => {
  it("a wrong token is refused before any file data flows", async () => {
    const c = await startCluster({ hub: { token: "s3cret" } });
    const good = c.add({ token: "s3cret" });
    good.fs.put("secret.txt", "classified");
    await good.client.start();
    const bad = c.add({ token: "guess" });
    await expect(bad.client.start()).rejects.toMatchObject({ code: "auth-refused" });
    expect((await bad.client.closed).reason).toBe("auth-refused");
    expect(bad.fs.snapshot().size).toBe(0);
  });

  it("a malformed frame closes that connection with an error frame; others keep syncing", async () => {
    const c = await startCluster();
    const a = c.add();
    const b = c.add();
    await a.client.start();
    await b.client.start();
    const evil = await raw(c);
    await evil.connection.send(hello("evil"));
    await waitFor(() => evil.inbox.some((m) => m.type === "welcome"));
    await evil.connection.send(new Uint8Array([0xc1, 0xff, 0x00]));
    await waitFor(() => evil.closed());
    expect(evil.inbox.find((m) => m.type === "error")).toMatchObject({ code: "protocol", fatal: true });
    a.fs.put("still.txt", "working");
    await waitFor(() => b.fs.readText("still.txt") === "working");
  });

  it("an unknown message type and a message before hello are protocol errors", async () => {
    const c = await startCluster();
    const early = await raw(c);
    await early.connection.send(encodeMessage({ type: "propose", items: [] }));
    await waitFor(() => early.closed());
    expect(early.inbox[0]).toMatchObject({ type: "error", code: "protocol" });
    const odd = await raw(c);
    await odd.connection.send(hello("odd"));
    await odd.connection.send(encodeMessage({ type: "teleport" } as unknown as Message));
    await waitFor(() => odd.closed());
    expect(odd.inbox.find((m) => m.type === "error")).toMatchObject({ code: "protocol" });
  });
});
