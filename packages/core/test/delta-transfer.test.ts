import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Chunker } from "../src/content/chunker.js";
import { sha256, toHex } from "../src/content/hash.js";
import { type ChunkList, contentHashOf, fromHex, manifestPages } from "../src/content/manifest.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { openHubStateDir } from "../src/node/hub-state-dir.js";
import { decodeMessage, encodeMessage } from "../src/protocol/codec.js";
import { PROTOCOL_VERSIONS } from "../src/protocol/constants.js";
import type {
  ClientMessage,
  ContentMessage,
  ErrorMessage,
  ManifestMessage,
  Message,
  NeedMessage,
} from "../src/protocol/messages.js";
import { MemoryContentStore } from "../src/store/memory-content-store.js";
import { createClient } from "../src/sync/client.js";
import { createHub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { ClientTransport, Connection } from "../src/transport.js";
import type { ClientId, ContentHash, RelPath } from "../src/types.js";
import { randomBytes } from "./helpers/random-bytes.js";
import { SpyTransport } from "./helpers/spy-transport.js";
import { wrapConnection } from "./helpers/wrap-connection.js";

const KiB = 1024;
const MiB = 1024 * 1024;

/** Raw bytes of file content that crossed the wire in `direction` (chunks of any transfer). */
function contentBytes(spy: SpyTransport, direction: "sent" | "received"): number {
  return spy[direction]
    .filter((m): m is ContentMessage => m.type === "content")
    .reduce((sum, m) => sum + m.size, 0);
}

function read(fs: MemoryFileSystem, path: string): Uint8Array | undefined {
  const entry = fs.snapshot().get(path);
  return entry?.kind === "file" ? entry.content : undefined;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

async function chunkListOf(
  data: Uint8Array,
): Promise<{ list: ChunkList; chunks: Uint8Array[]; hash: ContentHash }> {
  const chunker = new Chunker();
  const chunks = [...chunker.push(data), ...chunker.finish()];
  const list: ChunkList = { chunks: [], sizes: [] };
  for (const c of chunks) {
    list.chunks.push(toHex(await sha256(c)));
    list.sizes.push(c.length);
  }
  return { list, chunks, hash: await contentHashOf(list.chunks) };
}

/** A client transport whose incoming `manifest` frames arrive `ms` later than the rest. */
function delayingManifests(inner: ClientTransport, ms: number): ClientTransport {
  return {
    get capabilities() {
      return inner.capabilities;
    },
    connect: async (options) => {
      const connection = await inner.connect(options);
      return wrapConnection(connection, {
        on: ((event: string, listener: (frame: Uint8Array) => void) =>
          connection.on(event as "message", (frame: Uint8Array) => {
            if (event === "message" && decodeMessage(frame).type === "manifest") {
              setTimeout(() => listener(frame), ms);
            } else listener(frame);
          })) as Connection["on"],
      });
    },
  };
}

async function pair(options: { readerTransport?: (inner: ClientTransport) => ClientTransport } = {}) {
  const network = createMemoryNetwork();
  const hub = createHub({ transport: network.hubTransport() });
  await hub.start();
  const writerFs = new MemoryFileSystem();
  const readerFs = new MemoryFileSystem();
  const writerSpy = new SpyTransport(network.clientTransport());
  const readerSpy = new SpyTransport((options.readerTransport ?? ((t) => t))(network.clientTransport()));
  const writer = createClient({ transport: writerSpy, fs: writerFs, settleMs: 2, deleteSettleMs: 20 });
  const reader = createClient({ transport: readerSpy, fs: readerFs, settleMs: 2, deleteSettleMs: 20 });
  await writer.start();
  await reader.start();
  const stop = async () => {
    await Promise.all([writer.stop(), reader.stop()]);
    await hub.stop();
  };
  return { hub, writerFs, readerFs, writerSpy, readerSpy, stop };
}

describe("delta transfer: only chunks the other side lacks travel", () => {
  it("an overwrite in the middle and an insertion at the start move a few chunks each way", async () => {
    const { writerFs, readerFs, writerSpy, readerSpy, stop } = await pair();
    const size = 8 * MiB;
    const v1 = randomBytes(size, 1);
    writerFs.put("big.bin", v1);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), v1), { timeoutMs: 20_000 });
    // The first transfer moves everything both ways: proves the counters count.
    expect(contentBytes(writerSpy, "sent")).toBe(size);
    expect(contentBytes(readerSpy, "received")).toBe(size);

    writerSpy.reset();
    readerSpy.reset();
    const v2 = v1.slice();
    v2.set(randomBytes(256 * KiB, 2), 4 * MiB);
    writerFs.put("big.bin", v2);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), v2), { timeoutMs: 20_000 });
    // 256 KiB changed: the chunks covering it, plus at most about one on each side.
    const overwrite = { up: contentBytes(writerSpy, "sent"), down: contentBytes(readerSpy, "received") };
    expect(overwrite.up).toBeGreaterThanOrEqual(256 * KiB);
    expect(overwrite.up).toBeLessThan(768 * KiB);
    expect(overwrite.down).toBe(overwrite.up);
    // The manifests are relative to the previous version: little beyond the chunks themselves.
    expect(writerSpy.bytesSent).toBeLessThan(overwrite.up + 16 * KiB);
    expect(readerSpy.bytesReceived).toBeLessThan(overwrite.down + 16 * KiB);

    writerSpy.reset();
    readerSpy.reset();
    const v3 = new Uint8Array(size + KiB);
    v3.set(randomBytes(KiB, 3), 0);
    v3.set(v2, KiB);
    writerFs.put("big.bin", v3);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), v3), { timeoutMs: 20_000 });
    // An insertion at the start must not resend the rest of the file.
    const insertion = { up: contentBytes(writerSpy, "sent"), down: contentBytes(readerSpy, "received") };
    expect(insertion.up).toBeGreaterThan(0);
    expect(insertion.up).toBeLessThan(256 * KiB);
    expect(insertion.down).toBeLessThan(256 * KiB);
    expect(writerSpy.bytesSent).toBeLessThan(256 * KiB);
    expect(readerSpy.bytesReceived).toBeLessThan(256 * KiB);
    await stop();
  }, 60_000);

  it("a copy and a rename of a large file move almost nothing", async () => {
    const { writerFs, readerFs, writerSpy, readerSpy, stop } = await pair();
    const data = randomBytes(6 * MiB, 7);
    writerFs.put("big.bin", data);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), data), { timeoutMs: 20_000 });

    writerSpy.reset();
    readerSpy.reset();
    writerFs.put("copy.bin", data);
    await waitFor(() => sameBytes(read(readerFs, "copy.bin"), data), { timeoutMs: 20_000 });
    expect(contentBytes(writerSpy, "sent")).toBe(0);
    expect(contentBytes(readerSpy, "received")).toBe(0);
    expect(readerSpy.bytesReceived).toBeLessThan(64 * KiB);

    writerSpy.reset();
    readerSpy.reset();
    // A rename as a watcher sees it: the old name goes first, then the new one appears.
    writerFs.delete("big.bin");
    writerFs.put("moved.bin", data);
    await waitFor(() => sameBytes(read(readerFs, "moved.bin"), data) && !readerFs.snapshot().has("big.bin"), {
      timeoutMs: 20_000,
    });
    expect(contentBytes(writerSpy, "sent")).toBe(0);
    expect(contentBytes(readerSpy, "received")).toBe(0);
    expect(readerSpy.bytesReceived).toBeLessThan(64 * KiB);
    await stop();
  }, 60_000);

  it("a rename whose deletion reaches the reader while the new name's download waits for its manifest still copies locally", async () => {
    const { hub, writerFs, readerFs, readerSpy, stop } = await pair({
      readerTransport: (inner) => delayingManifests(inner, 300),
    });
    const data = randomBytes(4 * MiB, 8);
    writerFs.put("big.bin", data);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), data), { timeoutMs: 20_000 });
    readerSpy.reset();
    writerFs.put("moved.bin", data);
    await waitFor(() => hub.entries().some((e) => e.path === "moved.bin"), { timeoutMs: 20_000 });
    // The deletion of the old name is committed while the reader still waits for the manifest.
    writerFs.delete("big.bin");
    await waitFor(() => hub.entries().some((e) => e.path === "big.bin" && e.deleted), { timeoutMs: 20_000 });
    await waitFor(() => sameBytes(read(readerFs, "moved.bin"), data) && !readerFs.snapshot().has("big.bin"), {
      timeoutMs: 20_000,
    });
    expect(readerSpy.count("received", "manifest")).toBe(1);
    expect(contentBytes(readerSpy, "received")).toBe(0);
    await stop();
  }, 60_000);

  it("a download finds chunks in other local files and fetches only the rest", async () => {
    const { writerFs, readerFs, readerSpy, stop } = await pair();
    const a = randomBytes(3 * MiB, 21);
    const b = randomBytes(3 * MiB, 22);
    writerFs.put("a.bin", a);
    writerFs.put("b.bin", b);
    await waitFor(() => sameBytes(read(readerFs, "a.bin"), a) && sameBytes(read(readerFs, "b.bin"), b), {
      timeoutMs: 20_000,
    });
    readerSpy.reset();
    // A new file made of a's content, 100 KiB of new bytes, and b's content.
    const joined = new Uint8Array(a.length + 100 * KiB + b.length);
    joined.set(a, 0);
    joined.set(randomBytes(100 * KiB, 23), a.length);
    joined.set(b, a.length + 100 * KiB);
    writerFs.put("joined.bin", joined);
    await waitFor(() => sameBytes(read(readerFs, "joined.bin"), joined), { timeoutMs: 20_000 });
    const down = contentBytes(readerSpy, "received");
    expect(down).toBeGreaterThanOrEqual(100 * KiB);
    expect(down).toBeLessThan(800 * KiB);
    await stop();
  }, 60_000);

  it("a local chunk that changed after it was indexed is never written: the download still ends right", async () => {
    const { writerFs, readerFs, readerSpy, stop } = await pair();
    const v1 = randomBytes(3 * MiB, 31);
    writerFs.put("big.bin", v1);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), v1), { timeoutMs: 20_000 });
    // A copy on the reader's side, indexed when the reader hashes it…
    readerFs.put("copy.bin", v1, { mtimeMs: 1_700_000_000_000 });
    await waitFor(() => sameBytes(read(writerFs, "copy.bin"), v1), { timeoutMs: 20_000 });
    // …then changed with the same size and mtime, so the index entry is stale.
    const stale = v1.slice();
    stale.set(randomBytes(200 * KiB, 33), 100 * KiB);
    readerFs.put("copy.bin", stale, { mtimeMs: 1_700_000_000_000 });
    await new Promise((r) => setTimeout(r, 50));
    readerSpy.reset();
    const v2 = v1.slice();
    v2.set(randomBytes(64 * KiB, 32), 2 * MiB);
    writerFs.put("big.bin", v2);
    await waitFor(() => sameBytes(read(readerFs, "big.bin"), v2), { timeoutMs: 20_000 });
    // The stale chunks were caught by their digests and fetched instead.
    expect(contentBytes(readerSpy, "received")).toBeGreaterThan(200 * KiB);
    expect(contentBytes(readerSpy, "received")).toBeLessThan(2 * MiB);
    await stop();
  }, 60_000);
});

