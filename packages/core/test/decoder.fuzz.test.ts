// Fuzzing the frame decoder: random bytes and mutated valid frames of every message type must
// decode to a valid message or fail with the protocol's own errors, and a hub fed them through a
// real (memory) transport must never throw out of its connection handler.
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DistSyncError, PathNotAllowedError, ProtocolError } from "../src/errors.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { decodeMessage, encodeMessage } from "../src/protocol/codec.js";
import type { Message } from "../src/protocol/messages.js";
import { validateMessage } from "../src/protocol/validate-message.js";
import { createHub } from "../src/sync/hub.js";
import type { Connection } from "../src/transport.js";

const HASH = "ab".repeat(32);
const HASH2 = "0123456789abcdef".repeat(4);
const file = {
  kind: "file",
  deleted: false,
  size: 3,
  mtimeMs: 1_767_268_800_000,
  hash: HASH,
  executable: true,
};
const dir = { kind: "directory", deleted: false, size: 0, mtimeMs: 1.5, hash: "", executable: false };
const tomb = { kind: "file", deleted: true, size: 0, mtimeMs: 2, hash: "", executable: false };
const inline = { encoding: "raw", data: new Uint8Array([1, 2, 3]) };

/** One valid message of every type of PROTOCOL.md §6 (several shapes for the batches). */
const VALID: Record<string, unknown>[] = [
  { type: "hello", versions: [1, 1], space: "default", clientId: "c1", name: "laptop", token: "t" },
  { type: "hello", versions: [1, 3], space: "", clientId: "c2" },
  { type: "welcome", version: 1, clientId: "c1", epoch: "e1", seq: 4, heartbeatMs: 1000, timeoutMs: 5000 },
  {
    type: "index",
    items: [
      { path: "a/b.txt", base: 0, entry: file, data: inline },
      { path: "a", base: 2, entry: dir },
      { path: "gone.txt", base: 3, entry: tomb },
    ],
    final: true,
  },
  { type: "index", items: [], final: false },
  { type: "propose", items: [{ path: "x.bin", base: 7, entry: file }] },
  {
    type: "entries",
    items: [
      { path: "x.bin", seq: 9, origin: "c2", entry: file, cause: "change", data: inline },
      { path: "d", seq: 10, origin: "c2", entry: dir, cause: "overruled" },
      { path: "t", seq: 11, origin: "c3", entry: tomb, cause: "lost" },
    ],
  },
  {
    type: "ack",
    items: [
      { path: "x.bin", seq: 9, hash: HASH },
      { path: "d", seq: 10, hash: "", mtimeMs: 5 },
    ],
  },
  { type: "synced", seq: 12 },
  { type: "upload", hash: HASH, path: "x.bin" },
  { type: "fetch", hash: HASH2 },
  { type: "content", hash: HASH, index: 0, size: 3, encoding: "raw", data: new Uint8Array([7, 8, 9]) },
  { type: "content", hash: HASH, index: 2, size: 10, encoding: "deflate", data: new Uint8Array([99, 0]) },
  { type: "content-end", hash: HASH, chunks: 1, size: 3 },
  { type: "content-abort", hash: HASH, reason: "changed while read" },
  { type: "ping", time: 1234.5 },
  { type: "pong", time: 0 },
  { type: "bye" },
  { type: "error", code: "protocol", message: "bad", fatal: true, path: "x", hash: HASH },
];
const VALID_FRAMES = VALID.map((m) => encodeMessage(m as unknown as Message));

// ---------------------------------------------------------------------------------------------
// Arbitraries.

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(frame: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Uint8Array.from(frame);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % (bytes.length + (m.op === "insert" ? 1 : 0));
    switch (m.op) {
      case "flip":
        if (bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << m.bit);
        break;
      case "set":
        if (bytes.length > 0) bytes[at] = m.value;
        break;
      case "truncate":
        bytes = bytes.slice(0, at);
        break;
      case "insert":
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
        break;
      case "delete":
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.count)]);
        break;
    }
  }
  return bytes;
}

