import { readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  requireNatsServer,
  startNatsServer,
  stopAllNatsServers,
} from "../../transport-nats/test/helpers/nats-server.js";
import { killAll, makeFolders, removeTempDirs, spawnCli, startClient, stderrLines } from "./helpers/cli.js";
import { currentNatsServer, nats } from "./helpers/transports.js";
import { waitUntil } from "./helpers/tree.js";

const hasNats = requireNatsServer();

afterEach(async () => {
  await killAll();
  await stopAllNatsServers();
  await removeTempDirs();
});

const text = (path: string) => readFile(path, "utf8").catch(() => "");

describe.skipIf(!hasNats)("distsync on NATS", () => {
  nats.useHooks();

  it("serve --nats prints the listening line; sync --server nats:// uses it", async () => {
    const server = currentNatsServer();
    const hub = spawnCli(["serve", "--nats", server.url], { json: false });
    await waitUntil(() => hub.stray.length > 0, 10_000, "the listening line");
    expect(hub.stray[0]).toBe(`listening on ${server.url}`);
    const [a, b] = await makeFolders("a", "b");
    await writeFile(nodePath.join(a!, "hello.txt"), "hello over NATS\n");
    await startClient(a!, server.url);
    await startClient(b!, server.url);
    await waitUntil(
      async () => (await text(nodePath.join(b!, "hello.txt"))) === "hello over NATS\n",
      10_000,
      "hello.txt on b",
    );
  });

  it("kill nats-server mid-sync: clients exit 3 at once, the hub keeps running", async () => {
    const server = currentNatsServer();
    const [a, b] = await makeFolders("a", "b");
    const { hub, url } = await nats.startHub();
    const clients = [await startClient(a!, url), await startClient(b!, url)];
    const killedAt = Date.now();
    await server.kill();
    for (const client of clients) {
      const exit = await client.waitForExit(5000);
      expect(exit.code).toBe(3);
      expect(stderrLines(client)).toHaveLength(1);
      expect(client.stderr()).toMatch(`lost the hub at ${url}`);
      expect(client.stderr()).toMatch("lost the NATS server");
    }
    expect(Date.now() - killedAt).toBeLessThan(2000);
    await hub.waitForEvent((e) => e.event === "error" && e.code === "connection", 2000, "the hub's error");
    expect(hub.child.exitCode).toBeNull();
  });

  it("with --reconnect, clients keep running and converge after nats-server restarts on the same port", async () => {
    const server = currentNatsServer();
    const [a, b] = await makeFolders("a", "b");
    await writeFile(nodePath.join(a!, "before.txt"), "before the loss\n");
    const { hub, url } = await nats.startHub();
    const clientA = await startClient(a!, url, ["--reconnect"]);
    const clientB = await startClient(b!, url, ["--reconnect"]);
    await waitUntil(
      async () => (await text(nodePath.join(b!, "before.txt"))) !== "",
      10_000,
      "before.txt on b",
    );

    await server.kill();
    await clientA.waitForEvent((e) => e.event === "reconnecting", 5000, "A reconnecting");
    await clientB.waitForEvent((e) => e.event === "reconnecting", 5000, "B reconnecting");
    await writeFile(nodePath.join(a!, "during.txt"), "written while NATS was down\n");
    await server.restart();

    await waitUntil(
      async () => (await text(nodePath.join(b!, "during.txt"))) === "written while NATS was down\n",
      15_000,
      "during.txt on b once NATS is back",
    );
    await writeFile(nodePath.join(b!, "after.txt"), "after the restart\n");
    await waitUntil(
      async () => (await text(nodePath.join(a!, "after.txt"))) === "after the restart\n",
      10_000,
      "after.txt on a",
    );
    for (const proc of [hub, clientA, clientB]) expect(proc.child.exitCode).toBeNull();
  });

  it("serve exits 3 at once when the NATS server cannot be reached", async () => {
    const gone = await startNatsServer();
    await gone.stop();
    const hub = spawnCli(["serve", "--nats", gone.url], { json: false });
    const exit = await hub.waitForExit(5000);
    expect(exit.code).toBe(3);
    expect(stderrLines(hub)).toEqual([
      `distsync: connection refused: NATS server ${gone.url} (ECONNREFUSED)`,
    ]);
  });

  it("a client exits 3 with 'no hub is listening' when no hub runs on the prefix", async () => {
    const [a] = await makeFolders("a");
    const client = spawnCli([
      "sync",
      a!,
      "--server",
      currentNatsServer().url,
      "--subject-prefix",
      "elsewhere",
    ]);
    expect((await client.waitForExit()).code).toBe(3);
    expect(stderrLines(client)).toEqual([
      `distsync: cannot reach the hub: no hub is listening on elsewhere at ${currentNatsServer().url}`,
    ]);
  });

  it("passes NATS credentials (URL, --nats-token, a config file) and never prints the password", async () => {
    const secured = await startNatsServer({ args: ["--user", "u", "--pass", "hunter2"] });
    const withCreds = `nats://u:hunter2@127.0.0.1:${secured.port}`;
    const hub = spawnCli(["serve", "--nats", withCreds, "--subject-prefix", "team.a"], { json: false });
    await waitUntil(() => hub.stray.length > 0, 10_000, "the listening line");
    // The password never shows: not in the listening line, not in any message below.
    expect(hub.stray[0]).toBe(`listening on nats://u:***@127.0.0.1:${secured.port}`);
    const [a, b, refused] = await makeFolders("a", "b", "refused");
    await writeFile(nodePath.join(a!, "note.txt"), "through an authenticated server\n");
    await startClient(a!, withCreds, ["--subject-prefix", "team.a"]);
    // `{ "server": "nats://…" }` in distsync.config.json swaps the transport with no flag.
    await writeFile(
      nodePath.join(b!, "..", "distsync.config.json"),
      JSON.stringify({ server: withCreds, subjectPrefix: "team.a" }),
    );
    const clientB = spawnCli(["sync", "b"], { cwd: nodePath.dirname(b!) });
    await clientB.waitForEvent((e) => e.event === "ready", 10_000, "b to be ready");
    await waitUntil(
      async () => (await text(nodePath.join(b!, "note.txt"))) !== "",
      10_000,
      "note.txt on b through the config file's server",
    );

    const noCreds = spawnCli(["sync", refused!, "--server", secured.url, "--subject-prefix", "team.a"]);
    expect((await noCreds.waitForExit()).code).toBe(3);
    expect(stderrLines(noCreds)[0]).toMatch(/refused the credentials/);
    const wrong = spawnCli(["sync", refused!, "--server", `nats://u:wrong-one@127.0.0.1:${secured.port}`]);
    expect((await wrong.waitForExit()).code).toBe(3);
    for (const proc of [hub, noCreds, wrong])
      expect(`${proc.stderr()}${proc.stray.join("\n")}`).not.toMatch(/hunter2|wrong-one/);
  });

  it("passes a NATS auth token with --nats-token or DISTSYNC_NATS_TOKEN", async () => {
    const secured = await startNatsServer({ args: ["--auth", "nats-s3cret"] });
    const [a, b] = await makeFolders("a", "b");
    const hub = spawnCli(["serve", "--nats", secured.url, "--nats-token", "nats-s3cret"]);
    await hub.waitForEvent((e) => e.event === "listening");
    await writeFile(nodePath.join(a!, "t.txt"), "token\n");
    await startClient(a!, secured.url, ["--nats-token", "nats-s3cret"]);
    await startClient(b!, secured.url, [], { env: { DISTSYNC_NATS_TOKEN: "nats-s3cret" } });
    await waitUntil(async () => (await text(nodePath.join(b!, "t.txt"))) === "token\n", 10_000, "t.txt on b");
  });
});