/** A raw protocol peer that proposes one file and then does whatever the test says. */
async function rawUploader(data: Uint8Array, options: { base?: Uint8Array } = {}) {
  const network = createMemoryNetwork();
  const store = new MemoryContentStore();
  const hub = createHub({ transport: network.hubTransport(), store });
  await hub.start();
  const raw = await network.clientTransport().connect();
  const received: Message[] = [];
  raw.on("message", (frame) => received.push(decodeMessage(frame)));
  const send = (m: ClientMessage) => raw.send(encodeMessage(m));
  const m = await chunkListOf(data);
  await send({
    type: "hello",
    versions: [PROTOCOL_VERSIONS.min, PROTOCOL_VERSIONS.max],
    space: "default",
    clientId: "liar" as ClientId,
  });
  const propose = async (bytes: Uint8Array, hash: ContentHash, mtimeMs: number) =>
    send({
      type: "propose",
      items: [
        {
          path: "f.bin" as RelPath,
          base: 0,
          entry: { kind: "file", deleted: false, size: bytes.length, mtimeMs, hash, executable: false },
        },
      ],
    });
  await send({ type: "index", final: true, items: [] });
  await waitFor(() => received.some((x) => x.type === "synced"));
  if (options.base) {
    // An honest first version, uploaded whole, so the next upload is offered it as a base.
    const b = await chunkListOf(options.base);
    await propose(options.base, b.hash, 1000);
    await waitFor(() => received.some((x) => x.type === "upload"));
    for (const [index, chunk] of b.chunks.entries()) {
      await send({ type: "content", hash: b.hash, index, size: chunk.length, encoding: "raw", data: chunk });
    }
    await send({ type: "content-end", hash: b.hash, chunks: b.chunks.length, size: options.base.length });
    await waitFor(() => received.some((x) => x.type === "ack"));
    received.length = 0;
  }
  await propose(data, m.hash, 2000);
  await waitFor(() => received.some((x) => x.type === "upload"));
  const errors = () => received.filter((x): x is ErrorMessage => x.type === "error");
  const needs = () => received.filter((x): x is NeedMessage => x.type === "need");
  return { hub, store, raw, send, m, received, errors, needs, stop: () => hub.stop() };
}

