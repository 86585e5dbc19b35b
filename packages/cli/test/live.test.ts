import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, rename, rm, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type CliProcess, killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { TRANSPORTS } from "./helpers/transports.js";
import { sleep, snapshot, type TreeEntry, waitForConvergence } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const has =
  (path: string, check: (e: TreeEntry) => boolean = () => true) =>
  (tree: Map<string, TreeEntry>): boolean => {
    const entry = tree.get(path);
    return entry !== undefined && check(entry);
  };
const lacks = (path: string) => (tree: Map<string, TreeEntry>) => !tree.has(path);
const all =
  (...checks: ((tree: Map<string, TreeEntry>) => boolean)[]) =>
  (tree: Map<string, TreeEntry>) =>
    checks.every((c) => c(tree));
const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

describe.each(TRANSPORTS)("live changes across three clients of one hub, over $name", (transport) => {
  transport.useHooks();

  it("carries adds, edits, deletes, directories, binaries, renames, editor saves, bursts and the exec bit", async () => {
    const root = await makeTempDir();
    const dirs = ["a", "b", "c"].map((n) => nodePath.join(root, n));
    for (const d of dirs) await mkdir(d);
    const [a, b, c] = dirs as [string, string, string];
    const { url } = await transport.startHub();
    const clients: CliProcess[] = [];
    for (const d of dirs) clients.push(await startClient(d, url));
    const timeout = 15_000;

    // 1. adds: a file, nested directories, an empty directory, a binary file.
    const binary = randomBytes(300 * 1024);
    await writeFile(nodePath.join(a, "hello.txt"), "hello\n");
    await mkdir(nodePath.join(b, "n1/n2/n3"), { recursive: true });
    await writeFile(nodePath.join(b, "n1/n2/n3/deep.txt"), "deep\n");
    await mkdir(nodePath.join(c, "empty"));
    await writeFile(nodePath.join(c, "random.bin"), binary);
    await waitForConvergence(
      dirs,
      timeout,
      all(
        has("hello.txt"),
        has("n1/n2/n3/deep.txt"),
        has("empty", (e) => e.kind === "directory"),
        has("random.bin", (e) => e.sha === sha(binary)),
      ),
    );

    // 2. edit, rename, editor-style save (temp file renamed over the target), exec bit.
    await writeFile(nodePath.join(b, "hello.txt"), "hello, edited on b\n");
    await rename(nodePath.join(a, "n1/n2/n3/deep.txt"), nodePath.join(a, "n1/renamed.txt"));
    await writeFile(nodePath.join(c, "doc.txt.tmp-4242"), "saved by an editor\n");
    await rename(nodePath.join(c, "doc.txt.tmp-4242"), nodePath.join(c, "doc.txt"));
    await writeFile(nodePath.join(b, "run.sh"), "#!/bin/sh\necho hi\n");
    await chmod(nodePath.join(b, "run.sh"), 0o755);
    await waitForConvergence(
      dirs,
      timeout,
      all(
        has("hello.txt", (e) => e.sha === sha("hello, edited on b\n")),
        has("n1/renamed.txt", (e) => e.sha === sha("deep\n")),
        lacks("n1/n2/n3/deep.txt"),
        has("doc.txt", (e) => e.sha === sha("saved by an editor\n")),
        lacks("doc.txt.tmp-4242"),
        has("run.sh", (e) => e.executable === true),
      ),
    );

    // 3. a burst of 20 writes within ~100 ms, and a delete.
    for (let i = 0; i < 20; i++) {
      await writeFile(nodePath.join(a, "burst.txt"), `write number ${i}\n`);
      await sleep(5);
    }
    await rm(nodePath.join(c, "hello.txt"));
    const tree = await waitForConvergence(
      dirs,
      timeout,
      all(
        has("burst.txt", (e) => e.sha === sha("write number 19\n")),
        lacks("hello.txt"),
      ),
    );

    // Every file carries the same mtime everywhere.
    const trees = await Promise.all(dirs.map((d) => snapshot(d)));
    for (const [path, entry] of tree) {
      if (entry.kind !== "file") continue;
      for (const t of trees)
        expect(Math.abs((t.get(path)?.mtimeMs ?? 0) - entry.mtimeMs!)).toBeLessThanOrEqual(1);
    }

    // No echo: once converged, the traffic stops.
    await sleep(300);
    const before = clients.map((p) => p.events.filter((e) => e.event === "sent").length);
    await sleep(500);
    const after = clients.map((p) => p.events.filter((e) => e.event === "sent").length);
    expect(after).toEqual(before);
    for (const p of clients) expect(p.stray).toEqual([]);
  });
});
