import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient, startHub } from "./helpers/cli.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

describe("a thousand files", () => {
  it("reach an empty client, which reports ready with all of them", { timeout: 90_000 }, async () => {
    const root = await makeTempDir();
    const full = nodePath.join(root, "full");
    const empty = nodePath.join(root, "empty");
    await mkdir(empty);
    // 10 nested directories (level0/level1/…/level9), 100 small files in each.
    const files: string[] = [];
    let dir = "";
    for (let level = 0; level < 10; level++) {
      dir = dir === "" ? `level${level}` : `${dir}/level${level}`;
      await mkdir(nodePath.join(full, dir), { recursive: true });
      for (let i = 0; i < 100; i++) files.push(`${dir}/file-${i}.txt`);
    }
    await Promise.all(files.map((f) => writeFile(nodePath.join(full, f), `content of ${f}\n`)));

    const { url } = await startHub();
    await startClient(full, url, [], {}, 40_000);
    const started = Date.now();
    const client = await startClient(empty, url, [], {}, 40_000);
    const ready = client.events.find((e) => e.event === "ready");
    expect(ready).toMatchObject({ files: 1000 });
    const took = Date.now() - started;

    // "ready" means the folder matches the hub: every file is there already.
    const texts = await Promise.all(files.map((f) => readFile(nodePath.join(empty, f), "utf8")));
    texts.forEach((text, i) => {
      expect(text).toBe(`content of ${files[i]}\n`);
    });
    // About 10 s on a 2-core machine today (the engine applies ~100 small files a second).
    expect(took).toBeLessThan(40_000);
  });
});
