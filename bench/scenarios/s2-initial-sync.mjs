// S2 initial sync: a client starts on a seeded tree (files × size in `dirs` directories) and
// uploads it to an empty hub; then an empty client starts and downloads all of it. Measured: the
// seeding client's index+upload time (until the hub has committed every file) and the empty
// client's time from spawn to its `ready` with every file written, checked byte for byte. Where
// rsync exists the same tree is pushed to an rsync daemon, and `cp -a` gives a local floor.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { startCli } from "../lib/cli-process.mjs";
import { runCommand } from "../lib/run-command.mjs";
import { startHub } from "../lib/start-hub.mjs";
import { TARGETS } from "../lib/targets.mjs";
import { treeDigest } from "../lib/tree-digest.mjs";
import { waitUntil } from "../lib/wait-until.mjs";
import { writeTree } from "../lib/write-tree.mjs";

/** Runs S2; returns its report entry, with `resources` (per process, for S6) when DistSync ran. */
export async function runS2({ base, files, dirs, size, rsync }) {
  const work = join(base, "s2");
  const seed = join(work, "seed");
  const empty = join(work, "empty");
  await mkdir(empty, { recursive: true });
  await writeTree(seed, { files, dirs, size });
  const expected = await treeDigest(seed);
  // Generous, so that only a stuck or crashed engine times out: 30 ms per file, at least 30 s.
  const timeoutMs = Math.max(30_000, files * 30);
  const result = {
    description: `initial sync of ${files} × ${size / 1024} KiB files in ${dirs} directories into an empty client`,
    unit: "s",
    files,
    dirs,
    fileBytes: size,
    totalBytes: expected.bytes,
  };
  // rsync and cp first: once a DistSync client has run on the seed it holds the client's state
  // folder (.distsync/), which is no part of the tree to copy.
  if (rsync) {
    result.rsync = await timed(async () => {
      const target = join(rsync.moduleDir, "s2");
      const { ms } = await runCommand("rsync", ["-a", `${seed}/`, `${rsync.url()}s2/`], { timeoutMs });
      await verify(target, expected, "rsync");
      await rm(target, { recursive: true, force: true });
      return { seconds: ms / 1000 };
    });
    result.cp = await timed(async () => {
      const target = join(work, "cp-copy");
      const { ms } = await runCommand("cp", ["-a", seed, target], { timeoutMs });
      await rm(target, { recursive: true, force: true });
      return { seconds: ms / 1000 };
    });
  }
  result.distsync = await distsyncRun({ seed, empty, files, expected, timeoutMs });
  const ours = result.distsync.initialSyncSeconds;
  const theirs = result.rsync?.seconds;
  if (ours !== undefined && theirs !== undefined) {
    result.ratioToRsync = round(ours / theirs, 2);
    result.meetsTarget = result.ratioToRsync <= TARGETS.S2.maxRatioToRsync;
  }
  await rm(work, { recursive: true, force: true });
  return result;
}

async function distsyncRun({ seed, empty, files, expected, timeoutMs }) {
  const { hub, url } = await startHub();
  const processes = [hub];
  const resources = [];
  // Kept outside the try: a failure reports how far each step got and when.
  const progress = {
    committed: 0,
    applied: 0,
    lastCommit: 0,
    lastApplied: 0,
    seedStart: 0,
    receiverStart: 0,
  };
  let indexUploadMs;
  try {
    // The hub prints one `change` per committed file: its N-th is when the upload is complete.
    // Directories are changes too: count the fixture's files (*.bin) only.
    hub.on((e) => {
      if (e.event === "change" && e.path.endsWith(".bin")) {
        progress.committed++;
        progress.lastCommit = e.at;
      }
    });
    progress.seedStart = performance.now();
    const seeder = startCli(["sync", seed, "--server", url], { label: "seeding client" });
    processes.push(seeder);
    const seederReady = await seeder.next((e) => e.event === "ready", timeoutMs, "ready event");
    await waitUntil(() => progress.committed >= files, {
      timeoutMs,
      describe: () => `hub committed ${progress.committed} of ${files} files`,
      processes,
    });
    indexUploadMs = Math.max(seederReady.at, progress.lastCommit) - progress.seedStart;

    // Counted as the events arrive, so that the end is the last file's `applied`, not a later poll.
    progress.receiverStart = performance.now();
    const receiver = startCli(["sync", empty, "--server", url], { label: "empty client" });
    processes.push(receiver);
    receiver.on((e) => {
      if (e.event === "applied" && e.op === "write" && e.path.endsWith(".bin")) {
        progress.applied++;
        progress.lastApplied = e.at;
      }
    });
    const ready = await receiver.next((e) => e.event === "ready", timeoutMs, "ready event");
    await waitUntil(() => progress.applied >= files, {
      timeoutMs,
      describe: () => `empty client applied ${progress.applied} of ${files} files`,
      processes,
    });
    const initialSyncMs = Math.max(ready.at, progress.lastApplied) - progress.receiverStart;
    resources.push(...usageOf(processes));
    await verify(empty, expected, "the empty client");
    return {
      indexUploadSeconds: round(indexUploadMs / 1000, 3),
      initialSyncSeconds: round(initialSyncMs / 1000, 3),
      verified: true,
      resources,
    };
  } catch (error) {
    // Still alive ones (a timeout): their figures so far are worth having too.
    if (resources.length === 0) resources.push(...usageOf(processes));
    const now = performance.now();
    const steps = [`${((now - progress.seedStart) / 1000).toFixed(1)} s after the seeding client started`];
    steps.push(`hub committed ${progress.committed} of ${files} files`);
    if (progress.receiverStart) {
      steps.push(
        `empty client applied ${progress.applied} (${((now - progress.receiverStart) / 1000).toFixed(1)} s after it started)`,
      );
    }
    return {
      failed: `${message(error)} (${steps.join("; ")})`,
      ...(indexUploadMs === undefined ? {} : { indexUploadSeconds: round(indexUploadMs / 1000, 3) }),
      resources,
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
}

async function verify(dir, expected, who) {
  const got = await treeDigest(dir);
  if (got.digest !== expected.digest) {
    throw new Error(
      `${who} has ${got.files} files / ${got.bytes} bytes, not the seeded ${expected.files} / ${expected.bytes}`,
    );
  }
}

function usageOf(processes) {
  return processes.filter((p) => !p.exited).map((p) => ({ process: p.label, ...p.usage() }));
}

/** `fn()`'s result, or `{ failed }` with the reason: one failing tool does not end the scenario. */
async function timed(fn) {
  try {
    const result = await fn();
    return { ...result, seconds: round(result.seconds, 3) };
  } catch (error) {
    return { failed: message(error) };
  }
}

function message(error) {
  return error instanceof Error ? error.message : String(error);
}

function round(value, digits) {
  return Number(value.toFixed(digits));
}
