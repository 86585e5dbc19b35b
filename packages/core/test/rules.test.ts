import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ContentHasher, sha256 } from "../src/content/hash.js";
import { decodeMessage, encodeMessage } from "../src/protocol/codec.js";
import { INLINE_MAX_BYTES } from "../src/protocol/constants.js";
import type { Message } from "../src/protocol/messages.js";
import type { Client } from "../src/sync/client.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { Connection } from "../src/transport.js";
import { Cluster, converged } from "./helpers/cluster.js";
import { SpyTransport } from "./helpers/spy-transport.js";
import {
  type FolderFactory,
  memoryFolder,
  nodeFolder,
  removeTempFolders,
  type TestFolder,
} from "./helpers/test-folder.js";

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 10, 1, 12, 0, 0);

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});
afterAll(removeTempFolders);

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
async function raw(c: Cluster): Promise<{ connection: Connection; inbox: Message[]; closed: () => boolean }> {
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

async function startCluster(
  folder: FolderFactory,
  options: ConstructorParameters<typeof Cluster>[0] = {},
): Promise<Cluster> {
  cluster = new Cluster({ ...options, folder });
  await cluster.start();
  return cluster;
}

describe.each([
  ["memory", memoryFolder],
  ["node", nodeFolder],
] as const)("rules on the %s file system", (_kind, folder) => {
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
      ".distsync-x.tmp",
      "a/.distsync/state",
    ]) {
      it(`the hub refuses ${JSON.stringify(bad)} with path-not-allowed and relays nothing`, async () => {
        const c = await startCluster(folder);
        const b = await c.add();
        await b.client.start();
        const evil = await raw(c);
        await evil.connection.send(hello("evil"));
        await waitFor(async () => evil.inbox.some((m) => m.type === "welcome"));
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
        await waitFor(async () => evil.closed());
        const error = evil.inbox.find((m) => m.type === "error");
        expect(error).toMatchObject({ type: "error", code: "path-not-allowed", fatal: true });
        expect(c.hub.status().spaces[0]?.seq).toBe(0);
        expect((await b.dir.snapshot()).size).toBe(0);
      });
    }
  });

  describe("rule 3: ordering and last writer wins", () => {
    const T1500 = Date.UTC(2026, 0, 1, 15, 0, 0);
    const T1530 = Date.UTC(2026, 0, 1, 15, 30, 0);
    for (const order of ["A then B", "B then A"] as const) {
      it(`the original's clash example: ${order} join, B's newer copy wins everywhere`, async () => {
        const c = await startCluster(folder);
        const a = await c.add({ name: "A" });
        const b = await c.add({ name: "B" });
        await a.dir.put("example.txt", "from A at 15:00", { mtimeMs: T1500 });
        await b.dir.put("example.txt", "from B at 15:30", { mtimeMs: T1530 });
        const [first, second] = order === "A then B" ? [a, b] : [b, a];
        await first.client.start();
        await second.client.start();
        await converged(a.dir, b.dir);
        expect(await a.dir.readText("example.txt")).toBe("from B at 15:30");
        expect((await a.dir.snapshot()).get("example.txt")?.mtimeMs).toBe(T1530);
        expect((await b.dir.snapshot()).get("example.txt")?.mtimeMs).toBe(T1530);
      });
    }

    it("a change made on the current version wins even with an older mtime (restored backup)", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      const b = await c.add();
      await a.dir.put("notes.txt", "v1", { mtimeMs: BASE });
      await a.client.start();
      await b.client.start();
      await converged(a.dir, b.dir);
      await b.dir.put("notes.txt", "restored from an old backup", { mtimeMs: BASE - 10 * HOUR });
      await waitFor(async () => (await a.dir.readText("notes.txt")) === "restored from an old backup");
      await converged(a.dir, b.dir);
    });

    it("concurrent edits: the later mtime wins regardless of arrival order", async () => {
      const c = await startCluster(folder, { network: { latencyMs: 1, jitterMs: 5 } });
      const a = await c.add({ name: "A" });
      const b = await c.add({ name: "B" });
      const d = await c.add({ name: "D" });
      await a.dir.put("x.txt", "base", { mtimeMs: BASE });
      await a.client.start();
      await b.client.start();
      await d.client.start();
      await converged(a.dir, b.dir, d.dir);
      // Both edit version 1 at once; B's edit is older but may well arrive last.
      await a.dir.put("x.txt", "A's newer edit", { mtimeMs: BASE + 2 * HOUR });
      await b.dir.put("x.txt", "B's older edit", { mtimeMs: BASE + HOUR });
      await converged(a.dir, b.dir, d.dir);
      expect(await d.dir.readText("x.txt")).toBe("A's newer edit");
    });

    it("an mtime tie is broken by content hash, the same on every client", async () => {
      const c = await startCluster(folder, { network: { latencyMs: 1, jitterMs: 3 } });
      const a = await c.add();
      const b = await c.add();
      await a.dir.put("tie.txt", "alpha", { mtimeMs: BASE });
      await b.dir.put("tie.txt", "omega", { mtimeMs: BASE });
      await Promise.all([a.client.start(), b.client.start()]);
      await converged(a.dir, b.dir);
      const hashOf = async (s: string) => {
        const h = new ContentHasher();
        const bytes = new TextEncoder().encode(s);
        h.add(await sha256(bytes), bytes.length);
        return h.digest();
      };
      const expected = (await hashOf("alpha")) > (await hashOf("omega")) ? "alpha" : "omega";
      expect(await a.dir.readText("tie.txt")).toBe(expected);
    });
  });

  describe("rule 4 and 6: origin exclusion, no echo", () => {
    it("a change goes to every other client, never back to its origin, and nothing echoes", async () => {
      const c = await startCluster(folder);
      const spies = [0, 1, 2].map(() => new SpyTransport(c.network.clientTransport()));
      const clients: { client: Client; dir: TestFolder; spy: SpyTransport }[] = [];
      for (const spy of spies) clients.push({ ...(await c.add({ transport: spy })), spy });
      for (const x of clients) await x.client.start();
      const [a, b, d] = clients as [(typeof clients)[0], (typeof clients)[0], (typeof clients)[0]];
      for (const s of spies) s.reset();
      await a.dir.put("one.txt", "1");
      await waitFor(
        async () => (await b.dir.readText("one.txt")) === "1" && (await d.dir.readText("one.txt")) === "1",
      );
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
      const c = await startCluster(folder);
      const a = await c.add({ name: "A", conflicts: "keep" });
      const b = await c.add({ name: "B", conflicts: "keep" });
      await a.dir.put("report.txt", "A's version", { mtimeMs: BASE });
      await b.dir.put("report.txt", "B's version", { mtimeMs: BASE + HOUR });
      await a.client.start();
      await b.client.start();
      await converged(a.dir, b.dir);
      expect(await a.dir.readText("report.txt")).toBe("B's version");
      const kept = [...(await a.dir.snapshot()).keys()].find((p) => p.startsWith("report.conflict-A-"));
      expect(kept).toBe("report.conflict-A-20261101-120000.txt");
      expect(await b.dir.readText(kept as string)).toBe("A's version");
    });

    it('with the default "lww" the loser is overwritten and a conflict event reports it', async () => {
      const c = await startCluster(folder);
      const a = await c.add({ name: "A" });
      const b = await c.add({ name: "B" });
      const conflicts: unknown[] = [];
      a.client.on("conflict", (x) => conflicts.push(x));
      await a.dir.put("r.txt", "old", { mtimeMs: BASE });
      await b.dir.put("r.txt", "new", { mtimeMs: BASE + HOUR });
      await b.client.start();
      await a.client.start();
      await converged(a.dir, b.dir);
      expect((await a.dir.snapshot()).size).toBe(1);
      expect(conflicts).toHaveLength(1);
    });
  });

  describe("rule 7: join", () => {
    it("unchanged files cross the wire as metadata only", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      const big = random(300_000, 7);
      await a.dir.put("same.bin", big, { mtimeMs: BASE });
      await a.dir.put("small.txt", "tiny", { mtimeMs: BASE });
      await a.client.start();
      const spy = new SpyTransport(c.network.clientTransport());
      const b = await c.add({ transport: spy });
      await b.dir.put("same.bin", big, { mtimeMs: BASE });
      await b.dir.put("small.txt", "tiny", { mtimeMs: BASE });
      await b.client.start();
      expect(spy.count("received", "content")).toBe(0);
      expect(spy.count("sent", "content")).toBe(0);
      expect(spy.count("sent", "fetch")).toBe(0);
      expect(spy.bytesSent).toBeLessThan(20_000);
    });

    it("a late joiner receives every current file, and deleted files stay deleted", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      await a.dir.put("keep.txt", "kept");
      await a.dir.put("gone.txt", "doomed", { mtimeMs: BASE });
      await a.client.start();
      await a.dir.delete("gone.txt");
      await waitFor(async () => c.hub.status().spaces[0]?.seq === 3);
      const late = await c.add();
      await late.dir.put("gone.txt", "a stale copy", { mtimeMs: BASE });
      await late.client.start();
      await converged(a.dir, late.dir);
      expect(await late.dir.readText("gone.txt")).toBeUndefined();
      expect(await late.dir.readText("keep.txt")).toBe("kept");
    });
  });

  describe("rule 8 and 9: deletes, directories, content", () => {
    it("large files travel in chunks, compressible content compressed and random content raw", async () => {
      const c = await startCluster(folder);
      const spy = new SpyTransport(c.network.clientTransport());
      const a = await c.add({ transport: spy });
      const fs = a.dir;
      const b = await c.add();
      await a.client.start();
      await b.client.start();
      const text = new TextEncoder().encode("all work and no play makes a dull sync tool\n".repeat(40_000));
      const noise = random(2_000_000, 3);
      await fs.put("text.txt", text);
      await fs.put("noise.bin", noise);
      await converged(a.dir, b.dir);
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
      const c = await startCluster(folder);
      const spy = new SpyTransport(c.network.clientTransport());
      const a = await c.add({ transport: spy });
      const fs = a.dir;
      const b = await c.add();
      const big = random(INLINE_MAX_BYTES * 20, 9);
      await fs.put("original.bin", big, { mtimeMs: BASE });
      await a.client.start();
      await b.client.start();
      await converged(a.dir, b.dir);
      spy.reset();
      await fs.put("copy.bin", big, { mtimeMs: BASE });
      await fs.delete("original.bin");
      await fs.put("moved.bin", big, { mtimeMs: BASE });
      await converged(a.dir, b.dir);
      expect(spy.count("sent", "content")).toBe(0);
      expect((await b.dir.snapshot()).has("original.bin")).toBe(false);
    });

    it("the exec bit and binary content round trip", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      const b = await c.add();
      await a.client.start();
      await b.client.start();
      await a.dir.put("run.sh", random(1000, 5), { executable: true, mtimeMs: BASE });
      await converged(a.dir, b.dir);
      expect((await b.dir.snapshot()).get("run.sh")?.executable).toBe(true);
    });
  });

  describe("rule 10: liveness", () => {
    it("a removed root stops that client with directory-removed and sends no deletes", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      const b = await c.add();
      await a.dir.put("dir/a.txt", "a");
      await a.dir.put("b.txt", "b");
      await a.client.start();
      await b.client.start();
      await converged(a.dir, b.dir);
      const seq = c.hub.status().spaces[0]?.seq;
      await a.dir.removeRoot();
      expect((await a.client.closed).reason).toBe("directory-removed");
      await new Promise((r) => setTimeout(r, 100));
      expect(c.hub.status().spaces[0]?.seq).toBe(seq);
      expect(await b.dir.readText("b.txt")).toBe("b");
      expect(await b.dir.readText("dir/a.txt")).toBe("a");
    });

    it("a silent hub is detected by heartbeats: the client stops with hub-lost", async () => {
      const c = new Cluster({ folder });
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
      const a = await c.add();
      const started = Date.now();
      void a.client.start().catch(() => {});
      const closed = await a.client.closed;
      expect(closed.reason).toBe("hub-lost");
      expect(Date.now() - started).toBeLessThan(2500);
      await hubTransport.close();
    });

    it("with reconnect, a client survives a dropped network and converges after", async () => {
      const c = await startCluster(folder);
      const a = await c.add({ reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
      const b = await c.add({ reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
      await a.client.start();
      await b.client.start();
      await c.network.dropAll();
      await a.dir.put("during-outage.txt", "made while disconnected");
      await waitFor(async () => (await b.dir.readText("during-outage.txt")) === "made while disconnected");
      await converged(a.dir, b.dir);
    });

    it("without reconnect, losing the hub stops the client with hub-lost", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      await a.client.start();
      await c.network.dropAll();
      expect((await a.client.closed).reason).toBe("hub-lost");
    });
  });

  describe("rule 11 and 12: auth and bad frames", () => {
    it("a wrong token is refused before any file data flows", async () => {
      const c = await startCluster(folder, { hub: { token: "s3cret" } });
      const good = await c.add({ token: "s3cret" });
      await good.dir.put("secret.txt", "classified");
      await good.client.start();
      const bad = await c.add({ token: "guess" });
      await expect(bad.client.start()).rejects.toMatchObject({ code: "auth-refused" });
      expect((await bad.client.closed).reason).toBe("auth-refused");
      expect((await bad.dir.snapshot()).size).toBe(0);
    });

    it("a malformed frame closes that connection with an error frame; others keep syncing", async () => {
      const c = await startCluster(folder);
      const a = await c.add();
      const b = await c.add();
      await a.client.start();
      await b.client.start();
      const evil = await raw(c);
      await evil.connection.send(hello("evil"));
      await waitFor(async () => evil.inbox.some((m) => m.type === "welcome"));
      await evil.connection.send(new Uint8Array([0xc1, 0xff, 0x00]));
      await waitFor(async () => evil.closed());
      expect(evil.inbox.find((m) => m.type === "error")).toMatchObject({ code: "protocol", fatal: true });
      await a.dir.put("still.txt", "working");
      await waitFor(async () => (await b.dir.readText("still.txt")) === "working");
    });

    it("an unknown message type and a message before hello are protocol errors", async () => {
      const c = await startCluster(folder);
      const early = await raw(c);
      await early.connection.send(encodeMessage({ type: "propose", items: [] }));
      await waitFor(async () => early.closed());
      expect(early.inbox[0]).toMatchObject({ type: "error", code: "protocol" });
      const odd = await raw(c);
      await odd.connection.send(hello("odd"));
      await odd.connection.send(encodeMessage({ type: "teleport" } as unknown as Message));
      await waitFor(async () => odd.closed());
      expect(odd.inbox.find((m) => m.type === "error")).toMatchObject({ code: "protocol" });
    });
  });
});