function page(
  m: { list: ChunkList; hash: ContentHash },
  extra: Partial<ManifestMessage> = {},
): ManifestMessage {
  const pages = manifestPages(m.hash, m.list);
  expect(pages).toHaveLength(1);
  return { ...(pages[0] as ManifestMessage), ...extra };
}

describe("delta upload: a forged manifest or chunk is refused and nothing is committed", () => {
  const data = randomBytes(2 * MiB, 41);

  it("a manifest whose digests do not hash to the content hash: content-mismatch", async () => {
    const peer = await rawUploader(data);
    const digests = page(peer.m).digests.slice();
    digests[5] = (digests[5] as number) ^ 1;
    await peer.send(page(peer.m, { digests }));
    await waitFor(() => peer.errors().length > 0);
    expect(peer.errors()[0]).toMatchObject({ code: "content-mismatch", fatal: false, path: "f.bin" });
    expect(peer.errors()[0]?.message).toMatch(/does not hash to it/);
    expect(peer.needs()).toHaveLength(0);
    expect(peer.hub.entries().some((e) => e.path === "f.bin")).toBe(false);
    await peer.stop();
  });

  it("sizes that do not add up to the declared size: content-mismatch", async () => {
    const peer = await rawUploader(data);
    const sizes = page(peer.m).sizes.slice();
    sizes[0] = (sizes[0] as number) - 1;
    await peer.send(page(peer.m, { sizes }));
    await waitFor(() => peer.errors().length > 0);
    expect(peer.errors()[0]).toMatchObject({ code: "content-mismatch", fatal: false });
    expect(peer.errors()[0]?.message).toMatch(/add up to/);
    expect(peer.hub.entries().some((e) => e.path === "f.bin")).toBe(false);
    await peer.stop();
  });

  it("more chunks than the size can hold: a protocol error closes the connection", async () => {
    const peer = await rawUploader(data);
    const count = Math.floor(data.length / (16 * KiB)) + 2;
    const forged: ManifestMessage = {
      type: "manifest",
      hash: peer.m.hash,
      size: data.length,
      chunks: count,
      first: 0,
      count: 1,
      copies: [],
      digests: fromHex(peer.m.list.chunks[0] as string),
      sizes: [peer.m.list.sizes[0] as number],
    };
    await peer.send(forged);
    await waitFor(() => peer.raw.closed);
    expect(peer.errors()[0]).toMatchObject({ code: "protocol", fatal: true });
    expect(peer.errors()[0]?.message).toMatch(/cannot hold/);
    await peer.stop();
  });

  it("a chunk that does not match its manifest entry: content-mismatch, nothing committed", async () => {
    const peer = await rawUploader(data);
    await peer.send(page(peer.m));
    await waitFor(() => peer.needs().length === 1);
    // Everything is new to this hub: every chunk is asked for.
    expect(peer.needs()[0]?.ranges).toEqual([[0, peer.m.list.chunks.length]]);
    const wrong = peer.m.chunks[0]?.slice() as Uint8Array;
    wrong[0] = (wrong[0] as number) ^ 1;
    await peer.send({
      type: "content",
      hash: peer.m.hash,
      index: 0,
      size: wrong.length,
      encoding: "raw",
      data: wrong,
    });
    await waitFor(() => peer.errors().length > 0);
    expect(peer.errors()[0]).toMatchObject({ code: "content-mismatch", fatal: false, path: "f.bin" });
    expect(peer.errors()[0]?.message).toMatch(/does not match its manifest/);
    expect(await peer.store.hasChunk(toHex(await sha256(wrong)))).toBe(false);
    expect(peer.hub.entries().some((e) => e.path === "f.bin")).toBe(false);
    await peer.stop();
  });

  it("content-end before every chunk asked for arrived: content-mismatch", async () => {
    const peer = await rawUploader(data);
    await peer.send(page(peer.m));
    await waitFor(() => peer.needs().length === 1);
    const first = peer.m.chunks[0] as Uint8Array;
    await peer.send({
      type: "content",
      hash: peer.m.hash,
      index: 0,
      size: first.length,
      encoding: "raw",
      data: first,
    });
    await peer.send({
      type: "content-end",
      hash: peer.m.hash,
      chunks: peer.m.list.chunks.length,
      size: data.length,
    });
    await waitFor(() => peer.errors().length > 0);
    expect(peer.errors()[0]).toMatchObject({ code: "content-mismatch" });
    expect(peer.errors()[0]?.message).toMatch(/missing/);
    expect(await peer.store.hasContent(peer.m.hash)).toBe(false);
    await peer.stop();
  });

  it("copies from a base the hub did not offer: a protocol error", async () => {
    const peer = await rawUploader(data);
    const forged = page(peer.m);
    forged.base = "ab".repeat(32) as ContentHash;
    forged.copies = [[0, 0, 1]];
    forged.digests = forged.digests.slice(32);
    forged.sizes = forged.sizes.slice(1);
    await peer.send(forged);
    await waitFor(() => peer.raw.closed);
    expect(peer.errors()[0]).toMatchObject({ code: "protocol", fatal: true });
    await peer.stop();
  });

  it("an honest delta against the offered base: only new chunks are asked for, and the version commits", async () => {
    const base = randomBytes(2 * MiB, 42);
    const edited = base.slice();
    edited.set(randomBytes(10 * KiB, 43), MiB);
    const peer = await rawUploader(edited, { base });
    const upload = peer.received.find((x) => x.type === "upload");
    const b = await chunkListOf(base);
    expect(upload).toMatchObject({ base: b.hash });
    const pages = manifestPages(peer.m.hash, peer.m.list, { hash: b.hash, list: b.list });
    expect(pages).toHaveLength(1);
    expect(pages[0]?.copies.length).toBeGreaterThan(0);
    expect(pages[0]?.sizes.length).toBeLessThan(4);
    await peer.send(pages[0] as ManifestMessage);
    await waitFor(() => peer.needs().length === 1);
    const asked = (peer.needs()[0] as NeedMessage).ranges.flatMap(([a, z]) =>
      Array.from({ length: z - a }, (_, i) => a + i),
    );
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.length).toBeLessThan(4);
    for (const index of asked) {
      const chunk = peer.m.chunks[index] as Uint8Array;
      await peer.send({
        type: "content",
        hash: peer.m.hash,
        index,
        size: chunk.length,
        encoding: "raw",
        data: chunk,
      });
    }
    await peer.send({
      type: "content-end",
      hash: peer.m.hash,
      chunks: peer.m.list.chunks.length,
      size: edited.length,
    });
    await waitFor(() => peer.received.some((x) => x.type === "ack"));
    expect(peer.errors()).toEqual([]);
    expect(await peer.store.getManifest(peer.m.hash)).toMatchObject({
      size: edited.length,
      sizes: peer.m.list.sizes,
    });
    await peer.stop();
  });
});

