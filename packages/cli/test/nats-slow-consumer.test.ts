import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type NatsServer,
  requireNatsServer,
  startNatsServer,
  stopAllNatsServers,
} from "../../transport-nats/test/helpers/nats-server.js";
import {
  type CliProcess,
  killAll,
  makeFolders,
  removeTempDirs,
  spawnCli,
  startClient,
  stderrLines,
} from "./helpers/cli.js";
import { content, snapshot, waitForConvergence, waitUntil } from "./helpers/tree.js";

const hasNats = requireNatsServer();

/**
 * A nats-server that gives up on a stalled client quickly: once writing to a client has been blocked
 * for 2 s (the default is 10 s), the server calls it a slow consumer and closes its connection. A
 * client that stopped reading blocks the server's writes as soon as the socket buffers are full
 * (about 4 MiB here). The other clients read all the time, so they never come near it.
 */
const SLOW_CONSUMER_CONFIG = 'write_deadline: "2s"\n';

/**
 * Files of 30 KiB: one chunk each (below the chunker's 32 KiB minimum), so the hub relays them
 * inline in its `entries` frames and pushes the bytes to every client without being asked. Random
 * bytes, so they do not compress.
 */
const FILE_BYTES = 30 * 1024;
/** One burst: 2 MiB (the first one twice that). */
const FILES_PER_BURST = 70;
/** The most written before the test gives up on the server cutting the stalled client (≈ 24 MiB). */
const MAX_BURSTS = 12;

let server: NatsServer | undefined;

beforeEach(async () => {
  if (hasNats) server = await startNatsServer({ config: SLOW_CONSUMER_CONFIG });
});

afterEach(async () => {
  await killAll(); // SIGCONT, then SIGKILL: a stopped client does not survive the test
  await stopAllNatsServers();
  server = undefined;
  await removeTempDirs();
});

/** The server's log lines that report a slow consumer (nats-server 2.9: "Slow Consumer Detected"). */
async function slowConsumerLines(nats: NatsServer): Promise<string[]> {
  const log = await readFile(nats.logFile, "utf8").catch(() => "");
  return log.split("\n").filter((line) => /slow consumer/i.test(line));
}

interface Scene {
  hub: CliProcess;
  writer: CliProcess;
  stalled: CliProcess;
  observer: CliProcess;
  /** writer, stalled, observer. */
  folders: string[];
  /** Relative path → content, for every file written. */
  written: Map<string, Buffer>;
}

/**
 * A hub and three clients on the slow-consumer server. The stalled client is SIGSTOPped while the
 * writer writes bursts of 2 MiB until the server's log says it cut a slow consumer; then it is
 * SIGCONTed. The hub's timeout is long (30 s), so the hub does not drop the stalled client on its
 * own: only the NATS server's cut can end its connection.
 */
async function stallUntilCut(stalledArgs: readonly string[]): Promise<Scene> {
  const nats = server!;
  const [a, b, c] = await makeFolders("writer", "stalled", "observer");
  const hub = spawnCli(["serve", "--nats", nats.url, "--timeout-ms", "30000"]);
  await hub.waitForEvent((e) => e.event === "listening", 10_000, "the hub to listen");
  await writeFile(nodePath.join(a!, "seed.txt"), "before the stall\n");
  const writer = await startClient(a!, nats.url, ["--reconnect"]);
  const stalled = await startClient(b!, nats.url, stalledArgs);
  const observer = await startClient(c!, nats.url, ["--reconnect"]);
  await waitUntil(
    async () => (await readFile(nodePath.join(b!, "seed.txt"), "utf8").catch(() => "")) !== "",
    10_000,
    "seed.txt on the client to be stalled",
  );

  process.kill(stalled.pid, "SIGSTOP");
  const written = new Map<string, Buffer>();
  try {
    for (let burst = 0; (await slowConsumerLines(nats)).length === 0; burst++) {
      if (burst === MAX_BURSTS) {
        throw new Error(
          `nats-server did not cut the stalled client after ${(written.size * FILE_BYTES) / 2 ** 20} MiB`,
        );
      }
      await mkdir(nodePath.join(a!, `burst-${burst}`));
      // About 4 MiB fill the socket buffers between server and client here: start with that much.
      for (let i = 0; i < (burst === 0 ? 2 * FILES_PER_BURST : FILES_PER_BURST); i++) {
        const path = `burst-${burst}/file-${i}.bin`;
        const data = randomBytes(FILE_BYTES);
        written.set(path, data);
        await writeFile(nodePath.join(a!, path), data);
      }
      // Give the writer and the hub time to push the burst, or the server time to cut.
      await waitUntil(async () => (await slowConsumerLines(nats)).length > 0, 3000, "a slow consumer").catch(
        () => {},
      );
    }
  } finally {
    process.kill(stalled.pid, "SIGCONT");
  }
  return { hub, writer, stalled, observer, folders: [a!, b!, c!], written };
}

