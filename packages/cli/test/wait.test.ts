import { mkdir, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, spawnCli, startClient, stderrLines } from "./helpers/cli.js";
import { webSocket } from "./helpers/transports.js";
import { content, snapshot } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

async function folders(...names: string[]): Promise<string[]> {
  const root = await makeTempDir();
  const out = names.map((n) => nodePath.join(root, n));
  for (const d of out) await mkdir(d);
  return out;
}

describe("distsync wait", () => {
  it("returns once every change made before it is on every connected client", async () => {
    const [a, b, c] = await folders("a", "b", "c");
    const { url } = await webSocket.startHub();
    await startClient(a!, url);
    await startClient(b!, url);
    await startClient(c!, url);
    await mkdir(nodePath.join(a!, "src"));
    for (let i = 0; i < 40; i++)
      await writeFile(nodePath.join(a!, "src", `m${i}.ts`), `export const m${i} = ${i};\n`);
    await writeFile(nodePath.join(a!, "big.bin"), Buffer.alloc(3 * 1024 * 1024, 7));
    const wait = spawnCli(["wait", a!]);
    const exit = await wait.waitForExit(20_000);
    expect(exit.code).toBe(0);
    expect(wait.events).toEqual([{ event: "synced", dir: a }]);
    // The guarantee: at the moment wait returns, the others hold exactly what a holds.
    const expected = content(await snapshot(a!));
    expect(Object.keys(expected)).toHaveLength(42);
    expect(content(await snapshot(b!))).toEqual(expected);
    expect(content(await snapshot(c!))).toEqual(expected);
  });

  it("keeps waiting while a connected client has not applied the change, and times out with exit 1", async () => {
    const [a, b] = await folders("a", "b");
    const { url } = await webSocket.startHub();
    await startClient(a!, url);
    const frozen = await startClient(b!, url);
    frozen.kill("SIGSTOP");
    await writeFile(nodePath.join(a!, "report.txt"), "for everyone\n");
    const wait = spawnCli(["wait", a!, "--timeout", "2"], { json: false });
    const exit = await wait.waitForExit(10_000);
    expect(exit.code).toBe(1);
    expect(stderrLines(wait)).toHaveLength(1);
    expect(wait.stderr()).toMatch(/not synced after 2 s \(live, 0 pending, delivered up to \d+ of \d+\)/);
    frozen.kill("SIGCONT");
    const again = spawnCli(["wait", a!], { json: false });
    expect((await again.waitForExit(15_000)).code).toBe(0);
    expect(again.stray).toEqual([`synced ${a}`]);
  });

  it("exits 2 with one line when no sync runs for the folder, and 4 when the folder is missing", async () => {
    const [idle] = await folders("idle");
    const none = spawnCli(["wait", idle!], { json: false });
    expect((await none.waitForExit(10_000)).code).toBe(2);
    expect(stderrLines(none)).toEqual([expect.stringMatching(/no 'distsync sync' is running for /)]);
    const missing = spawnCli(["wait", nodePath.join(idle!, "nope")], { json: false });
    expect((await missing.waitForExit(10_000)).code).toBe(4);
  });
});
