import { mkdir, readdir, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, spawnCli, startClient, stderrLines } from "./helpers/cli.js";
import { TRANSPORTS, type TransportFixture } from "./helpers/transports.js";
import { content, snapshot, waitForConvergence } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

async function setUp(transport: TransportFixture) {
  const root = await makeTempDir();
  const [good, bad, env] = ["good", "bad", "env"].map((n) => nodePath.join(root, n)) as [
    string,
    string,
    string,
  ];
  for (const d of [good, bad, env]) await mkdir(d);
  await writeFile(nodePath.join(good, "secret.txt"), "classified\n");
  const { url } = await transport.startHub(["--token", "s3cret"]);
  // The hub holds content before the wrong tokens try.
  await startClient(good, url, ["--token", "s3cret"], { env: { DISTSYNC_TOKEN: undefined } });
  return { root, good, bad, env, url };
}

describe.each(TRANSPORTS)("the hub's token, over $name", (transport) => {
  transport.useHooks();

  it("refuses a wrong --token with exit 5, one stderr line, and nothing written", async () => {
    const { bad, url } = await setUp(transport);
    const proc = spawnCli(["sync", bad, "--server", url, "--token", "nope"], {
      env: { DISTSYNC_TOKEN: undefined },
    });
    const exit = await proc.waitForExit();
    expect(exit.code).toBe(5);
    const lines = stderrLines(proc);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^distsync: authentication refused .*token/);
    expect(proc.events.at(-1)).toMatchObject({ event: "stopped", reason: "auth-refused", exitCode: 5 });
    expect(await readdir(bad)).toEqual([]);
  });

  it("refuses a wrong DISTSYNC_TOKEN the same way", async () => {
    const { env, url } = await setUp(transport);
    const proc = spawnCli(["sync", env, "--server", url], { env: { DISTSYNC_TOKEN: "nope" } });
    expect((await proc.waitForExit()).code).toBe(5);
    expect(stderrLines(proc)).toHaveLength(1);
    expect(await readdir(env)).toEqual([]);
  });

  it("accepts the right token, by flag or by DISTSYNC_TOKEN", async () => {
    const { good, bad, env, url } = await setUp(transport);
    await startClient(bad, url, ["--token", "s3cret"], { env: { DISTSYNC_TOKEN: "nope" } });
    await startClient(env, url, [], { env: { DISTSYNC_TOKEN: "s3cret" } });
    await waitForConvergence([good, bad, env], 10_000, (t) => t.has("secret.txt"));
    expect(content(await snapshot(bad))).toEqual(content(await snapshot(good)));
  });
});
