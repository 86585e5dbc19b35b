import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, PACKAGE_DIR, REPO_DIR, removeTempDirs } from "./helpers/cli.js";

const run = promisify(execFile);

afterEach(async () => {
  await removeTempDirs();
});

describe("the published package", () => {
  it("installs from packed tarballs and runs `distsync --version`", { timeout: 180_000 }, async () => {
    const tarballs = await makeTempDir("distsync-pack-");
    for (const name of ["core", "transport-ws", "transport-nats", "cli"]) {
      await run("pnpm", ["pack", "--pack-destination", tarballs], {
        cwd: nodePath.join(REPO_DIR, "packages", name),
      });
    }
    const files = (await readdir(tarballs))
      .filter((f) => f.endsWith(".tgz"))
      .map((f) => nodePath.join(tarballs, f));
    expect(files).toHaveLength(4);

    const project = await makeTempDir("distsync-install-");
    await writeFile(
      nodePath.join(project, "package.json"),
      JSON.stringify({ name: "try-distsync", private: true }),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...files], {
      cwd: project,
      timeout: 150_000,
    });
    const { stdout } = await run(nodePath.join(project, "node_modules/.bin/distsync"), ["--version"], {
      cwd: project,
    });
    const pkg = JSON.parse(await readFile(nodePath.join(PACKAGE_DIR, "package.json"), "utf8")) as {
      version: string;
    };
    expect(stdout.trim()).toBe(pkg.version);
  });
});
