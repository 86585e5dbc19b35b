// A malicious client against a real hub: a `ws` server on 127.0.0.1, two honest clients syncing
// real folders through the Node file system, and an attacker speaking the protocol directly with
// `ws` (frames built with core's encoder, or by hand where they must be malformed).
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as nodePath from "node:path";
import { deflateRawSync } from "node:zlib";
import {
  type Client,
  createClient,
  createHub,
  decodeMessage,
  type ErrorMessage,
  encodeMessage,
  type Hub,
  type Message,
} from "@distsync/core";
import { createNodeFileSystem } from "@distsync/core/node";
import { waitFor } from "@distsync/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createWebSocketClientTransport, createWebSocketHubTransport } from "../src/index.js";

const TOKEN = "s3cret";
const MAX_FRAME = 8 * 1024 * 1024;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

// ---------------------------------------------------------------------------------------------
// The world: root/{a,b,sentinel}; a and b synced by honest clients; sentinel must stay empty.

let root: string;
let dirA: string;
let dirB: string;
let sentinel: string;
let hub: Hub;
let url: string;
let clientA: Client;
let clientB: Client;
/** Every file the honest clients wrote (relative path → content): all the folders may hold. */
const honestFiles = new Map<string, string>();
let probes = 0;
let attackers = 0;

beforeAll(async () => {
  root = await mkdtemp(nodePath.join(tmpdir(), "distsync-hostile-"));
  dirA = nodePath.join(root, "a");
  dirB = nodePath.join(root, "b");
  sentinel = nodePath.join(root, "sentinel");
  for (const d of [dirA, dirB, sentinel]) await mkdir(d);
  await writeFile(nodePath.join(dirA, "hello.txt"), "hello from a\n");
  honestFiles.set("hello.txt", "hello from a\n");
  const transport = createWebSocketHubTransport({ port: 0, maxFrameBytes: MAX_FRAME });
  hub = createHub({ transport, token: TOKEN });
  await hub.start();
  url = transport.url;
  clientA = await honestClient(dirA, "A");
  clientB = await honestClient(dirB, "B");
  await waitFor(async () => (await readText(dirB, "hello.txt")) === "hello from a\n", {
    message: "the first file on B",
  });
});

afterAll(async () => {
  await Promise.all([clientA?.stop(), clientB?.stop()]);
  await hub?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function honestClient(dir: string, name: string): Promise<Client> {
  const client = createClient({
    transport: createWebSocketClientTransport({ url, maxFrameBytes: MAX_FRAME }),
    fs: await createNodeFileSystem(dir),
    token: TOKEN,
    name,
    settleMs: 5,
    deleteSettleMs: 15,
  });
  await client.start();
  return client;
}

async function readText(dir: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(nodePath.join(dir, path), "utf8");
  } catch {
    return undefined;
  }
}

/** Every regular file under `dir`, DistSync's own state folder left out. */
async function listFiles(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(nodePath.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.name === ".distsync" || entry.name.startsWith(".distsync-")) continue;
    if (entry.isDirectory()) for (const [p, c] of await listFiles(dir, rel)) out.set(p, c);
    else out.set(rel, await readFile(nodePath.join(dir, rel), "utf8"));
  }
  return out;
}

/**
 * The hub still serves the honest clients: both are live, and a file written now in one folder
 * (alternately a and b) arrives in the other.
 */
async function expectHubStillServes(): Promise<void> {
  expect(clientA.status().state).toBe("live");
  expect(clientB.status().state).toBe("live");
  const n = ++probes;
  const [from, to] = n % 2 === 0 ? [dirA, dirB] : [dirB, dirA];
  const name = `probe-${n}.txt`;
  const text = `probe ${n} ${randomBytes(6).toString("hex")}\n`;
  honestFiles.set(name, text);
  await writeFile(nodePath.join(from, name), text);
  await waitFor(async () => (await readText(to, name)) === text, {
    timeoutMs: 5000,
    message: `${name} to propagate after the attack`,
  });
}

/**
 * Nothing escaped: the sentinel next to the folders is empty, the temp root holds only the three
 * folders, both folders hold exactly what the honest clients wrote, and so does the hub's index.
 */
async function expectNothingEscaped(): Promise<void> {
  expect(await readdir(sentinel)).toEqual([]);
  expect((await readdir(root)).sort()).toEqual(["a", "b", "sentinel"]);
  const expected = Object.fromEntries(honestFiles);
  await waitFor(
    async () => {
      const [a, b] = await Promise.all([listFiles(dirA), listFiles(dirB)]);
      return a.size === honestFiles.size && b.size === honestFiles.size;
    },
    { timeoutMs: 3000, message: "the folders to settle" },
  );
  expect(Object.fromEntries(await listFiles(dirA))).toEqual(expected);
  expect(Object.fromEntries(await listFiles(dirB))).toEqual(expected);
  const live = hub.entries().filter((e) => !e.deleted);
  expect(live.map((e) => e.path).sort()).toEqual([...honestFiles.keys()].sort());
}

