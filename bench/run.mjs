#!/usr/bin/env node
// `pnpm bench [--quick] [--samples N] [--only S2,S3] [--no-rsync] [size flags]`: benchmarks that
// drive the real `distsync` CLI over loopback (127.0.0.1), print a table per scenario with the
// issue's targets next to the figures, and write bench/results/<date>.json. A run without --quick
// also writes apps/docs/docs/benchmarks/latest.json (committed): the figures the docs page shows.
// No target is asserted: unmet ones are reported as "not met", failures as "failed: …".
//
//   S1 propagation (1 KiB create/modify/delete, 3 clients)   scenarios/s1-propagation.mjs
//   S2 initial sync of many small files into an empty client  scenarios/s2-initial-sync.mjs
//   S3 a large incompressible file, a large text file         scenarios/s3-large-files.mjs
//   S4 small edits of S3's file: bytes on the wire            scenarios/s4-small-edits.mjs
//   S5 fanout to many clients                                 scenarios/s5-fanout.mjs
//   S6 CPU and peak RSS of every process in S2 and S3         scenarios/s6-resources.mjs
// Where rsync is installed, S2–S4 also run against an rsync daemon on loopback.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { cleanup } from "./lib/cleanup.mjs";
import { MiB } from "./lib/format.mjs";
import { startLargeFileSession } from "./lib/large-file-session.mjs";
import { printScenario } from "./lib/print-scenario.mjs";
import { repoRoot } from "./lib/repo-root.mjs";
import { hasRsync, startRsyncDaemon } from "./lib/rsync-daemon.mjs";
import { TARGETS } from "./lib/targets.mjs";
import { startTcpCounter } from "./lib/tcp-counter.mjs";
import { toJson } from "./lib/to-json.mjs";
import { runS1 } from "./scenarios/s1-propagation.mjs";
import { runS2 } from "./scenarios/s2-initial-sync.mjs";
import { runS3 } from "./scenarios/s3-large-files.mjs";
import { runS4 } from "./scenarios/s4-small-edits.mjs";
import { runS5 } from "./scenarios/s5-fanout.mjs";
import { collectS6 } from "./scenarios/s6-resources.mjs";

const ALL = ["S1", "S2", "S3", "S4", "S5", "S6"];
const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    samples: { type: "string" },
    only: { type: "string" },
    "no-rsync": { type: "boolean", default: false },
    files: { type: "string" },
    "big-mib": { type: "string" },
    "text-mib": { type: "string" },
    clients: { type: "string" },
    processes: { type: "string" },
  },
});
const quick = values.quick;
const number = (flag, full, small) => Number(values[flag] ?? (quick ? small : full));
// The quick sizes keep every scenario but make the whole run short enough for CI (~1 minute).
const params = {
  samples: number("samples", 30, 10),
  files: number("files", 10_000, 500),
  dirs: quick ? 20 : 100,
  fileSize: 4096,
  bigBytes: number("big-mib", 1024, 32) * MiB,
  textBytes: number("text-mib", 512, 16) * MiB,
  clients: number("clients", 50, 10),
  processes: number("processes", 5, 2),
};
const selected = values.only ? values.only.split(",").map((s) => s.trim().toUpperCase()) : ALL;
const unknown = selected.filter((s) => !ALL.includes(s));
if (unknown.length > 0) {
  console.error(`bench: unknown scenario ${unknown.join(", ")} (have ${ALL.join(", ")})`);
  process.exit(2);
}
// S4 edits the file S3 transferred, and S6 reports the processes of S2 and S3.
const wanted = new Set(selected);
if (wanted.has("S4")) wanted.add("S3");
if (wanted.has("S6")) for (const s of ["S2", "S3"]) wanted.add(s);
const useRsync = !values["no-rsync"] && hasRsync();

