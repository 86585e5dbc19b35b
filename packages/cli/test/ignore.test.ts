import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/args.js";
import { killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { webSocket } from "./helpers/transports.js";
import { sleep, snapshot, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const text = (path: string) => readFile(path, "utf8").catch(() => undefined);

describe("ignore rules", () => {
  it("--ignore repeats, and a config file may give a string or a list", async () => {
    const cwd = await makeTempDir();
    const parsed = await parseCommandLine(["sync", "d", "--ignore", "*.bak", "--ignore", "tmp/"], {
      cwd,
      env: {},
    });
    expect(parsed).toMatchObject({ command: "sync", ignore: ["*.bak", "tmp/"] });
    await writeFile(nodePath.join(cwd, "distsync.config.json"), JSON.stringify({ ignore: ["*.o", "*.a"] }));
    expect(await parseCommandLine(["sync", "d"], { cwd, env: {} })).toMatchObject({ ignore: ["*.o", "*.a"] });
    await writeFile(nodePath.join(cwd, "distsync.config.json"), JSON.stringify({ ignore: 3 }));
    await expect(parseCommandLine(["sync", "d"], { cwd, env: {} })).rejects.toThrow(
      /"ignore" must be a string or an array of strings/,
    );
  });

  it(".distsyncignore is shared and applies at once; --ignore and .git/ stay local to their folder", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(nodePath.join(a, ".git"), { recursive: true });
    await mkdir(b);
    await writeFile(nodePath.join(a, ".distsyncignore"), "*.log\nbuild/\n");
    await writeFile(nodePath.join(a, ".git", "HEAD"), "ref: refs/heads/main\n");
    await writeFile(nodePath.join(a, "app.log"), "a's log\n");
    await writeFile(nodePath.join(a, "main.c"), "int main(void) { return 0; }\n");
    const { url } = await webSocket.startHub();
    await startClient(a, url);
    await startClient(b, url, ["--ignore", "*.bak"]);
    await waitUntil(
      async () => (await text(nodePath.join(b, "main.c"))) !== undefined,
      10_000,
      "main.c on b",
    );
    await mkdir(nodePath.join(b, "build"));
    await writeFile(nodePath.join(b, "build", "main.o"), "object code\n");
    await writeFile(nodePath.join(b, "notes.bak"), "b's backup\n");
    await writeFile(nodePath.join(b, "shared.txt"), "from b\n");
    await waitUntil(
      async () => (await text(nodePath.join(a, "shared.txt"))) === "from b\n",
      10_000,
      "shared.txt",
    );
    await sleep(300);
    expect([...(await snapshot(a)).keys()].sort()).toEqual([
      ".distsyncignore",
      ".git",
      ".git/HEAD",
      "app.log",
      "main.c",
      "shared.txt",
    ]);
    expect([...(await snapshot(b)).keys()].sort()).toEqual([
      ".distsyncignore",
      "build",
      "build/main.o",
      "main.c",
      "notes.bak",
      "shared.txt",
    ]);
    // A new rule set, written on b: logs are shared from now on, without a restart.
    await writeFile(nodePath.join(b, ".distsyncignore"), "build/\n");
    await waitUntil(
      async () => (await text(nodePath.join(b, "app.log"))) === "a's log\n",
      10_000,
      "app.log on b",
    );
    expect(await text(nodePath.join(a, "notes.bak"))).toBeUndefined();
  });
});