// ---------------------------------------------------------------------------------------------
// The attacker: a raw `ws` socket.

interface Closed {
  code: number;
  reason: string;
}

class Attacker {
  readonly socket: WebSocket;
  readonly clientId = `mallory-${++attackers}`;
  readonly received: Message[] = [];
  readonly closed: Promise<Closed>;
  #cursor = 0;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on("message", (data: Buffer) => {
      this.received.push(decodeMessage(new Uint8Array(data)));
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  static async open(): Promise<Attacker> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const attacker = new Attacker(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return attacker;
  }

  /** Sends raw bytes, or a message (any shape: the encoder does not check it). */
  send(frame: Uint8Array | Record<string, unknown>): void {
    this.socket.send(frame instanceof Uint8Array ? frame : encodeMessage(frame as unknown as Message));
  }

  /** The next message (after those already taken) that matches. */
  async next<T extends Message = Message>(
    predicate: (m: Message) => boolean = () => true,
    what = "a message",
    timeoutMs = 5000,
  ): Promise<T> {
    let found: Message | undefined;
    await waitFor(
      () => {
        for (; this.#cursor < this.received.length; ) {
          const m = this.received[this.#cursor++] as Message;
          if (predicate(m)) {
            found = m;
            return true;
          }
        }
        return false;
      },
      { timeoutMs, message: `${what} (got ${JSON.stringify(this.received.map((m) => m.type))})` },
    );
    return found as T;
  }

  async hello(fields: Record<string, unknown> = {}): Promise<void> {
    this.send({
      type: "hello",
      versions: [1, 1],
      space: "default",
      clientId: this.clientId,
      token: TOKEN,
      ...fields,
    });
    await this.next((m) => m.type === "welcome", "welcome");
  }

  /** Joins as a client would: hello, then an empty final index. */
  async join(): Promise<void> {
    await this.hello();
    this.send({ type: "index", items: [], final: true });
    await this.next((m) => m.type === "synced", "synced");
  }

  error(): Promise<ErrorMessage> {
    return this.next<ErrorMessage>((m) => m.type === "error", "an error frame");
  }

  /** The connection is still open: a ping is answered. */
  async expectOpen(): Promise<void> {
    const time = Date.now() + Math.random();
    this.send({ type: "ping", time });
    await this.next((m) => m.type === "pong" && m.time === time, "a pong");
  }

  close(): void {
    this.socket.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// Frames.

function sha256(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

/** The content hash of a one-chunk file (< 32 KiB): SHA-256 of its chunk's SHA-256 digest. */
function contentHash(data: Uint8Array): string {
  return sha256(data.length === 0 ? new Uint8Array() : sha256(data)).toString("hex");
}

function fileEntry(data: Uint8Array, over: Record<string, unknown> = {}) {
  return {
    kind: "file",
    deleted: false,
    size: data.length,
    mtimeMs: T0,
    hash: contentHash(data),
    executable: false,
    ...over,
  };
}

const dirEntry = { kind: "directory", deleted: false, size: 0, mtimeMs: T0, hash: "", executable: false };

function unique(text = "evil"): Uint8Array {
  return new TextEncoder().encode(`${text} ${randomBytes(8).toString("hex")}\n`);
}

/** A proposal of a file with its content inline. */
function inlineProposal(path: unknown, data = unique()) {
  return { path, base: 0, entry: fileEntry(data), data: { encoding: "raw", data } };
}

/** Proposes `data` (no inline content) and waits for the hub's upload request. */
async function requestUpload(attacker: Attacker, data: Uint8Array, over: Record<string, unknown> = {}) {
  const path = `up-${randomBytes(4).toString("hex")}.bin`;
  const entry = fileEntry(data, over);
  attacker.send({ type: "propose", items: [{ path, base: 0, entry }] });
  await attacker.next((m) => m.type === "upload" && m.hash === entry.hash, "an upload request");
  return entry.hash as string;
}

const ZERO_HASH = "0".repeat(64);

// ---------------------------------------------------------------------------------------------
// The cases.

type Expectation =
  | { code: string; message: RegExp; fatal: boolean }
  /** The transport closes the socket (no error frame can say more). */
  | { close: number };

interface Case {
  name: string;
  /** What the attacker does before attacking: nothing, `hello`, or a full join. Default `join`. */
  before?: "nothing" | "hello" | "join";
  attack: (attacker: Attacker) => void | Promise<void>;
  expect: Expectation;
  /** Undoes what the attack left in the folders (after the expectation is checked). */
  after?: (attacker: Attacker) => Promise<void>;
}

/** Path forms that must never reach a disk; each is refused with path-not-allowed, fatally. */
const BAD_PATHS: [string, unknown, RegExp][] = [
  ["parent traversal ../x", "../sentinel/x", /'\.\.' segment/],
  ["traversal in the middle a/../../x", "a/../../sentinel/x", /'\.\.' segment/],
  ["a bare ..", "..", /'\.\.' segment/],
  ["a . segment ./x", "./x", /'\.' segment/],
  ["an absolute POSIX path", "/etc/distsync-x", /absolute path/],
  ["an absolute path into the sentinel", "<sentinel>/x", /absolute path/],
  ["a Windows drive path C:\\x", "C:\\x", /backslash/],
  ["a drive-relative path C:x", "C:x", /drive-letter path/],
  ["a UNC path \\\\server\\share", "\\\\server\\share", /backslash/],
  ["backslash traversal a\\..\\x", "a\\..\\x", /backslash/],
  ["an empty segment a//b", "a//b", /empty segment/],
  ["a trailing slash", "dir/", /empty segment/],
  ["an empty path", "", /empty path/],
  ["a name of 256 bytes", "n".repeat(256), /name too long/],
  ["a path above 4096 bytes", Array.from({ length: 20 }, () => "d".repeat(250)).join("/"), /path too long/],
  ["a NUL byte", "a\u0000b", /NUL byte/],
  ["an escape character", "a\u001b[2Jb", /control character/],
  ["a newline", "a\nb", /control character/],
  ["DEL", "a\u007fb", /control character/],
  ["the state folder .distsync", ".distsync", /DistSync keeps for itself/],
  ["a file inside .distsync", ".distsync/index.json", /DistSync keeps for itself/],
  ["a temp name .distsync-*", "sub/.distsync-tmp-1", /DistSync keeps for itself/],
  ["a name not in NFC", "cafe\u0301.txt", /not in NFC/],
  ["a path that is not a string", 42, /not a string/],
];

const pathCases: Case[] = BAD_PATHS.flatMap(([name, raw, reason]): Case[] => {
  const path = () => (raw === "<sentinel>/x" ? `${sentinel}/x` : raw);
  const expectation = { code: "path-not-allowed", message: reason, fatal: true };
  return [
    {
      name: `propose with ${name}, content inline`,
      attack: (a) => a.send({ type: "propose", items: [inlineProposal(path())] }),
      expect: expectation,
    },
    {
      name: `index (join) with ${name}, as a directory`,
      before: "hello",
      attack: (a) =>
        a.send({ type: "index", items: [{ path: path(), base: 0, entry: dirEntry }], final: true }),
      expect: expectation,
    },
  ];
});

const contentCases: Case[] = [
  {
    name: "entry.size lies about inline content",
    attack: (a) => {
      const data = unique();
      const p = inlineProposal("lie-inline.txt", data);
      a.send({ type: "propose", items: [{ ...p, entry: { ...p.entry, size: data.length + 7 } }] });
    },
    expect: { code: "content-mismatch", message: /raw chunk is \d+ bytes, declared \d+/, fatal: false },
  },
  {
    name: "entry.size lies about content the hub already holds",
    attack: (a) => {
      const text = new TextEncoder().encode(honestFiles.get("hello.txt"));
      const entry = fileEntry(text, { size: 3 });
      a.send({ type: "propose", items: [{ path: "lie-held.txt", base: 0, entry }] });
    },
    expect: { code: "content-mismatch", message: /lie-held\.txt.*size/, fatal: false },
  },
  {
    name: "entry.size lies about content then uploaded honestly",
    attack: async (a) => {
      const data = unique("uploaded");
      const hash = await requestUpload(a, data, { size: 5 });
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "raw", data });
      a.send({ type: "content-end", hash, chunks: 1, size: data.length });
    },
    expect: { code: "content-mismatch", message: /size/, fatal: false },
  },
  {
    name: "a content chunk whose size lies",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send({ type: "content", hash, index: 0, size: data.length + 100, encoding: "raw", data });
    },
    expect: { code: "content-mismatch", message: /raw chunk is \d+ bytes, declared \d+/, fatal: false },
  },
  {
    name: "a content chunk declaring more than 256 KiB",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send({ type: "content", hash, index: 0, size: 300 * 1024, encoding: "raw", data });
    },
    expect: { code: "protocol", message: /outside 1\.\.262144/, fatal: true },
  },
  {
    name: "content-end whose chunk count lies",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "raw", data });
      a.send({ type: "content-end", hash, chunks: 2, size: data.length });
    },
    expect: { code: "content-mismatch", message: /does not match/, fatal: false },
  },
  {
    name: "content-end whose size lies",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "raw", data });
      a.send({ type: "content-end", hash, chunks: 1, size: data.length + 1 });
    },
    expect: { code: "content-mismatch", message: /does not match/, fatal: false },
  },
  {
    name: "chunks out of order",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send({ type: "content", hash, index: 1, size: data.length, encoding: "raw", data });
    },
    expect: { code: "protocol", message: /chunk 1 out of order/, fatal: true },
  },
  {
    name: "a deflate bomb in an uploaded chunk (64 MiB of zeros declared as 1 KiB)",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send({ type: "content", hash, index: 0, size: 1024, encoding: "deflate", data: BOMB });
    },
    expect: { code: "content-too-large", message: /inflates beyond its declared 1024 bytes/, fatal: false },
  },
  {
    name: "a deflate bomb inline (declared as 100 bytes)",
    attack: (a) => {
      const data = new Uint8Array(100);
      const entry = fileEntry(data);
      a.send({
        type: "propose",
        items: [{ path: "bomb.txt", base: 0, entry, data: { encoding: "deflate", data: BOMB } }],
      });
    },
    expect: { code: "content-too-large", message: /inflates beyond its declared 100 bytes/, fatal: false },
  },
  {
    name: "bytes that are not raw deflate",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      const junk = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "deflate", data: junk });
    },
    expect: { code: "content-mismatch", message: /not valid raw deflate|inflates to/, fatal: false },
  },
  {
    name: "an upload whose content does not match its hash",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      const other = unique("other");
      a.send({ type: "content", hash, index: 0, size: other.length, encoding: "raw", data: other });
      a.send({ type: "content-end", hash, chunks: 1, size: other.length });
    },
    expect: { code: "content-mismatch", message: /uploaded content does not match/, fatal: false },
  },
  {
    name: "inline content that does not match its hash",
    attack: (a) => {
      const p = inlineProposal("mismatch.txt", unique());
      const other = unique();
      a.send({ type: "propose", items: [{ ...p, data: { encoding: "raw", data: other } }] });
    },
    expect: { code: "content-mismatch", message: /inline content does not match its hash/, fatal: false },
  },
  {
    name: "content for an upload the hub never requested",
    attack: (a) => {
      const data = unique();
      const hash = contentHash(data);
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "raw", data });
    },
    expect: { code: "protocol", message: /did not ask for/, fatal: true },
  },
  {
    name: "content-end for an upload the hub never requested",
    attack: (a) => a.send({ type: "content-end", hash: ZERO_HASH, chunks: 0, size: 0 }),
    expect: { code: "protocol", message: /content-end for 0{64} that the hub did not ask for/, fatal: true },
  },
  {
    name: "a fetch of content the hub does not hold",
    attack: (a) => a.send({ type: "fetch", hash: ZERO_HASH }),
    expect: { code: "content-missing", message: /holds no content 0{64}/, fatal: false },
  },
];

