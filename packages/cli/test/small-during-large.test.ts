import { randomBytes } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeFolders, removeTempDirs, startClient, startHub } from "./helpers/cli.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const BIG_BYTES = 128 * 1024 * 1024;

describe("a small change made during a large transfer", () => {
  it("reaches the other client before the large file does", async () => {
    const [a, b, staging] = (await makeFolders("a", "b", "staging")) as [string, string, string];
    const { url } = await startHub();
    const writer = await startClient(a, url);
    const reader = await startClient(b, url);

    await writeFile(nodePath.join(staging, "big.bin"), randomBytes(BIG_BYTES));
    await rename(nodePath.join(staging, "big.bin"), nodePath.join(a, "big.bin"));
    // Once the upload is under way (its first progress report), a small file is written.
    await writer.waitForEvent(
      (e) => e.event === "progress" && Number(e.bytesDone) > 0,
      30_000,
      "the large upload to start",
    );
    await writeFile(nodePath.join(a, "small.txt"), "written while big.bin travels\n");
    const small = await reader.waitForEvent(
      (e) => e.event === "applied" && e.path === "small.txt",
      30_000,
      "small.txt at b",
    );
    const big = await reader.waitForEvent(
      (e) => e.event === "applied" && e.path === "big.bin",
      120_000,
      "big.bin at b",
    );
    // Events arrive in order: small.txt was applied while big.bin was still on its way.
    expect(reader.events.indexOf(small)).toBeLessThan(reader.events.indexOf(big));
  });
});
