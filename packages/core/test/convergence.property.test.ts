import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashBytes } from "../src/content/read-content.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { type Client, createClient } from "../src/sync/client.js";
import { beats } from "../src/sync/decide.js";
import { createHub, type HubConflict } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { ClientId, IndexEntry, RelPath } from "../src/types.js";

/**
 * Property: whatever 3–5 clients do, in whatever interleaving, with random delays, joins and leaves
 * and concurrent edits of the same paths, once everything is quiet every folder equals the hub's
 * index, every clash was won by the version rule 3 names, and no change came back to its origin.
 *
 * Runs: DISTSYNC_PROPERTY_RUNS (default 200). A failure prints fast-check's seed and path; rerun with
 * DISTSYNC_PROPERTY_SEED=<seed> DISTSYNC_PROPERTY_PATH=<path> to replay the same operations and the
 * same network jitter (hashing runs on a thread pool, so scheduling is not bit-for-bit identical).
 */

const RUNS = Number(process.env.DISTSYNC_PROPERTY_RUNS ?? 200);
const SEED = process.env.DISTSYNC_PROPERTY_SEED ? Number(process.env.DISTSYNC_PROPERTY_SEED) : undefined;
const PATH = process.env.DISTSYNC_PROPERTY_PATH;

const FILES = ["a.txt", "b.txt", "d/c.txt", "d/e/f.txt", "g/h.bin"] as const;
const DIRS = ["d", "d/e", "g", "empty", "empty/inner"] as const;
const T0 = Date.UTC(2026, 5, 1);

type Op =
  | { kind: "write"; client: number; path: string; text: string; mtime: number; executable: boolean }
  | { kind: "delete"; client: number; path: string }
  | { kind: "mkdir"; client: number; path: string }
  | { kind: "rmdir"; client: number; path: string }
  | { kind: "rename"; client: number; from: string; to: string }
  | { kind: "leave"; client: number }
  | { kind: "join"; client: number };

const clientIndex = (n: number) => fc.integer({ min: 0, max: n - 1 });

function opArb(n: number): fc.Arbitrary<Op> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("write" as const),
        client: clientIndex(n),
        path: fc.constantFrom(...FILES),
        text: fc.constantFrom("alpha", "beta", "gamma", "delta", ""),
        // A small range of mtimes makes ties and out-of-order clocks common.
        mtime: fc.integer({ min: 0, max: 6 }).map((m) => T0 + m * 1000),
        executable: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("delete" as const),
        client: clientIndex(n),
        path: fc.constantFrom(...FILES),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("mkdir" as const),
        client: clientIndex(n),
        path: fc.constantFrom(...DIRS),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("rmdir" as const),
        client: clientIndex(n),
        path: fc.constantFrom(...DIRS),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("rename" as const),
        client: clientIndex(n),
        from: fc.constantFrom(...FILES),
        to: fc.constantFrom(...FILES),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("leave" as const), client: clientIndex(n) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("join" as const), client: clientIndex(n) }) },
  );
}

const scenarioArb = fc.integer({ min: 3, max: 5 }).chain((n) =>
  fc.record({
    clients: fc.constant(n),
    // Each client starts after a random number of operations.
    joinAt: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: n, maxLength: n }),
    ops: fc.array(fc.tuple(opArb(n), fc.integer({ min: 0, max: 12 })), { minLength: 4, maxLength: 18 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  }),
);

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Member {
  fs: MemoryFileSystem;
  client: Client | undefined;
  id: string;
}

async function folderMatchesIndex(fs: MemoryFileSystem, index: IndexEntry[]): Promise<string | undefined> {
  const snapshot = fs.snapshot();
  const live = index.filter((e) => !e.deleted);
  for (const e of live) {
    const got = snapshot.get(e.path);
    if (!got) return `missing ${e.path}`;
    if (got.kind !== e.kind) return `${e.path} is a ${got.kind}, hub says ${e.kind}`;
    if (e.kind === "file") {
      if ((await hashBytes(got.content ?? new Uint8Array())) !== e.hash) return `${e.path} content differs`;
      if (got.mtimeMs !== e.mtimeMs) return `${e.path} mtime ${got.mtimeMs} vs ${e.mtimeMs}`;
      if (got.executable !== e.executable) return `${e.path} exec bit differs`;
    }
  }
  const livePaths = new Set(live.map((e) => e.path));
  for (const path of snapshot.keys()) if (!livePaths.has(path as RelPath)) return `extra ${path}`;
  return undefined;
}

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