/** A live symbolic link entry pointing at `target`. */
function linkEntry(target: unknown) {
  return { kind: "symlink", deleted: false, size: 0, mtimeMs: T0, hash: "", executable: false, target };
}

/** Proposes a link and expects the hub to take it; returns its sequence number. */
async function proposeLink(a: Attacker, path: string, target: string): Promise<number> {
  a.send({ type: "propose", items: [{ path, base: 0, entry: linkEntry(target) }] });
  const ack = await a.next<Extract<Message, { type: "ack" }>>(
    (m) => m.type === "ack" && m.items.some((i) => i.path === path),
    `the ack of ${path}`,
  );
  return ack.items.find((i) => i.path === path)?.seq as number;
}

/** Deletes a link the attacker made, so the folders hold only the honest files again. */
async function deleteLink(a: Attacker, path: string, base: number): Promise<void> {
  const entry = { kind: "symlink", deleted: true, size: 0, mtimeMs: Date.now(), hash: "", executable: false };
  a.send({ type: "propose", items: [{ path, base, entry }] });
  await a.next((m) => m.type === "ack" && m.items.some((i) => i.path === path), `the deletion of ${path}`);
}

let linkSeq = 0;

/** Links that must never be planted in a folder: each is refused on its own, the connection kept. */
const linkCases: Case[] = [
  ...(
    [
      ["an absolute target", "evil-abs", "/etc/passwd", /absolute target/],
      ["an absolute target into the sentinel", "evil-sentinel", "<sentinel>", /absolute target/],
      ["a ../ target that climbs out", "sub/evil-up", "../../sentinel", /leads outside the folder/],
      ["a bare .. at the top", "evil-dotdot", "..", /leads outside the folder/],
      // `up` may be (or become) a link to the folder itself: `..` after it climbs out.
      [
        "a target via an escaping chain (up/../..)",
        "sub/evil-chain",
        "up/../../sentinel",
        /'\.\.' after a name/,
      ],
      ["a Windows drive target", "evil-drive", "C:/Windows", /drive-letter target/],
      ["a backslash target", "evil-backslash", "..\\..\\sentinel", /backslash in the target/],
      ["a NUL in the target", "evil-nul", "ok\u0000/../..", /NUL byte/],
      ["a control character in the target", "evil-esc", "a\u001b[2J", /control character/],
      ["an over-long target (4200 UTF-8 bytes)", "evil-long", "\u00e9".repeat(2100), /target too long/],
      ["a target naming DistSync's state", "evil-state", ".distsync/index-default", /DistSync file/],
    ] as const
  ).map(
    ([name, path, target, reason]): Case => ({
      name: `a link with ${name}`,
      attack: (a) =>
        a.send({
          type: "propose",
          items: [{ path, base: 0, entry: linkEntry(target === "<sentinel>" ? sentinel : target) }],
        }),
      expect: { code: "link-not-allowed", message: reason, fatal: false },
    }),
  ),
  {
    name: "a link with a target that is not a string",
    attack: (a) => a.send({ type: "propose", items: [{ path: "evil-num", base: 0, entry: linkEntry(42) }] }),
    expect: { code: "protocol", message: /field 'target' must be a string/, fatal: true },
  },
  {
    name: "a link with a target above the frame's string limit",
    attack: (a) =>
      a.send({
        type: "propose",
        items: [{ path: "evil-huge", base: 0, entry: linkEntry("x".repeat(5000)) }],
      }),
    expect: { code: "protocol", message: /field 'target' is too long/, fatal: true },
  },
  {
    name: "a file that carries a link target",
    attack: (a) => {
      const p = inlineProposal("evil-file-target.txt");
      a.send({ type: "propose", items: [{ ...p, entry: { ...p.entry, target: "../.." } }] });
    },
    expect: { code: "protocol", message: /only a live symbolic link carries a target/, fatal: true },
  },
  {
    // The link itself is fine (it points inside) and reaches the honest clients; a file below it
    // would be written through it, so the hub refuses that. The attacker then deletes the link.
    name: "a link to a directory inside, then a file proposed below it (link/x)",
    attack: async (a) => {
      // A link to the folder itself: a directory inside.
      const seq = await proposeLink(a, "evil-dir-link", ".");
      const linked = (dir: string) => readlink(nodePath.join(dir, "evil-dir-link")).catch(() => undefined);
      await waitFor(async () => (await linked(dirA)) === "." && (await linked(dirB)) === ".", {
        message: "the honest clients to hold the link as a link",
      });
      a.send({ type: "propose", items: [inlineProposal("evil-dir-link/x.txt")] });
      const error = await a.error();
      expect(error).toMatchObject({ code: "path-conflict", fatal: false, path: "evil-dir-link/x.txt" });
      expect(error.message).toMatch(/a parent of this path is a file or a symbolic link/);
      a.send({ type: "propose", items: [{ path: "evil-dir-link/sub", base: 0, entry: dirEntry }] });
      linkSeq = seq;
    },
    after: async (a) => {
      const linked = (dir: string) => readlink(nodePath.join(dir, "evil-dir-link")).catch(() => undefined);
      await deleteLink(a, "evil-dir-link", linkSeq);
      await waitFor(async () => (await linked(dirA)) === undefined && (await linked(dirB)) === undefined, {
        message: "the link deleted in the honest folders",
      });
      // Nothing was written through it: the folders' tops hold no x.txt or sub.
      for (const dir of [dirA, dirB])
        expect((await readdir(dir)).filter((n) => n === "x.txt" || n === "sub")).toEqual([]);
    },
    expect: {
      code: "path-conflict",
      message: /evil-dir-link\/sub: a parent of this path is a file or a symbolic link/,
      fatal: false,
    },
  },
];

