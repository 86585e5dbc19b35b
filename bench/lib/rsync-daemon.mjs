// An rsync daemon on loopback serving one writable module, the reference the issue compares with:
// `rsync -a src rsync://127.0.0.1:<port>/mod/` then pushes over plain TCP like DistSync does.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { cleanup } from "./cleanup.mjs";
import { freePort } from "./free-port.mjs";

/** Whether an `rsync` binary is on PATH (then S2–S4 also run against it). */
export function hasRsync() {
  return (process.env.PATH ?? "").split(":").some((dir) => dir && existsSync(join(dir, "rsync")));
}

/** Starts `rsync --daemon` serving `moduleDir` as module "mod"; `workDir` holds its config and log. */
export async function startRsyncDaemon(moduleDir, workDir) {
  const port = await freePort();
  const config = join(workDir, "rsyncd.conf");
  // As root the daemon would switch to "nobody" and could not write into our temp dir: keep our ids.
  await writeFile(
    config,
    [
      `pid file = ${join(workDir, "rsyncd.pid")}`,
      `log file = ${join(workDir, "rsyncd.log")}`,
      "use chroot = no",
      `uid = ${process.getuid()}`,
      `gid = ${process.getgid()}`,
      "[mod]",
      `path = ${moduleDir}`,
      "read only = no",
      "",
    ].join("\n"),
  );
  const child = cleanup.trackChild(
    spawn(
      "rsync",
      ["--daemon", "--no-detach", "--address", "127.0.0.1", "--port", String(port), "--config", config],
      {
        stdio: "ignore",
      },
    ),
  );
  await waitForPort(port, child);
  return {
    port,
    child,
    url: (viaPort = port) => `rsync://127.0.0.1:${viaPort}/mod/`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function waitForPort(port, child, timeoutMs = 5000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`rsync --daemon exited with code ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rsync --daemon did not listen on ${port} within ${timeoutMs / 1000} s`);
}