async function runScenario(scenario: Scenario): Promise<void> {
  const network = createMemoryNetwork({ latencyMs: 1, jitterMs: 4, random: seeded(scenario.seed) });
  const hub = createHub({
    transport: network.hubTransport(),
    heartbeat: { intervalMs: 200, timeoutMs: 3000 },
  });
  const conflicts: HubConflict[] = [];
  hub.on("conflict", (c) => conflicts.push(c));
  await hub.start();
  const members: Member[] = Array.from({ length: scenario.clients }, (_, i) => ({
    fs: new MemoryFileSystem(),
    client: undefined,
    id: `client-${i}`,
  }));
  const echoes: string[] = [];
  const trace: string[] = [];
  hub.on("change", (_s, e) =>
    trace.push(
      `HUB commit ${e.path} seq=${e.seq} del=${e.deleted} ${e.hash.slice(0, 6)} mtime=${e.mtimeMs} by ${e.origin}`,
    ),
  );
  const join = async (m: Member) => {
    if (m.client) return;
    const client = createClient({
      transport: network.clientTransport(),
      fs: m.fs,
      clientId: m.id,
      settleMs: 3,
      deleteSettleMs: 10,
    });
    client.on("change-sent", (c) => trace.push(`${m.id} sent ${c.path} ${c.op} seq=${c.seq}`));
    client.on("error", (e) => trace.push(`${m.id} ERROR ${e.code} ${e.message}`));
    client.on("conflict", (c) => trace.push(`${m.id} conflict ${c.path} ${JSON.stringify(c)}`));
    client.on("change-applied", (c) => {
      trace.push(`${m.id} applied ${c.path} ${c.op} seq=${c.seq} from ${c.origin} (${c.cause})`);
      // Relays never go back to their origin; `current`/`lost` answers may carry our own old version.
      if (c.origin === m.id && (c.cause === "change" || c.cause === "overruled"))
        echoes.push(`${m.id} got its own change back: ${c.path}`);
    });
    m.client = client;
    // A start that never settles is a bug; fail with the client's state rather than hang.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `start() of ${m.id} hung: ${JSON.stringify(client.status())} ${JSON.stringify((client as unknown as { _pendingDetail(): unknown })._pendingDetail())}\n${trace.join("\n")}`,
            ),
          ),
        20_000,
      );
    });
    try {
      await Promise.race([client.start().catch(() => {}), stuck]);
    } finally {
      clearTimeout(timer);
    }
  };
  const leave = async (m: Member) => {
    const client = m.client;
    m.client = undefined;
    await client?.stop();
  };
  try {
    for (let step = 0; step < scenario.ops.length; step++) {
      for (let i = 0; i < members.length; i++) {
        if (scenario.joinAt[i] === step) await join(members[i] as Member);
      }
      const [op, delay] = scenario.ops[step] as [Op, number];
      const m = members[op.client] as Member;
      const snap = m.fs.snapshot();
      switch (op.kind) {
        case "write":
          if (parentIsFile(snap, op.path)) break;
          if (snap.get(op.path)?.kind === "directory") break;
          trace.push(`${m.id} OP write ${op.path} ${op.text} mtime=${op.mtime}`);
          m.fs.put(op.path, op.text, { mtimeMs: op.mtime, executable: op.executable });
          break;
        case "delete":
          trace.push(`${m.id} OP delete ${op.path}`);
          if (snap.get(op.path)?.kind === "file") m.fs.delete(op.path);
          break;
        case "mkdir":
          if (!snap.has(op.path) && !parentIsFile(snap, op.path)) m.fs.mkdirp(op.path);
          break;
        case "rmdir":
          trace.push(`${m.id} OP rmdir ${op.path}`);
          if (snap.get(op.path)?.kind === "directory") m.fs.delete(op.path);
          break;
        case "rename": {
          const from = snap.get(op.from);
          if (op.from === op.to || from?.kind !== "file" || snap.has(op.to) || parentIsFile(snap, op.to))
            break;
          m.fs.put(op.to, from.content ?? new Uint8Array(), {
            mtimeMs: from.mtimeMs,
            executable: from.executable,
          });
          m.fs.delete(op.from);
          break;
        }
        case "leave":
          trace.push(`${m.id} OP leave`);
          await leave(m);
          break;
        case "join":
          trace.push(`${m.id} OP join`);
          await join(m);
          break;
      }
      await sleep(delay);
    }
    for (const m of members) await join(m);
    // Quiescence: every folder equals the hub's index, and stays so.
    let problem: string | undefined;
    await waitFor(
      async () => {
        if (members.some((m) => (m.client?.status().pending ?? 1) > 0)) return false;
        const index = hub.entries();
        for (const m of members) {
          problem = await folderMatchesIndex(m.fs, index);
          if (problem) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, message: "convergence" },
    ).catch((error: Error) => {
      if (process.env.DISTSYNC_DEBUG) {
        console.log(
          "HUB",
          JSON.stringify(hub.entries().map((e) => [e.path, e.deleted, e.seq, e.origin, e.mtimeMs])),
        );
        for (const m of members)
          console.log(
            m.id,
            JSON.stringify([...m.fs.snapshot().keys()]),
            m.client?.status(),
            JSON.stringify(
              (m.client as unknown as { _pendingDetail(): unknown } | undefined)?._pendingDetail(),
            ),
          );
        const bad = problem?.split(" ").find((w) => w.includes("."));
        const parts = bad?.split("/") ?? [];
        const ancestors = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
        const related = (t: string) =>
          !bad ||
          t.includes(bad) ||
          t.includes("ERROR") ||
          t.includes("OP leave") ||
          t.includes("OP join") ||
          ancestors.some((a) => t.endsWith(` ${a}`) || t.includes(` ${a} `));
        console.log(trace.filter(related).join("\n"));
        for (const m of members)
          console.log(
            m.id,
            "record",
            JSON.stringify((m.client as unknown as { _record(p: string): unknown })?._record(bad ?? "")),
          );
      }
      throw new Error(`${error.message}: ${problem}`);
    });
    const seq = hub.status().spaces[0]?.seq ?? 0;
    await sleep(60);
    expect(hub.status().spaces[0]?.seq ?? 0, "changes kept flowing after convergence (echo)").toBe(seq);
    expect(echoes).toEqual([]);
    for (const c of conflicts) {
      const winner = { ...c.winner, kind: "file" as const, deleted: false, size: 0, executable: false };
      const loser = { ...c.loser, kind: "file" as const, deleted: false, size: 0, executable: false };
      const ok = beats(
        { ...winner, hash: winner.hash as never },
        c.winner.origin as ClientId,
        { ...loser, hash: loser.hash as never },
        c.loser.origin as ClientId,
      );
      const independent =
        c.winner.mtimeMs !== c.loser.mtimeMs
          ? c.winner.mtimeMs > c.loser.mtimeMs
          : c.winner.hash !== c.loser.hash
            ? c.winner.hash > c.loser.hash
            : c.winner.origin > c.loser.origin;
      expect(ok && independent, `clash on ${c.path} won by the wrong version: ${JSON.stringify(c)}`).toBe(
        true,
      );
    }
  } finally {
    await Promise.all(members.map((m) => leave(m)));
    await hub.stop();
  }
}

function parentIsFile(snap: Map<string, { kind: string }>, path: string): boolean {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    if (snap.get(parts.slice(0, i).join("/"))?.kind === "file") return true;
  }
  return false;
}

let casesRun = 0;

describe("convergence (property-based, fast-check)", () => {
  it(
    `converges after random interleavings: ${RUNS} cases`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (scenario) => {
          casesRun++;
          await runScenario(scenario);
        }),
        { numRuns: RUNS, seed: SEED, path: PATH, endOnFailure: true, verbose: 1 },
      );
      console.log(`convergence: ${casesRun} cases run`);
      expect(casesRun).toBeGreaterThanOrEqual(RUNS);
    },
    30 * 60_000,
  );
});
