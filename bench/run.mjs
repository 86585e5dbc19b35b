#!/usr/bin/env node
// `pnpm bench [--quick] [--samples N]`: benchmarks that drive the real `distsync` CLI over
// loopback, print a table and write bench/results/<date>.json. A run without --quick also writes
// apps/docs/docs/benchmarks/latest.json (committed): the figures the docs' benchmarks page shows.
//
// S1 propagation: one hub, three clients; one client creates, modifies and deletes a 1 KiB file;
// the time until both other clients have applied it (their JSON `applied` events), per operation.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "packages/cli/dist/index.js");
const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, samples: { type: "string" } },
});
const samples = Number(values.samples ?? (values.quick ? 10 : 30));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Spawns the CLI with --json and collects its events. */
function start(args) {
  const child = spawn(process.execPath, [cli, ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  const events = [];
  const waiters = [];
  let buffer = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text) => {
    buffer += text;
    let nl = buffer.indexOf("\n");
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf("\n");
      try {
        const event = { ...JSON.parse(line), at: performance.now() };
        events.push(event);
        for (const w of [...waiters]) if (w.test(event)) w.resolve(event);
      } catch {}
    }
  });
  child.stderr.resume();
  const next = (test, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const found = events.find(test);
      if (found) return resolve(found);
      const w = {
        test,
        resolve: (e) => {
          clearTimeout(t);
          waiters.splice(waiters.indexOf(w), 1);
          resolve(e);
        },
      };
      const t = setTimeout(() => reject(new Error(`timed out waiting in ${args.join(" ")}`)), timeoutMs);
      waiters.push(w);
    });
  return { child, events, next };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function s1() {
  const base = await mkdtemp(join(tmpdir(), "distsync-bench-"));
  const hub = start(["serve", "--port", "0"]);
  const { url } = await hub.next((e) => e.event === "listening");
  const dirs = ["writer", "r1", "r2"].map((n) => join(base, n));
  const clients = [];
  for (const dir of dirs) {
    await mkdir(dir);
    const c = start(["sync", dir, "--server", url]);
    await c.next((e) => e.event === "ready");
    clients.push(c);
  }
  const [, r1, r2] = clients;
  const results = { create: [], modify: [], delete: [] };
  for (let i = 0; i < samples; i++) {
    const name = `s1-${i}.bin`;
    const file = join(dirs[0], name);
    for (const op of ["create", "modify", "delete"]) {
      const expected = op === "delete" ? "delete" : "write";
      const since = performance.now();
      const arrived = Promise.all(
        [r1, r2].map((c) =>
          c.next((e) => e.event === "applied" && e.path === name && e.op === expected && e.at >= since),
        ),
      );
      if (op === "delete") await rm(file);
      else await writeFile(file, randomBytes(1024));
      const events = await arrived;
      results[op].push(Math.max(...events.map((e) => e.at)) - since);
      await sleep(30);
    }
  }
  for (const c of [...clients, hub]) c.child.kill("SIGINT");
  await sleep(200);
  await rm(base, { recursive: true, force: true });
  const summary = {};
  for (const [op, list] of Object.entries(results)) {
    const sorted = [...list].sort((a, b) => a - b);
    summary[op] = {
      samples: sorted.length,
      p50: +percentile(sorted, 50).toFixed(1),
      p95: +percentile(sorted, 95).toFixed(1),
      max: +sorted[sorted.length - 1].toFixed(1),
    };
  }
  return summary;
}

const started = new Date();
console.log(
  `distsync bench${values.quick ? " --quick" : ""}: S1 propagation, ${samples} samples per operation`,
);
const s1Result = await s1();
console.log(
  "\nS1 propagation of a 1 KiB file to two other clients (ms, loopback WebSocket, real CLI processes)",
);
console.log("op        p50      p95      max");
for (const [op, r] of Object.entries(s1Result)) {
  console.log(
    `${op.padEnd(8)}${String(r.p50).padStart(6)}${String(r.p95).padStart(9)}${String(r.max).padStart(9)}`,
  );
}
const report = {
  date: started.toISOString(),
  quick: values.quick,
  samples,
  command: `pnpm bench${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
  node: process.version,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    os: `${process.platform} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    network: "loopback (127.0.0.1)",
  },
  scenarios: {
    S1: {
      description: "1 KiB file created, modified, deleted on one client until applied on two others",
      unit: "ms",
      ...s1Result,
    },
  },
  notImplemented: ["S2", "S3", "S4", "S5", "S6", "rsync comparison"],
};
await mkdir(join(root, "bench/results"), { recursive: true });
const out = join(root, "bench/results", `${started.toISOString().slice(0, 19).replace(/:/g, "-")}.json`);
await writeFile(out, toJson(report));
console.log(`\nwrote ${out.slice(root.length + 1)}`);
// Quick runs (CI) have too few samples to publish: only a full run replaces the docs' figures.
if (!values.quick) {
  const latest = join(root, "apps/docs/docs/benchmarks/latest.json");
  await mkdir(dirname(latest), { recursive: true });
  await writeFile(latest, toJson(report));
  console.log(`wrote ${latest.slice(root.length + 1)} (the figures on the docs' benchmarks page)`);
}

/** JSON as Biome formats it (latest.json is committed and linted): short arrays on one line. */
function toJson(value) {
  const text = JSON.stringify(value, null, 2).replace(/\[[^[\]{}]*\]/g, (array) => {
    const line = `[${JSON.parse(array)
      .map((item) => JSON.stringify(item))
      .join(", ")}]`;
    return line.length <= 80 ? line : array;
  });
  return `${text}\n`;
}
