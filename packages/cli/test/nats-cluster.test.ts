import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type NatsCluster, startNatsCluster } from "../../transport-nats/test/helpers/nats-cluster.js";
import { requireNatsServer, stopAllNatsServers } from "../../transport-nats/test/helpers/nats-server.js";
import { killAll, makeFolders, REPO_DIR, removeTempDirs, spawnCli, startClient } from "./helpers/cli.js";
import { waitForConvergence } from "./helpers/tree.js";

const hasNats = requireNatsServer();

/** The configuration files of the docs page's cluster recipe (apps/docs/docs/transports/nats.md). */
const DOCS_CLUSTER = nodePath.join(REPO_DIR, "apps/docs/docs/transports/nats-cluster");
/** The route ports those files use; the test swaps them for free ones. */
const ROUTE_PORTS = [6222, 6223, 6224];

async function docsConfigs(): Promise<string[]> {
  return Promise.all(["a", "b", "c"].map((n) => readFile(nodePath.join(DOCS_CLUSTER, `${n}.conf`), "utf8")));
}

afterEach(async () => {
  await killAll();
  await stopAllNatsServers();
  await removeTempDirs();
});

/** Every file of `written` has exactly these bytes in every folder. */
async function expectSameBytes(
  folders: readonly string[],
  written: ReadonlyMap<string, Buffer>,
): Promise<void> {
  for (const [path, data] of written) {
    for (const folder of folders) {
      expect(Buffer.compare(await readFile(nodePath.join(folder, path)), data), `${folder}/${path}`).toBe(0);
    }
  }
}

describe.skipIf(!hasNats)("distsync on a 3-node NATS cluster (the docs' configuration files)", () => {
  it("a hub on node a and clients on nodes b and c: files cross the routes both ways", async () => {
    const cluster: NatsCluster = await startNatsCluster(await docsConfigs(), ROUTE_PORTS);
    const [nodeA, nodeB, nodeC] = cluster.nodes;
    const hub = spawnCli(["serve", "--nats", nodeA!.url]);
    await hub.waitForEvent((e) => e.event === "listening", 10_000, "the hub to listen on node a");
    const [x, y] = await makeFolders("x", "y");
    const written = new Map<string, Buffer>([
      ["hello.txt", Buffer.from("from node b to node c\n")],
      // Chunked by core into several frames near max_payload, fetched through the routes.
      ["big.bin", randomBytes(2 * 1024 * 1024 + 17)],
    ]);
    for (const [path, data] of written) await writeFile(nodePath.join(x!, path), data);
    await startClient(x!, nodeB!.url, ["--reconnect"]);
    await startClient(y!, nodeC!.url, ["--reconnect"]);
    await waitForConvergence([x!, y!], 20_000, (t) => t.has("big.bin"));
    await writeFile(nodePath.join(y!, "reply.txt"), "from node c to node b\n");
    written.set("reply.txt", Buffer.from("from node c to node b\n"));
    await waitForConvergence([x!, y!], 10_000, (t) => t.has("reply.txt"));
    await expectSameBytes([x!, y!], written);
  });
});
