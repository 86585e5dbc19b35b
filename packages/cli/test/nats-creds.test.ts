import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decentralizedAuth } from "../../transport-nats/test/helpers/nats-auth.js";
import {
  requireNatsServer,
  startNatsServer,
  stopAllNatsServers,
} from "../../transport-nats/test/helpers/nats-server.js";
import { killAll, makeTempDir, removeTempDirs, spawnCli, startClient, stderrLines } from "./helpers/cli.js";
import { waitUntil } from "./helpers/tree.js";

const hasNats = requireNatsServer();

afterEach(async () => {
  await killAll();
  await stopAllNatsServers();
  await removeTempDirs();
});

describe.skipIf(!hasNats)("distsync on NATS with a credentials file (--nats-creds)", () => {
  it("serve and sync authenticate with .creds files; a wrong one exits 3 with one stderr line", async () => {
    const auth = await decentralizedAuth();
    const server = await startNatsServer({ config: auth.config });
    const root = await makeTempDir();
    const [a, b, refused] = ["a", "b", "refused"].map((n) => nodePath.join(root, n));
    for (const dir of [a!, b!, refused!]) await mkdir(dir);
    const creds = async (name: string, text: string): Promise<string> => {
      const path = nodePath.join(root, name);
      await writeFile(path, text, { mode: 0o600 });
      return path;
    };
    const hubCreds = await creds("hub.creds", auth.hubCreds);
    const clientCreds = await creds("client.creds", auth.clientCreds);
    const strangerCreds = await creds("stranger.creds", auth.strangerCreds);

    const hub = spawnCli(["serve", "--nats", server.url, "--nats-creds", hubCreds]);
    await hub.waitForEvent((e) => e.event === "listening", 10_000, "the hub to listen");
    await writeFile(nodePath.join(a!, "signed.txt"), "through a JWT-authenticated server\n");
    await startClient(a!, server.url, ["--nats-creds", clientCreds]);
    await startClient(b!, server.url, ["--nats-creds", clientCreds]);
    await waitUntil(
      async () =>
        (await readFile(nodePath.join(b!, "signed.txt"), "utf8").catch(() => "")) ===
        "through a JWT-authenticated server\n",
      10_000,
      "signed.txt on b",
    );

    // A user of an account the server does not know: refused by the server, for a client and a hub.
    const client = spawnCli(["sync", refused!, "--server", server.url, "--nats-creds", strangerCreds]);
    const secondHub = spawnCli([
      "serve",
      "--nats",
      server.url,
      "--nats-creds",
      strangerCreds,
      "--subject-prefix",
      "x",
    ]);
    for (const proc of [client, secondHub]) {
      expect((await proc.waitForExit(10_000)).code).toBe(3);
      expect(stderrLines(proc), proc.stderr()).toHaveLength(1);
      expect(proc.stderr()).toMatch(
        `the NATS server at ${server.url} refused the credentials: Authorization Violation`,
      );
    }
    // No credentials at all: refused too.
    const anonymous = spawnCli(["sync", refused!, "--server", server.url]);
    expect((await anonymous.waitForExit(10_000)).code).toBe(3);
    expect(stderrLines(anonymous)).toEqual([
      `distsync: cannot reach the hub: the NATS server at ${server.url} refused the credentials: Authorization Violation`,
    ]);
    expect(hub.child.exitCode).toBeNull();
  });
});
