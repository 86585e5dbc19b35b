import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { webSocket } from "./helpers/transports.js";
import { waitForConvergence, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const HOUR = 3600_000;

describe("a client whose clock runs ahead", () => {
  it("cannot win every later clash: the hub records its future mtime at the hub's time, and a later edit elsewhere wins", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(a);
    await mkdir(b);
    const { hub, url } = await webSocket.startHub();
    const clientA = await startClient(a, url);
    await startClient(b, url);

    // What a machine whose clock is two hours ahead writes: a file stamped two hours from now.
    const skewed = nodePath.join(a, "notes.txt");
    await writeFile(skewed, "written on the machine with the fast clock\n");
    const future = new Date(Date.now() + 2 * HOUR);
    await utimes(skewed, future, future);
    const before = Date.now();
    await waitUntil(
      async () => (await readFile(nodePath.join(b, "notes.txt"), "utf8").catch(() => "")) !== "",
      10_000,
      "notes.txt on b",
    );
    // Recorded (and delivered) at the hub's time, not two hours ahead; the writer adopts it too.
    const onB = (await stat(nodePath.join(b, "notes.txt"))).mtimeMs;
    expect(Math.abs(onB - before)).toBeLessThan(60_000);
    await waitUntil(
      async () => Math.abs((await stat(skewed)).mtimeMs - onB) < 1,
      5000,
      "the writer to adopt the hub's mtime",
    );
    expect(hub.events.filter((e) => e.event === "change" && e.path === "notes.txt")).toHaveLength(1);

    // A normal clock edits it a moment later: that edit is the latest, so it wins everywhere.
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(nodePath.join(b, "notes.txt"), "a later edit on a machine with a correct clock\n");
    await waitUntil(
      async () => (await readFile(skewed, "utf8")) === "a later edit on a machine with a correct clock\n",
      10_000,
      "b's later edit to reach a",
    );
    await waitForConvergence([a, b], 10_000);
    // Nothing loops: the writer did not re-send its file after adopting the hub's mtime.
    const sent = clientA.events.filter((e) => e.event === "sent" && e.path === "notes.txt");
    expect(sent).toHaveLength(1);
    expect(hub.events.filter((e) => e.event === "conflict")).toEqual([]);
  });
});