const HELLO = { type: "hello", versions: [1, 1], space: "default", clientId: "x", token: TOKEN };
const helloBytes = encodeMessage(HELLO as unknown as Message);

/** An honest one-page manifest of `data` (one chunk: the files here are small). */
function manifestOf(data: Uint8Array, over: Record<string, unknown> = {}) {
  return {
    type: "manifest",
    hash: contentHash(data),
    size: data.length,
    chunks: 1,
    first: 0,
    count: 1,
    copies: [],
    digests: new Uint8Array(sha256(data)),
    sizes: [data.length],
    ...over,
  };
}

/** A file the hub holds (the honest clients' first file): its content hash. */
function heldHash(): string {
  return contentHash(new TextEncoder().encode(honestFiles.get("hello.txt")));
}

const deltaCases: Case[] = [
  {
    name: "manifests opened for three uploads at once (each holds memory at the hub)",
    attack: async (a) => {
      const files = [unique("m1"), unique("m2"), unique("m3")];
      for (const data of files) await requestUpload(a, data);
      for (const data of files) a.send(manifestOf(data));
    },
    expect: { code: "protocol", message: /more than 2 uploads by manifest at once/, fatal: true },
  },
  {
    name: "a manifest for an upload the hub never requested",
    attack: (a) => a.send(manifestOf(unique())),
    expect: {
      code: "protocol",
      message: /manifest for [0-9a-f]{64} that the hub did not ask for/,
      fatal: true,
    },
  },
  {
    name: "a manifest whose digests do not hash to the content hash",
    attack: async (a) => {
      const data = unique();
      await requestUpload(a, data);
      a.send(manifestOf(data, { digests: new Uint8Array(sha256(unique("other"))) }));
    },
    expect: { code: "content-mismatch", message: /does not hash to it/, fatal: false },
  },
  {
    name: "a manifest whose chunk sizes do not add up to its size",
    attack: async (a) => {
      const data = unique();
      await requestUpload(a, data);
      a.send(manifestOf(data, { sizes: [data.length + 1] }));
    },
    expect: { code: "content-mismatch", message: /add up to/, fatal: false },
  },
  {
    name: "a manifest announcing more chunks than its size can hold",
    attack: async (a) => {
      const data = unique();
      await requestUpload(a, data);
      a.send(manifestOf(data, { chunks: 100_000 }));
    },
    expect: { code: "protocol", message: /chunks cannot hold/, fatal: true },
  },
  {
    name: "a manifest whose digests are not 32 bytes per chunk",
    attack: async (a) => {
      const data = unique();
      await requestUpload(a, data);
      a.send(manifestOf(data, { digests: new Uint8Array(31) }));
    },
    expect: { code: "protocol", message: /32 bytes per position/, fatal: true },
  },
  {
    name: "a manifest copying chunks without a base",
    attack: async (a) => {
      const data = unique();
      await requestUpload(a, data);
      a.send(manifestOf(data, { copies: [[0, 0, 1]], digests: new Uint8Array(0), sizes: [] }));
    },
    expect: { code: "protocol", message: /copies need a base/, fatal: true },
  },
  {
    name: "a manifest copying from a base the hub did not offer",
    attack: async (a) => {
      const data = unique();
      await requestUpload(a, data);
      a.send(
        manifestOf(data, { base: heldHash(), copies: [[0, 0, 1]], digests: new Uint8Array(0), sizes: [] }),
      );
    },
    expect: { code: "protocol", message: /base the hub did not offer/, fatal: true },
  },
  {
    name: "a chunk of a delta upload sent twice (not asked for)",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send(manifestOf(data));
      await a.next((m) => m.type === "need", "a need answer");
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "raw", data });
      a.send({ type: "content", hash, index: 0, size: data.length, encoding: "raw", data });
    },
    expect: { code: "protocol", message: /not asked for or out of order/, fatal: true },
  },
  {
    name: "a chunk of a delta upload that does not match its manifest entry",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send(manifestOf(data));
      await a.next((m) => m.type === "need", "a need answer");
      const other = unique("other");
      a.send({ type: "content", hash, index: 0, size: other.length, encoding: "raw", data: other });
    },
    expect: { code: "content-mismatch", message: /does not match its manifest/, fatal: false },
  },
  {
    name: "content-end of a delta upload before the chunks asked for",
    attack: async (a) => {
      const data = unique();
      const hash = await requestUpload(a, data);
      a.send(manifestOf(data));
      await a.next((m) => m.type === "need", "a need answer");
      a.send({ type: "content-end", hash, chunks: 1, size: data.length });
    },
    expect: { code: "content-mismatch", message: /chunks it asked for are missing/, fatal: false },
  },
  {
    name: "a need message from a client",
    attack: (a) => a.send({ type: "need", hash: ZERO_HASH, ranges: [] }),
    expect: { code: "protocol", message: /may not send 'need'/, fatal: true },
  },
  {
    name: "a fetch of chunks beyond the content's chunks",
    attack: (a) => a.send({ type: "fetch", hash: heldHash(), ranges: [[0, 5]] }),
    expect: { code: "protocol", message: /beyond its 1 chunks/, fatal: true },
  },
  {
    name: "a fetch whose ranges are not ascending",
    attack: (a) =>
      a.send({
        type: "fetch",
        hash: heldHash(),
        ranges: [
          [3, 4],
          [0, 1],
        ],
      }),
    expect: { code: "protocol", message: /ranges must be ascending/, fatal: true },
  },
  {
    name: "a fetch-manifest of content the hub does not hold",
    attack: (a) => a.send({ type: "fetch-manifest", hash: ZERO_HASH }),
    expect: { code: "content-missing", message: /holds no content 0{64}/, fatal: false },
  },
];

