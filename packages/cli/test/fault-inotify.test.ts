import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  CLI,
  type CliEvent,
  killAll,
  makeTempDir,
  removeTempDirs,
  startClient,
  startHub,
} from "./helpers/cli.js";
import { waitUntil } from "./helpers/tree.js";

/**
 * A real inotify limit without touching the machine's: in a new user namespace,
 * /proc/sys/user/max_inotify_watches is that namespace's own limit (Linux ≥ 5.11 counts watches
 * per user namespace), so a process inside can be given only a handful of watches.
 */
const LIMITED = 'echo "$0" > /proc/sys/user/max_inotify_watches || exit 97; exec "$@"';

function userNamespacesWork(): boolean {
  try {
    execFileSync("unshare", ["--user", "--map-root-user", "sh", "-c", LIMITED, "3", "true"], {
      stdio: "ignore",
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

interface Limited {
  child: ChildProcess;
  events: CliEvent[];
  stderr: () => string;
}

const started: ChildProcess[] = [];

/** `distsync sync dir --server url --json` with at most `watches` inotify watches. */
function syncWithWatchLimit(dir: string, url: string, watches: number): Limited {
  const child = spawn(
    "unshare",
    [
      "--user",
      "--map-root-user",
      "sh",
      "-c",
      LIMITED,
      String(watches),
      process.execPath,
      CLI,
      "sync",
      dir,
      "--server",
      url,
      "--json",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  started.push(child);
  const events: CliEvent[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as CliEvent);
      } catch {
        // not an event
      }
    }
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  return { child, events, stderr: () => stderr };
}

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
  await killAll();
  await removeTempDirs();
});

const text = (path: string) => readFile(path, "utf8").catch(() => undefined);

describe.skipIf(!userNamespacesWork())(
  "inotify watch limit reached (a user namespace allowed 4 watches)",
  () => {
    it("says once which limit to raise, falls back to scanning, and still syncs adds, edits and deletions", async () => {
      const root = await makeTempDir();
      const a = nodePath.join(root, "a");
      const b = nodePath.join(root, "b");
      await mkdir(a);
      // More directories than watches: chokidar's watch of some of them fails with ENOSPC.
      for (let i = 0; i < 8; i++) await mkdir(nodePath.join(b, `dir${i}`, "sub"), { recursive: true });
      const { url } = await startHub();
      await startClient(a, url);
      const limited = syncWithWatchLimit(b, url, 4);
      await waitUntil(
        () => limited.events.some((e) => e.event === "ready"),
        15_000,
        "the limited client to be ready",
        () => `${JSON.stringify(limited.events.slice(-5))} ${limited.stderr()}`,
      );
      const warnings = limited.events.filter((e) => e.event === "error");
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.message).toMatch(/fs\.inotify\.max_user_watches/);
      expect(warnings[0]?.message).toMatch(/scanned for changes every 2 s/);

      // A new file deep in a directory that has no watch, an edit, and a deletion all reach a.
      await writeFile(nodePath.join(b, "dir7/sub/deep.txt"), "created under the limit\n");
      await writeFile(nodePath.join(b, "top.txt"), "first\n");
      await waitUntil(
        async () =>
          (await text(nodePath.join(a, "dir7/sub/deep.txt"))) === "created under the limit\n" &&
          (await text(nodePath.join(a, "top.txt"))) === "first\n",
        15_000,
        "the new files on a",
      );
      await writeFile(nodePath.join(b, "dir7/sub/deep.txt"), "edited under the limit, longer\n");
      await rm(nodePath.join(b, "top.txt"));
      await waitUntil(
        async () =>
          (await text(nodePath.join(a, "dir7/sub/deep.txt"))) === "edited under the limit, longer\n" &&
          (await text(nodePath.join(a, "top.txt"))) === undefined,
        15_000,
        "the edit and the deletion on a",
      );
      // Changes from the other side still arrive too, and the warning was not repeated.
      await writeFile(nodePath.join(a, "from-a.txt"), "to the limited client\n");
      await waitUntil(
        async () => (await text(nodePath.join(b, "from-a.txt"))) === "to the limited client\n",
        10_000,
        "from-a.txt on b",
      );
      expect(limited.events.filter((e) => e.event === "error")).toHaveLength(1);
      expect(limited.child.exitCode).toBeNull();
    });
  },
);
