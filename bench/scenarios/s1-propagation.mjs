// S1 propagation: one hub, three clients; one client creates, modifies and deletes a 1 KiB file;
// the time until both other clients have applied it (their JSON `applied` events), per operation.
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startCli } from "../lib/cli-process.mjs";
import { startHub } from "../lib/start-hub.mjs";
import { summarize } from "../lib/stats.mjs";
import { waitForApplied } from "../lib/wait-for-applied.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `{ create, modify, delete }`, each `{ samples, p50, p95, max }` in ms. */
export async function runS1({ base, samples }) {
  const { hub, url } = await startHub();
  const processes = [hub];
  try {
    const dirs = ["writer", "r1", "r2"].map((n) => join(base, "s1", n));
    const clients = [];
    for (const dir of dirs) {
      await mkdir(dir, { recursive: true });
      const c = startCli(["sync", dir, "--server", url], { label: `client ${dir}` });
      processes.push(c);
      await c.next((e) => e.event === "ready", 10_000, "ready event");
      clients.push(c);
    }
    const [, r1, r2] = clients;
    const results = { create: [], modify: [], delete: [] };
    for (let i = 0; i < samples; i++) {
      const name = `s1-${i}.bin`;
      const file = join(dirs[0], name);
      for (const op of ["create", "modify", "delete"]) {
        const since = performance.now();
        const expected = op === "delete" ? "delete" : "write";
        const arrived = Promise.all(
          [r1, r2].map((c) => waitForApplied(c, { path: name, op: expected, since, timeoutMs: 10_000 })),
        );
        if (op === "delete") await rm(file);
        else await writeFile(file, randomBytes(1024));
        const events = await arrived;
        results[op].push(Math.max(...events.map((e) => e.at)) - since);
        await sleep(30);
      }
    }
    return {
      create: summarize(results.create),
      modify: summarize(results.modify),
      delete: summarize(results.delete),
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
}