/** Values of every MessagePack kind, wrong for most fields. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.uint8Array({ maxLength: 16 }),
  fc.double(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(null, undefined, -1, 0, 2 ** 53, "", "..", "/etc/passwd", "x".repeat(5000), HASH),
);

/** Every field path (`a`, `items.0.entry.size`…) of a message, for swaps and replacements. */
function fieldPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return [prefix];
  const out: string[][] = prefix.length > 0 ? [prefix] : [];
  for (const [key, child] of Object.entries(value)) out.push(...fieldPaths(child, [...prefix, key]));
  return out;
}

function clone(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(clone);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)]));
  return value;
}

function getAt(root: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], root);
}

function setAt(root: unknown, path: readonly string[], value: unknown): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string, unknown>;
  const key = path[path.length - 1] as string;
  if (value === undefined) delete parent[key];
  else parent[key] = value;
}

/** A valid message with fields swapped with each other or replaced by values of any kind. */
const fieldMutated: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.nat(VALID.length - 1),
    fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.nat(), anyValue), { minLength: 1, maxLength: 3 }),
  )
  .map(([index, edits]) => {
    const message = clone(VALID[index]) as Record<string, unknown>;
    for (const [swap, i, j, value] of edits) {
      const paths = fieldPaths(message);
      if (paths.length === 0) continue;
      const a = paths[i % paths.length] as string[];
      const b = paths[j % paths.length] as string[];
      if (swap && !a.join(".").startsWith(b.join(".")) && !b.join(".").startsWith(a.join("."))) {
        const va = getAt(message, a);
        setAt(message, a, getAt(message, b));
        setAt(message, b, va);
      } else {
        setAt(message, a, value);
      }
    }
    return encodeMessage(message as unknown as Message);
  });

const bitMutated: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.nat(VALID_FRAMES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([index, mutations]) => mutate(VALID_FRAMES[index] as Uint8Array, mutations));

const randomFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  // Random bytes behind a map header, so the decoder gets further than the first byte.
  fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.from([0x80 | (b.length % 16), ...b])),
);

const anyFrame = fc.oneof(randomFrame, bitMutated, fieldMutated);

/** Either a message that passes validation (and survives a round trip), or the protocol's own error. */
function checkDecode(frame: Uint8Array): "valid" | "refused" {
  const started = performance.now();
  let message: Message;
  try {
    message = decodeMessage(frame);
  } catch (error) {
    // Paths get their own code (path-not-allowed, §9); everything else is a ProtocolError.
    if (!ProtocolError.isInstance(error) && !PathNotAllowedError.isInstance(error)) {
      throw new Error(`decodeMessage threw ${String(error)} for ${Buffer.from(frame).toString("hex")}`);
    }
    expect(performance.now() - started).toBeLessThan(250);
    return "refused";
  }
  expect(() => validateMessage(message)).not.toThrow();
  // A round trip keeps it valid and unchanged (compared as bytes: Buffer and Uint8Array differ as classes).
  const encoded = Buffer.from(encodeMessage(message)).toString("hex");
  expect(Buffer.from(encodeMessage(decodeMessage(Buffer.from(encoded, "hex")))).toString("hex")).toBe(
    encoded,
  );
  expect(performance.now() - started).toBeLessThan(250);
  return "valid";
}