const frameCases: Case[] = [
  {
    name: "malformed MessagePack (a string header without its bytes)",
    before: "nothing",
    attack: (a) => a.send(new Uint8Array([0xd9, 0x05, 0x41])),
    expect: { code: "protocol", message: /malformed frame \(3 bytes\)/, fatal: true },
  },
  {
    name: "the never-used MessagePack byte 0xc1",
    before: "nothing",
    attack: (a) => a.send(new Uint8Array([0xc1])),
    expect: { code: "protocol", message: /frame is not a map/, fatal: true },
  },
  {
    name: "a MessagePack extension (a timestamp) in place of the map",
    before: "nothing",
    attack: (a) => a.send(new Uint8Array([0xd6, 0xff, 0x00, 0x00, 0x00, 0x01])),
    expect: { code: "protocol", message: /frame is not a map/, fatal: true },
  },
  {
    name: "a truncated frame",
    before: "nothing",
    attack: (a) => a.send(helloBytes.subarray(0, helloBytes.length - 5)),
    expect: { code: "protocol", message: /malformed frame/, fatal: true },
  },
  {
    name: "trailing bytes after the message",
    before: "nothing",
    attack: (a) => a.send(new Uint8Array([...helloBytes, 0xc0])),
    expect: { code: "protocol", message: /malformed frame/, fatal: true },
  },
  {
    name: "an empty frame",
    before: "nothing",
    attack: (a) => a.send(new Uint8Array()),
    expect: { code: "protocol", message: /malformed frame \(0 bytes\)/, fatal: true },
  },
  {
    name: "a MessagePack value that is not a map",
    attack: (a) => a.send(new Uint8Array([0x93, 0x01, 0x02, 0x03])),
    expect: { code: "protocol", message: /frame is not a map/, fatal: true },
  },
  {
    name: "an unknown message type",
    attack: (a) => a.send({ type: "teleport", to: "/etc" }),
    expect: { code: "protocol", message: /unknown message type "teleport"/, fatal: true },
  },
  {
    name: "a hub-only message type (welcome) from a client",
    attack: (a) =>
      a.send({
        type: "welcome",
        version: 1,
        clientId: "x",
        epoch: "e",
        seq: 0,
        heartbeatMs: 1,
        timeoutMs: 2,
      }),
    expect: { code: "protocol", message: /a client may not send 'welcome'/, fatal: true },
  },
  {
    name: "items that are not an array",
    attack: (a) => a.send({ type: "propose", items: "all of them" }),
    expect: { code: "protocol", message: /field 'items' must be an array/, fatal: true },
  },
  {
    name: "an mtime that is a string",
    attack: (a) => {
      const p = inlineProposal("ok.txt");
      a.send({ type: "propose", items: [{ ...p, entry: { ...p.entry, mtimeMs: "yesterday" } }] });
    },
    expect: { code: "protocol", message: /field 'mtimeMs' must be a number/, fatal: true },
  },
  {
    name: "a negative size",
    attack: (a) => {
      const p = inlineProposal("ok.txt");
      a.send({ type: "propose", items: [{ ...p, entry: { ...p.entry, size: -1 } }] });
    },
    expect: { code: "protocol", message: /field 'size' must be an integer/, fatal: true },
  },
  {
    name: "content data that is a string, not binary",
    attack: (a) =>
      a.send({ type: "content", hash: ZERO_HASH, index: 0, size: 3, encoding: "raw", data: "abc" }),
    expect: { code: "protocol", message: /field 'data' must be binary/, fatal: true },
  },
  {
    name: "an encoding other than raw or deflate",
    attack: (a) =>
      a.send({
        type: "content",
        hash: ZERO_HASH,
        index: 0,
        size: 3,
        encoding: "gzip",
        data: new Uint8Array(3),
      }),
    expect: { code: "protocol", message: /encoding must be 'raw' or 'deflate'/, fatal: true },
  },
  {
    name: "an upper-case hash",
    attack: (a) => a.send({ type: "fetch", hash: "AB".repeat(32) }),
    expect: { code: "protocol", message: /lower-case hex SHA-256/, fatal: true },
  },
  {
    name: "a batch of 513 items (above the protocol's 512)",
    attack: (a) =>
      a.send({
        type: "propose",
        items: Array.from({ length: 513 }, (_, i) => ({ path: `d${i}`, base: 0, entry: dirEntry })),
      }),
    expect: { code: "protocol", message: /at most 512 items/, fatal: true },
  },
  {
    name: "a text WebSocket message",
    before: "nothing",
    attack: (a) => a.socket.send(JSON.stringify(HELLO)),
    expect: { close: 1003 },
  },
  {
    name: "a frame above the hub's maxPayload",
    attack: (a) => a.send(new Uint8Array(MAX_FRAME + 1024)),
    expect: { close: 1009 },
  },
];