describe.skipIf(!hasNats)("a slow consumer on a real nats-server (write_deadline 2s)", () => {
  it("cuts a stalled client; with --reconnect it re-joins and every folder converges byte for byte", async () => {
    const scene = await stallUntilCut(["--reconnect"]);
    const { hub, writer, stalled, observer, folders, written } = scene;
    const cut = await slowConsumerLines(server!);
    expect(cut, cut.join("\n")).toHaveLength(1);

    // The stalled client notices its NATS connection closed under it, and reconnects.
    await stalled.waitForEvent((e) => e.event === "reconnecting", 10_000, "the stalled client to reconnect");
    const tree = await waitForConvergence(folders, 40_000, (t) => t.size >= written.size + 1);
    for (const [path, data] of written) {
      expect(tree.get(path)?.size, path).toBe(FILE_BYTES);
      for (const folder of folders) {
        expect(Buffer.compare(await readFile(nodePath.join(folder, path)), data), `${folder}/${path}`).toBe(
          0,
        );
      }
    }
    expect(await readFile(nodePath.join(folders[1]!, "seed.txt"), "utf8")).toBe("before the stall\n");
    // Only the stalled client was cut: the others never lost their connection, the hub kept running.
    for (const proc of [hub, writer, stalled, observer]) expect(proc.child.exitCode).toBeNull();
    for (const proc of [writer, observer])
      expect(proc.events.some((e) => e.event === "reconnecting")).toBe(false);
    expect(hub.events.some((e) => e.event === "error")).toBe(false);
    // And it is live again: a change made in the stalled folder reaches the others.
    await writeFile(nodePath.join(folders[1]!, "after.txt"), "after the cut\n");
    await waitForConvergence(folders, 15_000, (t) => t.has("after.txt"));
  });

  it("cuts a stalled client; without --reconnect it exits 3 with one stderr line, the others converge", async () => {
    const { hub, writer, stalled, observer, folders, written } = await stallUntilCut([]);
    expect(await slowConsumerLines(server!)).toHaveLength(1);
    const exit = await stalled.waitForExit(10_000);
    expect(exit.code).toBe(3);
    expect(stderrLines(stalled), stalled.stderr()).toHaveLength(1);
    expect(stalled.stderr()).toMatch(
      /^distsync: lost the hub at nats:\/\/127\.0\.0\.1:\d+: .*lost the NATS server/,
    );
    expect(stalled.events.at(-1)).toMatchObject({ event: "stopped", exitCode: 3 });
    // The writer and the observer were not affected.
    const [a, , c] = folders;
    await waitForConvergence([a!, c!], 40_000, (t) => t.size >= written.size + 1);
    const observed = content(await snapshot(c!));
    expect(Object.keys(observed).filter((p) => p.endsWith(".bin"))).toHaveLength(written.size);
    for (const proc of [hub, writer, observer]) expect(proc.child.exitCode).toBeNull();
  });
});
