import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { waitUntil } from "./helpers/tree.js";

// PROTOCOL.md rule 3, "the original's example": A's example.txt was modified at 15:00, B's at 15:30.
const AT_1500 = new Date("2026-01-01T15:00:00.000Z");
const AT_1530 = new Date("2026-01-01T15:30:00.000Z");

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

async function setUp(): Promise<{ a: string; b: string }> {
  const root = await makeTempDir();
  const a = nodePath.join(root, "a");
  const b = nodePath.join(root, "b");
  for (const [dir, text, at] of [
    [a, "A's version, written at 15:00\n", AT_1500],
    [b, "B's version, written at 15:30 (the newer one)\n", AT_1530],
  ] as const) {
    await mkdir(dir);
    await writeFile(nodePath.join(dir, "example.txt"), text);
    await utimes(nodePath.join(dir, "example.txt"), at, at);
  }
  return { a, b };
}

async function expectBsVersionEverywhere(a: string, b: string): Promise<void> {
  const expected = "B's version, written at 15:30 (the newer one)\n";
  await waitUntil(
    async () => (await readFile(nodePath.join(a, "example.txt"), "utf8")) === expected,
    10_000,
    "A to hold B's version",
  );
  expect(await readFile(nodePath.join(b, "example.txt"), "utf8")).toBe(expected);
  for (const dir of [a, b]) {
    const { mtimeMs } = await stat(nodePath.join(dir, "example.txt"));
    expect(Math.abs(mtimeMs - AT_1530.getTime())).toBeLessThanOrEqual(1);
  }
}

describe.each(TRANSPORTS)("the original's clash example through the CLI, over $name", (transport) => {
  transport.useHooks();

  it("A joins first, then B: B's newer version wins on both sides", async () => {
    const { a, b } = await setUp();
    const { url } = await transport.startHub();
    const clientA = await startClient(a, url);
    const clientB = await startClient(b, url);
    await expectBsVersionEverywhere(a, b);
    // A's version was overruled: A applies B's version and reports the conflict.
    const applied = await clientA.waitForEvent((e) => e.event === "applied" && e.path === "example.txt");
    expect(applied.cause).toBe("overruled");
    await clientA.waitForEvent((e) => e.event === "conflict" && e.path === "example.txt");
    expect(clientB.events.some((e) => e.event === "applied")).toBe(false);
  });

  it("B joins first, then A: A's proposal loses and A takes B's version", async () => {
    const { a, b } = await setUp();
    const { url } = await transport.startHub();
    const clientB = await startClient(b, url);
    const clientA = await startClient(a, url);
    await expectBsVersionEverywhere(a, b);
    const applied = await clientA.waitForEvent((e) => e.event === "applied" && e.path === "example.txt");
    expect(applied.cause).toBe("lost");
    await clientA.waitForEvent((e) => e.event === "conflict" && e.path === "example.txt");
    expect(clientB.events.some((e) => e.event === "applied")).toBe(false);
  });

  it("with --conflicts keep, A saves its losing version beside B's, and it syncs", async () => {
    const { a, b } = await setUp();
    const { url } = await transport.startHub();
    await startClient(b, url, ["--name", "laptop"]);
    const clientA = await startClient(a, url, ["--name", "desk", "--conflicts", "keep"]);
    await expectBsVersionEverywhere(a, b);
    const conflict = await clientA.waitForEvent((e) => e.event === "conflict");
    expect(conflict.keptAs).toBe("example.conflict-desk-20260101-150000.txt");
    const kept = "example.conflict-desk-20260101-150000.txt";
    for (const dir of [a, b]) {
      await waitUntil(
        async () =>
          (await readFile(nodePath.join(dir, kept), "utf8").catch(() => "")) ===
          "A's version, written at 15:00\n",
        10_000,
        `the conflict copy in ${dir}`,
      );
    }
  });
});
