// The real `distsync` CLI as a child process with --json: its events (stamped with the time this
// process read them), waits for an event that also fail as soon as the child dies (so a crashed or
// out-of-memory engine gives a "failed: …" entry at once rather than a hang), and its /proc usage.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { cleanup } from "./cleanup.mjs";
import { readProcUsage } from "./proc-usage.mjs";
import { repoRoot } from "./repo-root.mjs";

const cli = join(repoRoot, "packages/cli/dist/index.js");
// BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every CLI process into <dir> (for finding where
// a scenario's time goes; the figures of such a run are slower and not to be reported).
const profileArgs = process.env.BENCH_CPU_PROF
  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
  : [];

/** Starts `distsync <args> --json`; `label` names it in errors and in the S6 figures. */
export function startCli(args, { label = args[0] } = {}) {
  const child = cleanup.trackChild(
    spawn(process.execPath, [...profileArgs, cli, ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] }),
  );
  const events = [];
  const listeners = new Set();
  let exited;
  let stderrTail = "";
  let buffer = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text) => {
    buffer += text;
    let nl = buffer.indexOf("\n");
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf("\n");
      let event;
      try {
        event = { ...JSON.parse(line), at: performance.now() };
      } catch {
        continue;
      }
      events.push(event);
      for (const listener of [...listeners]) listener(event);
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => {
    stderrTail = (stderrTail + text).slice(-2000);
  });
  const exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      for (const listener of [...listeners]) listener(undefined);
      resolve(exited);
    });
  });
  // Why it ended, in its own words where it gave any: its last `error`/`stopped` event, or stderr.
  const describeExit = () => {
    const said = events.findLast((e) => e.event === "error" || e.event === "stopped");
    const why = said
      ? said.event === "error"
        ? `error ${said.code}: ${said.message}`
        : `stopped: ${said.reason}`
      : lastLine(stderrTail);
    return `${label} exited (${exited.signal ?? `code ${exited.code}`})${why ? `: ${why}` : ""}`;
  };

  /** Calls `listener(event)` for every later event; returns an unsubscribe function. */
  const on = (listener) => {
    const wrapped = (event) => event && listener(event);
    listeners.add(wrapped);
    return () => listeners.delete(wrapped);
  };

  /** The first event (past or future) passing `test`; rejects on timeout or if the child exits first. */
  const next = (test, timeoutMs = 10_000, what = "an event") =>
    new Promise((resolve, reject) => {
      const found = events.find(test);
      if (found) return resolve(found);
      if (exited) return reject(new Error(describeExit()));
      const listener = (event) => {
        if (event === undefined) {
          finish();
          reject(new Error(describeExit()));
        } else if (test(event)) {
          finish();
          resolve(event);
        }
      };
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${label}: no ${what} within ${(timeoutMs / 1000).toFixed(0)} s`));
      }, timeoutMs);
      listeners.add(listener);
    });

  /** Stops the child with SIGINT (SIGKILL after 3 s) and waits for it. */
  const stop = async () => {
    if (exited) return exited;
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exitPromise;
    clearTimeout(timer);
    return exited;
  };

  return {
    label,
    child,
    events,
    on,
    next,
    stop,
    /** Why the child exited, for "failed: …" entries (undefined while it runs). */
    exitReason: () => (exited ? describeExit() : undefined),
    /** CPU seconds and peak RSS so far (see proc-usage.mjs). */
    usage: () => readProcUsage(child.pid),
    get exited() {
      return exited;
    },
  };
}

function lastLine(text) {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1]?.slice(0, 300) ?? "";
}