const handshakeCases: Case[] = [
  {
    name: "a message before hello",
    before: "nothing",
    attack: (a) => a.send({ type: "propose", items: [inlineProposal("early.txt")] }),
    expect: { code: "protocol", message: /expected 'hello', got 'propose'/, fatal: true },
  },
  {
    name: "a fetch before hello",
    before: "nothing",
    attack: (a) => a.send({ type: "fetch", hash: contentHash(new TextEncoder().encode("hello from a\n")) }),
    expect: { code: "protocol", message: /expected 'hello', got 'fetch'/, fatal: true },
  },
  {
    name: "a second hello",
    attack: (a) => a.send({ ...HELLO, clientId: a.clientId }),
    expect: { code: "protocol", message: /a client may not send 'hello'/, fatal: true },
  },
  {
    // Client ids travel in every delivery: knowing one must not let anyone push that client off.
    name: "a hello with a connected client's id (impersonation)",
    before: "nothing",
    attack: (a) => a.send({ ...HELLO, clientId: clientA.clientId }),
    expect: { code: "client-id-in-use", message: /is connected already/, fatal: true },
  },
  {
    name: "a hello with a connected client's id and a guessed key",
    before: "nothing",
    attack: (a) => a.send({ ...HELLO, clientId: clientB.clientId, key: "0".repeat(32) }),
    expect: { code: "client-id-in-use", message: /is connected already/, fatal: true },
  },
  {
    name: "a wrong token",
    before: "nothing",
    attack: (a) => a.send({ ...HELLO, token: "nope" }),
    expect: { code: "auth-refused", message: /wrong or missing token/, fatal: true },
  },
  {
    name: "no token",
    before: "nothing",
    attack: (a) => {
      const { token: _token, ...rest } = HELLO;
      a.send(rest);
    },
    expect: { code: "auth-refused", message: /wrong or missing token/, fatal: true },
  },
  {
    name: "a protocol version the hub does not speak",
    before: "nothing",
    attack: (a) => a.send({ ...HELLO, versions: [2, 3] }),
    expect: { code: "protocol-version", message: /peer offers 2–3, this side speaks 1–1/, fatal: true },
  },
  {
    name: "versions that are not [min, max]",
    before: "nothing",
    attack: (a) => a.send({ ...HELLO, versions: "1" }),
    expect: { code: "protocol", message: /versions must be \[min, max\]/, fatal: true },
  },
];

