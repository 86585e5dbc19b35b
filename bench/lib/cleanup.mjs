// Everything a run must undo, whatever way it ends: child processes to kill and temp dirs to
// remove. The scenarios register here as they create things, so a failure, a timeout or Ctrl-C
// in the middle of a scenario still leaves no stray `distsync`/`rsync` process or 1 GiB file behind.
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";

const children = new Set();
const dirs = new Set();

/** The process-wide cleanup registry. */
export const cleanup = {
  /** Kills `child` on exit unless it has already exited. */
  trackChild(child) {
    children.add(child);
    child.once("exit", () => children.delete(child));
    return child;
  },
  /** Removes `path` (recursively) at the end of the run. */
  trackDir(path) {
    dirs.add(path);
    return path;
  },
  /** Kills the children still alive and removes the temp dirs. Safe to call twice. */
  async runAll() {
    for (const child of children) child.kill("SIGKILL");
    children.clear();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    dirs.clear();
  },
  /** Installs the handlers: Ctrl-C/SIGTERM clean up and exit; a plain exit cleans up synchronously. */
  install() {
    for (const signal of ["SIGINT", "SIGTERM"]) {
      process.once(signal, () => {
        console.error(`\nbench: ${signal}, cleaning up`);
        cleanup.runAll().then(
          () => process.exit(130),
          () => process.exit(130),
        );
      });
    }
    // Last resort (an uncaught error, process.exit): no awaiting is possible here.
    process.once("exit", () => {
      for (const child of children) child.kill("SIGKILL");
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });
  },
};
