import { readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeFolders, removeTempDirs, startClient, stderrLines } from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

describe.each(TRANSPORTS)("losing the hub, over $name", (transport) => {
  transport.useHooks();

  it("exits 3 when the hub is killed (SIGKILL)", async () => {
    const [a, b] = await makeFolders("a", "b");
    const { hub, url } = await transport.startHub(transport.fastLossArgs);
    const clients = [await startClient(a!, url), await startClient(b!, url)];
    const killedAt = Date.now();
    hub.kill("SIGKILL");
    for (const client of clients) {
      const exit = await client.waitForExit(6000);
      expect(exit.code).toBe(3);
      expect(client.events.at(-1)).toMatchObject({ event: "stopped", reason: "hub-lost", exitCode: 3 });
      expect(stderrLines(client)).toHaveLength(1);
      expect(client.stderr()).toMatch(/lost the hub/);
    }
    // WebSocket: the TCP connection closes at once, well within the default 5 s heartbeat timeout.
    // NATS: nothing closes between client and hub, so the (shortened) heartbeat timeout notices.
    expect(Date.now() - killedAt).toBeLessThan(5000);
  });

  it("exits 3 within the heartbeat timeout when the hub freezes (SIGSTOP, no TCP close)", async () => {
    const [a] = await makeFolders("a");
    const { hub, url } = await transport.startHub(["--heartbeat-ms", "200", "--timeout-ms", "1500"]);
    const client = await startClient(a!, url);
    const frozenAt = Date.now();
    hub.kill("SIGSTOP");
    const exit = await client.waitForExit(8000);
    const took = Date.now() - frozenAt;
    expect(exit.code).toBe(3);
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(3500);
    expect(client.stderr()).toMatch(/lost the hub.*heartbeat/);
    hub.kill("SIGCONT");
  });

  it("with --reconnect keeps running and converges through a new hub at the same address", async () => {
    const [a, b] = await makeFolders("a", "b");
    await writeFile(nodePath.join(a!, "before.txt"), "before the loss\n");
    const first = await transport.startHub(transport.fastLossArgs);
    const clientA = await startClient(a!, first.url, ["--reconnect"]);
    const clientB = await startClient(b!, first.url, ["--reconnect"]);
    await waitUntil(
      async () => (await readFile(nodePath.join(b!, "before.txt"), "utf8").catch(() => "")) !== "",
      10_000,
      "before.txt on b",
    );

    first.hub.kill("SIGKILL");
    await clientA.waitForEvent((e) => e.event === "reconnecting", 5000, "A reconnecting");
    await clientB.waitForEvent((e) => e.event === "reconnecting", 5000, "B reconnecting");
    await writeFile(nodePath.join(a!, "during.txt"), "written while the hub was down\n");

    await transport.restartHub(first);
    await waitUntil(
      async () =>
        (await readFile(nodePath.join(b!, "during.txt"), "utf8").catch(() => "")) ===
        "written while the hub was down\n",
      15_000,
      "during.txt on b through the new hub",
    );
    expect(await readFile(nodePath.join(b!, "before.txt"), "utf8")).toBe("before the loss\n");
    await writeFile(nodePath.join(b!, "after.txt"), "after the new hub\n");
    await waitUntil(
      async () =>
        (await readFile(nodePath.join(a!, "after.txt"), "utf8").catch(() => "")) === "after the new hub\n",
      10_000,
      "after.txt on a",
    );
    for (const client of [clientA, clientB]) {
      expect(client.child.exitCode).toBeNull();
      expect(client.events.some((e) => e.event === "connected")).toBe(true);
    }
  });
});
