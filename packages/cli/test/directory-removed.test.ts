import { mkdir, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  killAll,
  makeTempDir,
  removeTempDirs,
  spawnCli,
  startClient,
  startHub,
  stderrLines,
} from "./helpers/cli.js";
import { content, sleep, snapshot, waitForConvergence } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

describe("a synced directory that goes away", () => {
  it("is refused at start with exit 4", async () => {
    const root = await makeTempDir();
    const proc = spawnCli(["sync", "./missing", "--server", "ws://127.0.0.1:9"], { cwd: root });
    const exit = await proc.waitForExit();
    expect(exit.code).toBe(4);
    expect(stderrLines(proc)).toEqual(["distsync: directory not found: ./missing"]);
  });

  it("stops its client with exit 4, and the other client keeps every file", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(nodePath.join(a, "sub/deeper"), { recursive: true });
    await mkdir(b);
    for (let i = 0; i < 30; i++)
      await writeFile(nodePath.join(a, i % 2 ? "sub" : "sub/deeper", `f${i}.txt`), `${i}\n`);
    const { hub, url } = await startHub();
    const clientA = await startClient(a, url);
    const clientB = await startClient(b, url);
    const before = content(await waitForConvergence([a, b], 10_000));
    expect(Object.keys(before)).toHaveLength(32);

    // As `rm -rf` by a user, retried if the client was saving its state (a new file in .distsync
    // between rm's listing and its rmdir is ENOTEMPTY).
    await rm(a, { recursive: true, maxRetries: 5, retryDelay: 20 });
    const exit = await clientA.waitForExit(10_000);
    expect(exit.code).toBe(4);
    expect(stderrLines(clientA)).toHaveLength(1);
    expect(clientA.stderr()).toMatch(/directory removed: .*\ba\b/);
    expect(clientA.events.at(-1)).toMatchObject({
      event: "stopped",
      reason: "directory-removed",
      exitCode: 4,
    });

    // Nothing happens on b: no deletion was sent.
    await sleep(700);
    expect(content(await snapshot(b))).toEqual(before);
    expect(clientB.events.filter((e) => e.event === "applied" && e.op === "delete")).toEqual([]);
    expect(clientB.child.exitCode).toBeNull();
    expect(hub.child.exitCode).toBeNull();
  });
});