describe("decodeMessage under fuzzing", () => {
  it("decodes every valid sample", () => {
    for (const frame of VALID_FRAMES) expect(checkDecode(frame)).toBe("valid");
  });

  it.each([
    ["random bytes", randomFrame, 2000],
    ["bit flips, truncation, insertion and deletion of valid frames", bitMutated, 3000],
    ["swapped and replaced fields of valid messages", fieldMutated, 3000],
  ] as const)("%s: a valid message or a ProtocolError, never anything else", (_name, arbitrary, numRuns) => {
    const seen = { valid: 0, refused: 0 };
    fc.assert(
      fc.property(arbitrary, (frame) => {
        seen[checkDecode(frame)]++;
      }),
      { numRuns },
    );
    // The generators reach both outcomes (a fuzzer that only ever produced garbage proves little).
    expect(seen.refused).toBeGreaterThan(numRuns / 10);
    if (arbitrary !== randomFrame) expect(seen.valid).toBeGreaterThan(0);
  });

  it("refuses frames that are not one value: empty, trailing bytes, two messages", () => {
    const hello = VALID_FRAMES[0] as Uint8Array;
    for (const frame of [
      new Uint8Array(),
      Uint8Array.from([...hello, 0xc0]),
      Uint8Array.from([...hello, ...hello]),
    ]) {
      expect(() => decodeMessage(frame)).toThrow(/malformed frame/);
    }
  });
});

describe("a hub fed fuzzed frames through a memory transport", () => {
  const failures: unknown[] = [];
  const onFailure = (error: unknown): void => {
    failures.push(error);
  };
  beforeEach(() => {
    failures.length = 0;
    process.on("unhandledRejection", onFailure);
    process.on("uncaughtException", onFailure);
  });
  afterEach(() => {
    process.off("unhandledRejection", onFailure);
    process.off("uncaughtException", onFailure);
  });

  /** Resolves with what the hub answered on `connection` until it closed or went quiet. */
  function collect(connection: Connection): { frames: Message[]; closed: Promise<void> } {
    const frames: Message[] = [];
    connection.on("message", (frame) => frames.push(decodeMessage(frame)));
    const closed = new Promise<void>((resolve) => connection.on("close", () => resolve()));
    return { frames, closed };
  }

  async function expectWelcome(transport: { connect(): Promise<Connection> }): Promise<void> {
    const connection = await transport.connect();
    const { frames } = collect(connection);
    await connection.send(VALID_FRAMES[0] as Uint8Array);
    for (let i = 0; i < 200 && !frames.some((m) => m.type === "welcome"); i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(frames.map((m) => m.type)).toContain("welcome");
    await connection.close();
  }

  it("never throws out of the connection handler, and still welcomes a valid hello", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({
      transport: network.hubTransport(),
      heartbeat: { intervalMs: 1000, timeoutMs: 60_000 },
    });
    const hubErrors: DistSyncError[] = [];
    hub.on("error", (error) => hubErrors.push(error));
    await hub.start();
    const transport = network.clientTransport();
    let answered = 0;
    let closedByHub = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(anyFrame, { minLength: 1, maxLength: 4 }),
        async (helloFirst, frames) => {
          runs++;
          const connection = await transport.connect();
          const { frames: answers, closed } = collect(connection);
          if (helloFirst) await connection.send(VALID_FRAMES[0] as Uint8Array);
          for (const frame of frames) await connection.send(frame).catch(() => {});
          // A frame that does not decode is answered with a fatal error and the connection closed
          // (unless an earlier frame closed it already).
          const undecodable = frames.some((f) => {
            try {
              decodeMessage(f);
              return false;
            } catch {
              return true;
            }
          });
          const ended = await Promise.race([
            closed.then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), undecodable ? 1000 : 2)),
          ]);
          if (undecodable) {
            expect(ended, "the hub closes a connection that sent an undecodable frame").toBe(true);
            closedByHub++;
          }
          if (answers.length > 0) answered++;
          for (const m of answers) if (m.type === "error") expect(typeof m.code).toBe("string");
          await connection.close();
        },
      ),
      { numRuns: 1500 },
    );
    expect(runs).toBe(1500);
    expect(answered).toBeGreaterThan(runs / 2);
    expect(closedByHub).toBeGreaterThan(runs / 2);
    await expectWelcome(transport);
    expect(failures).toEqual([]);
    expect(hubErrors).toEqual([]);
    await hub.stop();
  });
});
