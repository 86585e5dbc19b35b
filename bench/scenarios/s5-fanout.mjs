// S5 fanout: one writing client, `clients` receiving clients, all on one hub. The receivers share
// processes (`distsync sync d1 d2 … --server URL` runs each folder as its own client) so that 50
// clients fit on a 2-core machine: `processes` processes × clients/processes folders. Per sample a
// 1 KiB file is written; propagation is the time until each receiver's `applied` event.
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startCli } from "../lib/cli-process.mjs";
import { startHub } from "../lib/start-hub.mjs";
import { summarize } from "../lib/stats.mjs";
import { TARGETS } from "../lib/targets.mjs";
import { waitUntil } from "../lib/wait-until.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runS5({ base, clients, processes: processCount, samples }) {
  const perProcess = Math.ceil(clients / processCount);
  const result = {
    description: `one writer, ${clients} receiving clients (${processCount} processes × ${perProcess} folders): propagation of a 1 KiB file`,
    unit: "ms",
    clients,
    processes: processCount,
    foldersPerProcess: perProcess,
  };
  const { hub, url } = await startHub();
  const all = [hub];
  try {
    const writerDir = join(base, "s5", "writer");
    await mkdir(writerDir, { recursive: true });
    const writer = startCli(["sync", writerDir, "--server", url], { label: "writer" });
    all.push(writer);
    await writer.next((e) => e.event === "ready", 10_000, "ready event");
    const groups = [];
    for (let p = 0; p < processCount; p++) {
      const dirs = [];
      for (let i = p * perProcess; i < Math.min(clients, (p + 1) * perProcess); i++) {
        const dir = join(base, "s5", `c${String(i).padStart(2, "0")}`);
        await mkdir(dir, { recursive: true });
        dirs.push(dir);
      }
      const proc = startCli(["sync", ...dirs, "--server", url], { label: `receivers ${p + 1}` });
      all.push(proc);
      groups.push({ proc, dirs });
    }
    const readyCount = () =>
      groups.reduce((n, g) => n + g.proc.events.filter((e) => e.event === "ready").length, 0);
    await waitUntil(() => readyCount() >= clients, {
      timeoutMs: 30_000,
      describe: () => `${readyCount()} of ${clients} receivers ready`,
      processes: all,
    });
    const perClient = [];
    const slowest = [];
    for (let i = 0; i < samples; i++) {
      const name = `s5-${i}.txt`;
      const since = performance.now();
      const arrivals = [];
      const stops = groups.map((g) =>
        g.proc.on((e) => {
          if (e.event === "applied" && e.path === name && e.op === "write") arrivals.push(e.at - since);
        }),
      );
      await writeFile(join(writerDir, name), randomBytes(1024));
      try {
        await waitUntil(() => arrivals.length >= clients, {
          timeoutMs: 15_000,
          describe: () => `sample ${i + 1}: ${arrivals.length} of ${clients} receivers applied ${name}`,
          processes: all,
        });
      } finally {
        for (const stop of stops) stop();
      }
      perClient.push(...arrivals);
      slowest.push(Math.max(...arrivals));
      await sleep(50);
    }
    result.samples = samples;
    result.perClient = summarize(perClient);
    result.slowestClient = summarize(slowest);
    result.meetsP95 = result.perClient.p95 <= TARGETS.S5.p95Ms;
  } catch (error) {
    result.failed = error instanceof Error ? error.message : String(error);
  } finally {
    await Promise.all(all.map((p) => p.stop()));
  }
  return result;
}