/** Makes the deflate bomb once: 64 MiB of zeros, about 64 KiB compressed. */
let BOMB: Uint8Array;
beforeAll(() => {
  BOMB = new Uint8Array(deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }));
});

async function runCase(c: Case): Promise<void> {
  const attacker = await Attacker.open();
  try {
    if (c.before === "hello") await attacker.hello();
    else if (c.before !== "nothing") await attacker.join();
    const started = Date.now();
    await c.attack(attacker);
    if ("close" in c.expect) {
      const closed = await attacker.closed;
      expect(closed.code).toBe(c.expect.close);
    } else {
      const error = await attacker.error();
      expect(error).toMatchObject({ code: c.expect.code, fatal: c.expect.fatal });
      expect(error.message).toMatch(c.expect.message);
      if (c.expect.fatal) {
        const closed = await Promise.race([
          attacker.closed,
          new Promise<undefined>((r) => setTimeout(r, 3000)),
        ]);
        expect(closed, "the hub closes the connection after a fatal error").toBeDefined();
      } else {
        // A non-fatal error leaves the attacker connected and answered.
        await attacker.expectOpen();
      }
    }
    await c.after?.(attacker);
    // No case may keep the hub busy: a deflate bomb, say, costs at most one slice of work.
    expect(Date.now() - started).toBeLessThan(4000);
  } finally {
    attacker.close();
  }
  await expectHubStillServes();
  await expectNothingEscaped();
}

