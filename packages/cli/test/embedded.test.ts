import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, spawnCli } from "./helpers/cli.js";
import { content, snapshot, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

async function twoDirs(): Promise<{ root: string; a: string; b: string }> {
  const root = await makeTempDir();
  const a = nodePath.join(root, "a");
  const b = nodePath.join(root, "b");
  await mkdir(nodePath.join(a, "docs"), { recursive: true });
  await mkdir(b);
  await writeFile(nodePath.join(a, "docs/a.txt"), "from a\n");
  await writeFile(nodePath.join(b, "b.txt"), "from b\n");
  return { root, a, b };
}

describe("the embedded hub", () => {
  it("--once reconciles both directories, then exits 0", async () => {
    const { root, a, b } = await twoDirs();
    const proc = spawnCli(["sync", "./a", "./b", "--once"], { cwd: root });
    const exit = await proc.waitForExit(15_000);
    expect(exit.code).toBe(0);
    expect(proc.stderr()).toBe("");
    const ready = proc.events.filter((e) => e.event === "ready").map((e) => e.dir);
    expect(ready.sort()).toEqual(["./a", "./b"]);
    expect(proc.events.at(-1)).toMatchObject({ event: "stopped", reason: "once", exitCode: 0 });
    const [ta, tb] = [content(await snapshot(a)), content(await snapshot(b))];
    expect(ta).toEqual(tb);
    expect(Object.keys(ta).sort()).toEqual(["b.txt", "docs", "docs/a.txt"]);
  });

  it("keeps relative directories in sync live, and stops cleanly on SIGTERM", async () => {
    const { root, a, b } = await twoDirs();
    const proc = spawnCli(["sync", "./a", "./b"], { cwd: root });
    await proc.waitForEvent((e) => e.event === "ready" && e.dir === "./a");
    const readyB = await proc.waitForEvent((e) => e.event === "ready" && e.dir === "./b");
    expect(readyB.root).toBe(b);
    await writeFile(nodePath.join(a, "live.txt"), "typed into a\n");
    await waitUntil(
      async () => (await readFile(nodePath.join(b, "live.txt"), "utf8").catch(() => "")) === "typed into a\n",
      10_000,
      "live.txt on b",
    );
    await writeFile(nodePath.join(b, "docs/a.txt"), "edited in b\n");
    await waitUntil(
      async () => (await readFile(nodePath.join(a, "docs/a.txt"), "utf8")) === "edited in b\n",
      10_000,
      "the edit on a",
    );
    proc.kill("SIGTERM");
    const exit = await proc.waitForExit(10_000);
    expect(exit.code).toBe(0);
    expect(proc.events.at(-1)).toEqual({ event: "stopped", reason: "signal", exitCode: 0 });
    expect(proc.stray).toEqual([]);
  });

  it("lets another process join through --port", async () => {
    const { root, a } = await twoDirs();
    const c = nodePath.join(root, "c");
    await mkdir(c);
    const embedded = spawnCli(["sync", "./a", "./b", "--port", "0"], { cwd: root });
    const listening = await embedded.waitForEvent((e) => e.event === "listening");
    expect(String(listening.url)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const joiner = spawnCli(["sync", c, "--server", String(listening.url)]);
    await joiner.waitForEvent((e) => e.event === "ready");
    await embedded.waitForEvent((e) => e.event === "joined" && e.name === "c");
    await waitUntil(
      async () => JSON.stringify(content(await snapshot(c))) === JSON.stringify(content(await snapshot(a))),
      10_000,
      "c to match a",
    );
  });

  it("prints readable lines without --json", async () => {
    const { root } = await twoDirs();
    const proc = spawnCli(["sync", "./a", "./b", "--once"], { cwd: root, json: false });
    expect((await proc.waitForExit(15_000)).code).toBe(0);
    const lines = proc.stray;
    // Which directory joins first varies: the first is ready with its own file, the second with both.
    expect(lines.filter((l) => /^ready \.\/[ab] \([12] files?\)$/.test(l))).toHaveLength(2);
    expect(lines).toContain("[./a] sent docs/a.txt (write, 7 B)");
    expect(lines).toContain("[./b] applied docs/a.txt (write, 7 B, from a)");
    expect(lines.at(-1)).toBe("stopped (once)");
  });

  it("serve stops cleanly on SIGINT", async () => {
    const hub = spawnCli(["serve", "--port", "0"]);
    await hub.waitForEvent((e) => e.event === "listening");
    hub.kill("SIGINT");
    expect((await hub.waitForExit()).code).toBe(0);
    expect(hub.events.at(-1)).toEqual({ event: "stopped", reason: "signal", exitCode: 0 });
    expect(hub.stderr()).toBe("");
  });

  it("always ends with the last write of a burst (chokidar drops events inside its 50 ms throttle)", async () => {
    const { root, a, b } = await twoDirs();
    const proc = spawnCli(["sync", "./a", "./b"], { cwd: root });
    await proc.waitForEvent((e) => e.event === "ready" && e.dir === "./a");
    await proc.waitForEvent((e) => e.event === "ready" && e.dir === "./b");
    for (let round = 0; round < 6; round++) {
      const name = `burst-${round}.txt`;
      for (let i = 0; i < 20; i++) {
        await writeFile(nodePath.join(a, name), `round ${round}, write ${String(i).padStart(2, "0")}\n`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const last = `round ${round}, write 19\n`;
      await waitUntil(
        async () => (await readFile(nodePath.join(b, name), "utf8").catch(() => "")) === last,
        5000,
        `the last write of round ${round} on b`,
      );
    }
  });
});
