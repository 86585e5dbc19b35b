import { stat } from "node:fs/promises";
import * as nodePath from "node:path";
import type { WaitOptions } from "../args.js";
import { CliError } from "../cli-error.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";
import { readStatus, STATUS_INTERVAL_MS } from "../status-file.js";

const POLL_MS = 50;
/**
 * Only a status written this long after `wait` started counts: by then the running client's
 * watcher has seen changes made just before `wait` was called (inotify reports in milliseconds,
 * then the client's quiet window of 5 ms, 50 ms for a large file being written).
 */
const SETTLE_MS = 150;
/** A sync that has just started may not have written its first status yet. */
const FIRST_STATUS_MS = 2000;

/**
 * `distsync wait <dir>...`: returns once the `distsync sync` running for each folder has nothing
 * pending and the hub reports that every other connected client has applied the folder's latest
 * change — so `distsync wait ./src && make test` tests what every machine holds.
 */
export async function waitCommand(options: WaitOptions, context: CommandContext): Promise<string> {
  const started = Date.now();
  const deadline =
    options.timeoutS === undefined ? Number.POSITIVE_INFINITY : started + options.timeoutS * 1000;
  const lines: string[] = [];
  for (const label of options.dirs) {
    const root = nodePath.resolve(context.cwd, label);
    const stats = await stat(root).catch(() => undefined);
    if (!stats?.isDirectory()) throw new CliError(ExitCode.directoryMissing, `directory not found: ${label}`);
    for (;;) {
      if (context.signal.aborted)
        throw new CliError(ExitCode.error, `interrupted before ${label} was synced`);
      const status = await readStatus(root);
      const now = Date.now();
      if (status === undefined) {
        if (now - started > FIRST_STATUS_MS)
          throw new CliError(ExitCode.usage, `no 'distsync sync' is running for ${label}`);
      } else if (!isRunning(status.pid)) {
        throw new CliError(
          ExitCode.usage,
          `the 'distsync sync' of ${label} (process ${status.pid}) is not running`,
        );
      } else if (status.updatedAt >= started + SETTLE_MS && status.synced) {
        break;
      }
      if (now > deadline) {
        const detail = status
          ? `${status.state}, ${status.pending} pending, delivered up to ${status.delivered} of ${status.acked}`
          : "no status";
        throw new CliError(ExitCode.error, `${label} not synced after ${options.timeoutS} s (${detail})`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, STATUS_INTERVAL_MS)));
    }
    lines.push(options.json ? JSON.stringify({ event: "synced", dir: label }) : `synced ${label}`);
  }
  return options.quiet && !options.json ? "" : `${lines.join("\n")}\n`;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