describe("a malicious client against a real hub over WebSocket", () => {
  describe.each([
    ["paths", pathCases],
    ["content and sizes", contentCases],
    ["delta transfer", deltaCases],
    ["frames and fields", frameCases],
    ["the handshake", handshakeCases],
    ["symbolic links", linkCases],
  ] as const)("%s", (_group, cases) => {
    it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
      await runCase(c);
    });
  });

  describe("floods", () => {
    it("200 connections opened at once: each is answered, the hub keeps serving", async () => {
      const sockets = await Promise.all(Array.from({ length: 200 }, () => Attacker.open()));
      try {
        // Half say a valid hello, half send garbage.
        sockets.forEach((s, i) => {
          if (i % 2 === 0) s.send({ ...HELLO, clientId: s.clientId });
          else s.send(new Uint8Array([0xc1, i & 0xff]));
        });
        const answers = await Promise.all(sockets.map((s) => s.next(() => true, "an answer", 15_000)));
        answers.forEach((m, i) => {
          if (i % 2 === 0) expect(m.type).toBe("welcome");
          else expect(m).toMatchObject({ type: "error", code: "protocol", fatal: true });
        });
        await expectHubStillServes();
      } finally {
        for (const s of sockets) s.close();
      }
      await waitFor(() => hub.status().spaces.every((s) => s.clients.length === 2), {
        message: "the flood's sessions to be gone",
      });
      await expectNothingEscaped();
    });

    it("a flood of proposals whose content never comes: nothing is committed, the hub keeps serving", async () => {
      const attacker = await Attacker.open();
      try {
        await attacker.join();
        for (let f = 0; f < 40; f++) {
          attacker.send({
            type: "propose",
            items: Array.from({ length: 512 }, (_, i) => ({
              path: `flood/${f}/${i}.bin`,
              base: 0,
              entry: fileEntry(new Uint8Array(0), {
                size: 1000 + i,
                hash: createHash("sha256").update(`${f}/${i}`).digest("hex"),
              }),
            })),
          });
        }
        await attacker.next(
          (m) => m.type === "upload" && m.path === "flood/39/511.bin",
          "the last upload",
          20_000,
        );
        await attacker.expectOpen();
        await expectHubStillServes();
        expect(hub.entries().some((e) => e.path.startsWith("flood"))).toBe(false);
      } finally {
        attacker.close();
      }
      await expectNothingEscaped();
    });

    it("a flood of garbage frames on one connection ends that connection only", async () => {
      const attacker = await Attacker.open();
      try {
        await attacker.join();
        for (let i = 0; i < 2000; i++) attacker.send(randomBytes(1 + (i % 64)));
        const error = await attacker.error();
        expect(error).toMatchObject({ code: "protocol", fatal: true });
        expect((await attacker.closed).code).toBeGreaterThan(0);
      } finally {
        attacker.close();
      }
      await expectHubStillServes();
      await expectNothingEscaped();
    });
  });
});
