import { readdir, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeFolders, removeTempDirs, spawnCli, startClient, stderrLines } from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { waitForConvergence } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

describe.each(TRANSPORTS)("serve --max-connections, over $name", (transport) => {
  transport.useHooks();

  it("turns the connection beyond the limit away with exit 3 and one line; with --reconnect it joins once there is room", async () => {
    const [a, refused, patient] = (await makeFolders("a", "refused", "patient")) as [string, string, string];
    await writeFile(nodePath.join(a, "kept.txt"), "held by the only client the hub has room for\n");
    const { url } = await transport.startHub(["--max-connections", "1"]);
    const first = await startClient(a, url);

    const proc = spawnCli(["sync", refused, "--server", url]);
    const exit = await proc.waitForExit();
    expect(exit.code).toBe(3);
    const lines = stderrLines(proc);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^distsync: .*limit of 1 connections/);
    expect(await readdir(refused)).toEqual([]);

    const waiting = spawnCli(["sync", patient, "--server", url, "--reconnect"]);
    await waiting.waitForEvent((e) => e.event === "reconnecting", 10_000, "a refused attempt");
    expect(first.child.exitCode).toBeNull();
    first.kill("SIGTERM");
    await first.waitForExit(5000);
    await waitForConvergence([a, patient], 15_000, (t) => t.has("kept.txt"));
    expect(waiting.child.exitCode).toBeNull();
  });
});
