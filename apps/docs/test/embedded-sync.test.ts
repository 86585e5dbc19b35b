// Runs the docs' embedded-sync example against real folders, so the example cannot rot.
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChangeInfo } from "@distsync/core";
import { waitFor } from "@distsync/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddedSync, startEmbeddedSync } from "../examples/embedded-sync.js";

const AT_1500 = new Date("2026-01-01T15:00:00.000Z");

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

describe("examples/embedded-sync.ts", () => {
  let root: string | undefined;
  let running: EmbeddedSync | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
    if (root) await rm(root, { recursive: true, force: true });
    root = undefined;
  });

  it("syncs two real folders through a hub on 127.0.0.1, both ways", async () => {
    root = await mkdtemp(join(tmpdir(), "distsync-docs-"));
    const a = join(root, "a");
    const b = join(root, "b");
    await mkdir(join(a, "notes"), { recursive: true });
    await mkdir(b);
    await writeFile(join(a, "notes", "hello.txt"), "written before the start\n");
    await utimes(join(a, "notes", "hello.txt"), AT_1500, AT_1500);

    const applied: { dir: string; change: ChangeInfo }[] = [];
    running = await startEmbeddedSync([a, b], (dir, change) => applied.push({ dir, change }));
    expect(running.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);

    // What was in a before the start reaches b, with a's modification time.
    await waitFor(
      async () => (await readText(join(b, "notes", "hello.txt"))) === "written before the start\n",
      {
        timeoutMs: 10_000,
        message: "notes/hello.txt in b",
      },
    );
    expect(
      Math.abs((await stat(join(b, "notes", "hello.txt"))).mtimeMs - AT_1500.getTime()),
    ).toBeLessThanOrEqual(1);

    // A change made while running flows the other way.
    await writeFile(join(b, "from-b.txt"), "written while running\n");
    await waitFor(async () => (await readText(join(a, "from-b.txt"))) === "written while running\n", {
      timeoutMs: 10_000,
      message: "from-b.txt in a",
    });
    expect(
      applied.some((e) => e.dir === a && e.change.path === "from-b.txt" && e.change.op === "write"),
    ).toBe(true);

    // status() of the hub and of the clients.
    const space = running.hub.status().spaces.find((s) => s.name === "default");
    expect(space?.clients).toHaveLength(2);
    expect(space?.files).toBe(2);
    for (const client of running.clients) expect(client.status().state).toBe("live");

    const clients = running.clients;
    await running.stop();
    running = undefined;
    for (const client of clients) expect((await client.closed).reason).toBe("stopped");
  });
});
