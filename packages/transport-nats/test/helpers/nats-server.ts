import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as nodePath from "node:path";

/** A private nats-server on 127.0.0.1, for one test file. */
export interface NatsServer {
  /** `nats://127.0.0.1:PORT` (no credentials). */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The server's log file (`-l`). */
  readonly logFile: string;
  /** SIGTERM, and waits for the exit (the server closes its clients' sockets). */
  stop(): Promise<void>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  /** Starts the server again with the same options on the same port (after `stop` or `kill`). */
  restart(): Promise<void>;
}

export interface NatsServerOptions {
  /** Turn JetStream on (`-js -sd <temp dir>`). Default: off. */
  jetstream?: boolean;
  /** More command-line arguments, e.g. `["--user", "u", "--pass", "p"]` or `["--auth", "tok"]`. */
  args?: readonly string[];
  /** The text of a configuration file (`-c`), e.g. `"max_payload: 2MB"`. */
  config?: string;
}

const BINARY = "nats-server";
const INSTALL_HINT = "nats-server not found — apt-get install nats-server";
const running = new Set<ChildProcess>();

let available: boolean | undefined;

/** Whether `nats-server` runs here. */
export function natsServerAvailable(): boolean {
  available ??= spawnSync(BINARY, ["--version"], { stdio: "ignore" }).status === 0;
  return available;
}

/**
 * For a test file that needs nats-server: `true` when it is installed. Without it, in CI
 * (`process.env.CI` set) this throws, so the file fails; elsewhere it prints one line and returns
 * `false`, for `describe.skipIf(!hasNats)`.
 */
export function requireNatsServer(): boolean {
  if (natsServerAvailable()) return true;
  if (process.env.CI) throw new Error(`${INSTALL_HINT} (CI is set, so the NATS tests fail rather than skip)`);
  console.warn(INSTALL_HINT);
  return false;
}

/**
 * Starts nats-server on a free loopback port (`-p -1`, read back from `--ports_file_dir`), never on
 * 4222. Resolves once the server is ready.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  if (!natsServerAvailable()) throw new Error(INSTALL_HINT);
  const dir = await mkdtemp(nodePath.join(tmpdir(), "distsync-nats-"));
  const logFile = nodePath.join(dir, "nats.log");
  const args = ["-a", "127.0.0.1", "--ports_file_dir", dir, "-l", logFile, ...(options.args ?? [])];
  if (options.jetstream) args.push("-js", "-sd", nodePath.join(dir, "js"));
  if (options.config !== undefined) {
    const config = nodePath.join(dir, "nats.conf");
    await writeFile(config, options.config);
    args.push("-c", config);
  }
  let child = await launch([...args, "-p", "-1"]);
  const port = await readPort(dir, child);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    logFile,
    async stop() {
      await terminate(child, "SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
    kill: () => terminate(child, "SIGKILL"),
    async restart() {
      await terminate(child, "SIGKILL");
      child = await launch([...args, "-p", String(port)]);
      await readPort(dir, child);
    },
  };
}

/** Kills every server still running (for an `afterAll` that must not leak processes). */
export async function stopAllNatsServers(): Promise<void> {
  await Promise.all([...running].map((child) => terminate(child, "SIGKILL")));
}

async function launch(args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(BINARY, args, { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  child.once("exit", () => running.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  Reflect.set(child, "stderrText", () => stderr);
  return child;
}

/** Waits for `nats-server_<pid>.ports` and reads the client port from it. */
async function readPort(dir: string, child: ChildProcess): Promise<number> {
  const file = `nats-server_${child.pid}.ports`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const stderr = Reflect.get(child, "stderrText") as () => string;
      const log = await readFile(nodePath.join(dir, "nats.log"), "utf8").catch(() => "");
      throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode}): ${stderr()}${log}`);
    }
    if ((await readdir(dir)).includes(file)) {
      const text = await readFile(nodePath.join(dir, file), "utf8").catch(() => "");
      try {
        const { nats } = JSON.parse(text) as { nats?: string[] };
        const port = Number(new URL(nats?.[0] ?? "").port);
        if (port > 0) return port;
      } catch {
        // Not completely written yet.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("nats-server did not write its ports file within 10 s");
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  return exited;
}

process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});
