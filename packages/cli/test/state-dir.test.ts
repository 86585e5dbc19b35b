import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  killAll,
  makeFolders,
  makeTempDir,
  removeTempDirs,
  spawnCli,
  startClient,
  stderrLines,
} from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { waitForConvergence, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe.each(TRANSPORTS)("serve --state-dir, over $name", (transport) => {
  transport.useHooks();

  it("loses no acknowledged change to kill -9: a new client of the restarted hub gets every file, and no deleted one", async () => {
    const [a, c] = await makeFolders("a", "c");
    const state = nodePath.join(await makeTempDir(), "state");
    const first = await transport.startHub(["--state-dir", state, ...transport.fastLossArgs]);
    const writer = await startClient(a!, first.url);
    await writeFile(nodePath.join(a!, "kept.txt"), "acknowledged before the crash\n");
    await mkdir(nodePath.join(a!, "nested/deeper"), { recursive: true });
    await writeFile(nodePath.join(a!, "nested/deeper/big.bin"), randomBytes(300_000));
    await writeFile(nodePath.join(a!, "deleted.txt"), "short-lived\n");
    for (const path of ["kept.txt", "nested/deeper/big.bin", "deleted.txt"])
      await writer.waitForEvent((e) => e.event === "sent" && e.path === path, 10_000, `ack of ${path}`);
    await rm(nodePath.join(a!, "deleted.txt"));
    await writer.waitForEvent(
      (e) => e.event === "sent" && e.path === "deleted.txt" && e.op === "delete",
      10_000,
      "ack of the deletion",
    );
    // The only client that held the files leaves: from now on only the hub's disk has them.
    writer.kill("SIGTERM");
    await writer.waitForExit(5000);
    first.hub.kill("SIGKILL");
    await first.hub.exited;

    const second = await transport.restartHub(first, ["--state-dir", state]);
    const reader = await startClient(c!, second.url);
    const tree = await waitForConvergence([a!, c!], 15_000);
    expect([...tree.keys()].sort()).toEqual(["kept.txt", "nested", "nested/deeper", "nested/deeper/big.bin"]);
    expect(sha(await readFile(nodePath.join(c!, "nested/deeper/big.bin")))).toBe(
      sha(await readFile(nodePath.join(a!, "nested/deeper/big.bin"))),
    );
    expect(reader.events.some((e) => e.event === "applied" && e.path === "deleted.txt")).toBe(false);
  });

  it("clients that reconnect to the restarted hub re-join where they left off: no re-upload, no conflict", async () => {
    const [a, b] = await makeFolders("a", "b");
    const state = nodePath.join(await makeTempDir(), "state");
    const first = await transport.startHub(["--state-dir", state, ...transport.fastLossArgs]);
    for (let i = 0; i < 20; i++) await writeFile(nodePath.join(a!, `f${i}.txt`), `file ${i}\n`);
    const clientA = await startClient(a!, first.url, ["--reconnect"]);
    const clientB = await startClient(b!, first.url, ["--reconnect"]);
    await waitUntil(
      async () => (await readdir(b!)).filter((n) => n.endsWith(".txt")).length === 20,
      15_000,
      "b has the 20 files",
    );
    first.hub.kill("SIGKILL");
    await clientA.waitForEvent((e) => e.event === "reconnecting", 8000, "A reconnecting");
    const second = await transport.restartHub(first, ["--state-dir", state]);
    for (const client of [clientA, clientB])
      await waitUntil(
        () => client.events.filter((e) => e.event === "connected").length >= 2,
        15_000,
        "the client to re-join the restarted hub",
      );
    await writeFile(nodePath.join(a!, "after.txt"), "after the restart\n");
    await waitUntil(
      async () =>
        (await readFile(nodePath.join(b!, "after.txt"), "utf8").catch(() => "")) === "after the restart\n",
      15_000,
      "after.txt on b",
    );
    // The restarted hub committed exactly one change: after.txt. Nothing was re-sent or clashed.
    const changes = second.hub.events.filter((e) => e.event === "change");
    expect(changes.map((e) => e.path)).toEqual(["after.txt"]);
    expect(second.hub.events.filter((e) => e.event === "conflict")).toEqual([]);
  });

  it("refuses a state directory another running hub holds, with exit 2 and one line", async () => {
    const state = nodePath.join(await makeTempDir(), "state");
    await transport.startHub(["--state-dir", state]);
    const other = spawnCli(["serve", "--port", "0", "--state-dir", state]);
    const exit = await other.waitForExit(10_000);
    expect(exit.code).toBe(2);
    expect(stderrLines(other)).toHaveLength(1);
    expect(other.stderr()).toMatch(/--state-dir .*in use by another hub \(process \d+\)/);
  });
});
