import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as nodePath from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI: these tests run the real `dist/index.js`, so build first (the root `pnpm test` does). */
export const CLI = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
export const PACKAGE_DIR = fileURLToPath(new URL("../..", import.meta.url));
export const REPO_DIR = nodePath.resolve(PACKAGE_DIR, "../..");

/** One parsed `--json` line. */
export type CliEvent = { event: string } & Record<string, unknown>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every event so far, in order. */
  readonly events: CliEvent[];
  /** stdout lines that were not JSON objects (there should be none). */
  readonly stray: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** The first event (already seen or still to come) that matches; rejects on timeout or exit. */
  waitForEvent(predicate: (event: CliEvent) => boolean, timeoutMs?: number, what?: string): Promise<CliEvent>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Like `exited`, but rejects after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Add `--json` (default true). */
  json?: boolean;
}

const running = new Set<CliProcess>();

/** Starts `node dist/index.js …args` (with `--json` unless told otherwise). */
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): CliProcess {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  if (options.env && "DISTSYNC_TOKEN" in options.env && options.env.DISTSYNC_TOKEN === undefined) {
    delete env.DISTSYNC_TOKEN;
  }
  const fullArgs = options.json === false ? [...args] : [...args, "--json"];
  const child = spawn(process.execPath, [CLI, ...fullArgs], {
    cwd: options.cwd ?? process.cwd(),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: CliEvent[] = [];
  const stray: string[] = [];
  let stderr = "";
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  let buffered = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      if (line === "") continue;
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === "object" && parsed !== null && "event" in parsed)
          events.push(parsed as CliEvent);
        else stray.push(line);
      } catch {
        stray.push(line);
      }
    }
    notify();
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let exitInfo: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.on("exit", (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const proc: CliProcess = {
    child,
    pid: child.pid ?? -1,
    events,
    stray,
    stderr: () => stderr,
    exited,
    waitForEvent(predicate, timeoutMs = 10_000, what = "an event") {
      return new Promise<CliEvent>((resolve, reject) => {
        let index = 0;
        const check = (): boolean => {
          for (; index < events.length; index++) {
            const event = events[index]!;
            if (predicate(event)) {
              done();
              resolve(event);
              return true;
            }
          }
          return false;
        };
        const onExit = (): void => {
          // stdout may still hold the last lines: give it a moment.
          setTimeout(() => {
            if (check()) return;
            done();
            reject(
              new Error(`process exited (${JSON.stringify(exitInfo)}) before ${what}; stderr: ${stderr}`),
            );
          }, 50);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; last events: ${JSON.stringify(events.slice(-5))}; stderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
        const waiter = (): void => {
          check();
        };
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        if (check()) return;
        waiters.add(waiter);
        void exited.then(onExit);
      });
    },
    async waitForExit(timeoutMs = 10_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`process did not exit within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill(signal = "SIGTERM") {
      if (exitInfo === undefined) child.kill(signal);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Kills every process still running (continuing stopped ones first); call in `afterEach`. */
export async function killAll(): Promise<void> {
  const all = [...running];
  for (const proc of all) {
    proc.kill("SIGCONT");
    proc.kill("SIGKILL");
  }
  await Promise.all(all.map((p) => p.exited));
}

/** `distsync serve --port 0` (plus `args`); resolves with the process and its URL once it listens. */
export async function startHub(
  args: readonly string[] = [],
): Promise<{ hub: CliProcess; url: string; port: number }> {
  const hub = spawnCli(["serve", "--port", "0", ...args]);
  const listening = await hub.waitForEvent((e) => e.event === "listening", 10_000, "the hub to listen");
  const url = String(listening.url);
  return { hub, url, port: Number(new URL(url).port) };
}

/** `distsync sync <dir> --server url …args`, resolved once it is ready. */
export async function startClient(
  dir: string,
  url: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
  readyTimeoutMs = 15_000,
): Promise<CliProcess> {
  const client = spawnCli(["sync", dir, "--server", url, ...args], options);
  await client.waitForEvent((e) => e.event === "ready", readyTimeoutMs, `${dir} to be ready`);
  return client;
}

const tempDirs: string[] = [];

/** A fresh directory under the system temp dir, removed by {@link removeTempDirs}. */
export async function makeTempDir(prefix = "distsync-cli-"): Promise<string> {
  const dir = await mkdtemp(nodePath.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Fresh empty folders named `names`, side by side in a new temp dir; removed with it. */
export async function makeFolders(...names: string[]): Promise<string[]> {
  const root = await makeTempDir();
  const out = names.map((n) => nodePath.join(root, n));
  for (const d of out) await mkdir(d);
  return out;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Non-empty stderr lines. */
export function stderrLines(proc: CliProcess): string[] {
  return proc
    .stderr()
    .split("\n")
    .filter((l) => l.trim() !== "");
}