describe("the chunk store with a state directory", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it("stores a chunk shared by two files once, and garbage collection at start keeps what a live file lists", async () => {
    const dir = await mkdtemp(join(tmpdir(), "distsync-delta-"));
    dirs.push(dir);
    const shared = randomBytes(3 * MiB, 51);
    const other = new Uint8Array(shared.length + 300 * KiB);
    other.set(randomBytes(300 * KiB, 52), 0);
    other.set(shared, 300 * KiB);
    const s = await chunkListOf(shared);
    const o = await chunkListOf(other);
    const common = o.list.chunks.filter((c) => s.list.chunks.includes(c));
    expect(common.length).toBeGreaterThan(s.list.chunks.length - 3);

    const state1 = await openHubStateDir(dir);
    const network1 = createMemoryNetwork();
    const hub1 = createHub({
      transport: network1.hubTransport(),
      store: state1.store,
      journal: state1.journal,
    });
    await hub1.start();
    const fs = new MemoryFileSystem();
    fs.put("shared.bin", shared);
    fs.put("other.bin", other);
    const client = createClient({
      transport: network1.clientTransport(),
      fs,
      settleMs: 2,
      deleteSettleMs: 20,
    });
    await client.start();
    const live = () =>
      hub1
        .entries()
        .filter((e) => !e.deleted && e.kind === "file")
        .map((e) => e.path);
    await waitFor(() => live().length === 2, { timeoutMs: 20_000 });
    fs.delete("shared.bin");
    await waitFor(() => live().length === 1, { timeoutMs: 20_000 });
    await client.stop();
    await hub1.stop();
    await state1.close();
    // Restarted: garbage collection removes chunks only shared.bin listed, keeps other.bin's.
    const state = await openHubStateDir(dir);
    const network = createMemoryNetwork();
    const hub = createHub({ transport: network.hubTransport(), store: state.store, journal: state.journal });
    await hub.start();
    for (const c of o.list.chunks) expect(await state.store.hasChunk(c)).toBe(true);
    const onlyShared = s.list.chunks.filter((c) => !o.list.chunks.includes(c));
    expect(onlyShared.length).toBeGreaterThan(0);
    for (const c of onlyShared) expect(await state.store.hasChunk(c)).toBe(false);
    expect(await state.store.getManifest(o.hash)).toMatchObject({ sizes: o.list.sizes });
    await hub.stop();
    await state.close();
  }, 60_000);
});
