import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeFolders, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { sleep, waitForConvergence, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const BIG_BYTES = 48 * 1024 * 1024;

/** Bytes of every file below `dir` (0 when it does not exist yet). */
async function bytesBelow(dir: string): Promise<number> {
  let total = 0;
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  for (const name of names) {
    const s = await stat(nodePath.join(dir, String(name))).catch(() => undefined);
    if (s?.isFile()) total += s.size;
  }
  return total;
}

const tempFiles = async (dir: string) =>
  (await readdir(dir, { recursive: true })).map(String).filter((n) => /\.distsync-[0-9a-f]+\.tmp$/.test(n));

describe.each(TRANSPORTS)(
  "kill -9 of a --state-dir hub in the middle of a large upload, over $name",
  (transport) => {
    transport.useHooks();

    it("restarts from its state dir: acknowledged files kept, the large file re-sent and delivered whole, no partial file anywhere", async () => {
      const [a, b, staging] = (await makeFolders("a", "b", "staging")) as [string, string, string];
      const state = nodePath.join(await makeTempDir(), "state");
      const first = await transport.startHub(["--state-dir", state, ...transport.fastLossArgs]);
      const writer = await startClient(a, first.url, ["--reconnect"]);
      const reader = await startClient(b, first.url, ["--reconnect"]);

      await writeFile(nodePath.join(a, "before.txt"), "acknowledged before the crash\n");
      await writer.waitForEvent(
        (e) => e.event === "sent" && e.path === "before.txt",
        10_000,
        "ack of before.txt",
      );

      // Written beside the folder and renamed in, so the client reads one finished file.
      const big = randomBytes(BIG_BYTES);
      await writeFile(nodePath.join(staging, "big.bin"), big);
      await rename(nodePath.join(staging, "big.bin"), nodePath.join(a, "big.bin"));
      // Mid-transfer: the hub's state dir holds part of the file, not all of it.
      const content = nodePath.join(state, "content");
      await waitUntil(
        async () => (await bytesBelow(content)) >= 4 * 1024 * 1024,
        20_000,
        "the hub to store the first MiBs of big.bin",
      );
      const storedAtKill = await bytesBelow(content);
      first.hub.kill("SIGKILL");
      await first.hub.exited;
      expect(storedAtKill).toBeLessThan(BIG_BYTES);
      expect(writer.events.some((e) => e.event === "sent" && e.path === "big.bin")).toBe(false);

      // While the hub is down: the reader holds no part of big.bin at its final path.
      await sleep(300);
      await expect(stat(nodePath.join(b, "big.bin"))).rejects.toThrow();

      const second = await transport.restartHub(first, ["--state-dir", state, ...transport.fastLossArgs]);
      // A change made while the hub was down travels too.
      await writeFile(nodePath.join(a, "during.txt"), "written while the hub was down\n");
      const tree = await waitForConvergence([a, b], 60_000, (t) => t.has("big.bin") && t.has("during.txt"));
      expect([...tree.keys()].sort()).toEqual(["before.txt", "big.bin", "during.txt"]);
      expect(sha(await readFile(nodePath.join(b, "big.bin")))).toBe(sha(big));
      for (const d of [a, b]) expect(await tempFiles(d)).toEqual([]);
      for (const cl of [writer, reader]) {
        expect(cl.child.exitCode).toBeNull();
        expect(cl.events.some((e) => e.event === "reconnecting")).toBe(true);
        expect(cl.events.filter((e) => e.op === "delete")).toEqual([]);
      }
      // The half-stored upload does not stay as garbage: the restarted hub holds about one copy.
      await writer.waitForEvent((e) => e.event === "sent" && e.path === "big.bin", 10_000, "ack of big.bin");
      expect(await bytesBelow(content)).toBeLessThan(BIG_BYTES * 1.5);
      expect(second.hub.child.exitCode).toBeNull();
    });
  },
);