cleanup.install();
const started = new Date();
const runStart = performance.now();
const base = cleanup.trackDir(await mkdtemp(join(tmpdir(), "distsync-bench-")));
// The children's own temp files (a hub without --state-dir keeps content in a temp dir) go inside
// the run's dir, so they are removed with it even when a child is killed.
const childTmp = join(base, "tmp");
await mkdir(childTmp);
process.env.TMPDIR = childTmp;
console.log(
  `distsync bench${quick ? " --quick" : ""}: ${[...wanted].sort().join(", ")}; ` +
    `rsync comparison ${useRsync ? "on" : hasRsync() ? "off (--no-rsync)" : "off (no rsync on PATH)"}`,
);
const scenarios = {};
let rsyncFailed;
try {
  let rsync;
  if (useRsync && (wanted.has("S2") || wanted.has("S3"))) {
    // One daemon for the run, reached through a byte-counting relay like the DistSync clients.
    // A daemon that will not start costs the comparison, not the run.
    try {
      const moduleDir = join(base, "rsync-module");
      await mkdir(moduleDir);
      const daemon = await startRsyncDaemon(moduleDir, base);
      const wire = await startTcpCounter(daemon.port);
      rsync = {
        moduleDir,
        wire,
        url: () => daemon.url(wire.port),
        stop: () => Promise.all([wire.close(), daemon.stop()]),
      };
    } catch (error) {
      rsyncFailed = error instanceof Error ? error.message : String(error);
      console.log(`rsync comparison failed: ${rsyncFailed}`);
    }
  }
  const step = async (id, fn) => {
    if (!wanted.has(id)) return;
    const t = performance.now();
    try {
      scenarios[id] = await fn();
    } catch (error) {
      scenarios[id] = { failed: error instanceof Error ? error.message : String(error) };
    }
    printScenario(id, scenarios[id]);
    console.log(`  (${id} took ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  };
  await step("S1", async () => ({
    description: "1 KiB file created, modified, deleted on one client until applied on two others",
    unit: "ms",
    ...(await runS1({ base, samples: params.samples })),
  }));
  await step("S2", () =>
    runS2({ base, files: params.files, dirs: params.dirs, size: params.fileSize, rsync }),
  );
  if (wanted.has("S3")) {
    let session;
    await step("S3", async () => {
      session = await startLargeFileSession(base);
      return runS3(session, { bigBytes: params.bigBytes, textBytes: params.textBytes, rsync });
    });
    await step("S4", async () => {
      const big = scenarios.S3?.items?.[0];
      if (!session || !big?.distsync?.verified) {
        return { failed: "S3's large file never reached the reader, so there is nothing to edit" };
      }
      return runS4(session, { bigBytes: params.bigBytes, rsync });
    });
    await session?.close();
  }
  await step("S5", () =>
    runS5({ base, clients: params.clients, processes: params.processes, samples: params.samples }),
  );
  await step("S6", async () => collectS6(scenarios));
  await rsync?.stop();
} finally {
  await cleanup.runAll();
}

const seconds = ((performance.now() - runStart) / 1000).toFixed(1);
const report = {
  date: started.toISOString(),
  quick,
  samples: params.samples,
  command: `pnpm bench${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
  node: process.version,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    os: `${process.platform} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    network: "loopback (127.0.0.1)",
  },
  durationSeconds: Number(seconds),
  params,
  rsync: useRsync && !rsyncFailed,
  ...(rsyncFailed ? { rsyncFailed } : {}),
  targets: TARGETS,
  scenarios,
};
await mkdir(join(repoRoot, "bench/results"), { recursive: true });
const out = join(repoRoot, "bench/results", `${started.toISOString().slice(0, 19).replace(/:/g, "-")}.json`);
await writeFile(out, toJson(report));
console.log(`\nthe run took ${seconds} s; wrote ${out.slice(repoRoot.length + 1)}`);
// Quick runs (CI) have too few samples and small sizes: only a full run replaces the docs' figures.
if (!quick && !values.only) {
  const latest = join(repoRoot, "apps/docs/docs/benchmarks/latest.json");
  await mkdir(dirname(latest), { recursive: true });
  await writeFile(latest, toJson(report));
  console.log(`wrote ${latest.slice(repoRoot.length + 1)} (the figures on the docs' benchmarks page)`);
}
