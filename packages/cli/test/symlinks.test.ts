// Symbolic links end to end: a real hub and two real `distsync sync` processes on 127.0.0.1,
// folders in temp directories. Links whose target stays inside the folder arrive as links; a link
// leading outside is skipped with one `skipped` event and never reaches the other folder.
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CliProcess,
  killAll,
  makeTempDir,
  removeTempDirs,
  startClient,
  startHub,
} from "./helpers/cli.js";
import { waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const linkText = (path: string) => readlink(path).catch(() => undefined);
const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

function skips(client: CliProcess, path: string) {
  return client.events.filter((e) => e.event === "skipped" && e.path === path);
}

/** Writes a file in `from` and waits for it in `to`: everything `from` did before has been sent. */
async function barrier(from: string, to: string, name: string): Promise<void> {
  await writeFile(nodePath.join(from, name), name);
  await waitUntil(
    async () => (await readFile(nodePath.join(to, name), "utf8").catch(() => "")) === name,
    15_000,
    `${name} to reach the other folder`,
  );
}

describe("symbolic links between two distsync processes", () => {
  it("links inside arrive as links, a link leading outside is skipped once, deleting a link keeps its target", async () => {
    const root = await makeTempDir();
    const [a, b] = [nodePath.join(root, "a"), nodePath.join(root, "b")];
    await mkdir(a);
    await mkdir(b);
    await writeFile(nodePath.join(root, "secret.txt"), "outside the folder\n");
    await mkdir(nodePath.join(a, "docs/deep"), { recursive: true });
    await writeFile(nodePath.join(a, "docs/a.txt"), "the target\n");
    await writeFile(nodePath.join(a, "docs/deep/b.txt"), "deeper\n");
    await symlink("a.txt", nodePath.join(a, "docs/link-to-file"));
    await symlink("docs", nodePath.join(a, "link-to-dir"));
    await symlink("../secret.txt", nodePath.join(a, "escape"));

    const { url } = await startHub();
    const clientA = await startClient(a, url);
    const clientB = await startClient(b, url);

    await waitUntil(
      async () => (await linkText(nodePath.join(b, "link-to-dir"))) === "docs",
      15_000,
      "link-to-dir on b",
    );
    expect(await linkText(nodePath.join(b, "docs/link-to-file"))).toBe("a.txt");
    expect((await lstat(nodePath.join(b, "link-to-dir"))).isSymbolicLink()).toBe(true);
    expect(await readFile(nodePath.join(b, "link-to-dir/deep/b.txt"), "utf8")).toBe("deeper\n");
    // The directory below the link was not synced a second time: nothing was sent under it.
    const sent = clientA.events.filter((e) => e.event === "sent").map((e) => String(e.path));
    expect(sent.filter((p) => p.startsWith("link-to-dir/"))).toEqual([]);
    expect(sent).toEqual(expect.arrayContaining(["docs/link-to-file", "link-to-dir"]));
    // The link leading outside: absent on b, one warning on a.
    expect(await exists(nodePath.join(b, "escape"))).toBe(false);
    expect(skips(clientA, "escape")).toHaveLength(1);
    expect(String(skips(clientA, "escape")[0]?.reason)).toMatch(
      /symbolic link not synced: target leads outside/,
    );

    // While running: new links through the watcher, and an outside one touched again and again.
    await symlink("../docs/deep", nodePath.join(a, "docs/deep-link"));
    await symlink("/etc", nodePath.join(a, "abs-escape"));
    await waitUntil(
      async () => (await linkText(nodePath.join(b, "docs/deep-link"))) === "../docs/deep",
      15_000,
      "docs/deep-link on b",
    );
    for (let i = 0; i < 3; i++) {
      await rm(nodePath.join(a, "abs-escape"));
      await symlink("/etc", nodePath.join(a, "abs-escape"));
      await barrier(a, b, `barrier-${i}.txt`);
    }
    expect(await exists(nodePath.join(b, "abs-escape"))).toBe(false);
    expect(skips(clientA, "abs-escape")).toHaveLength(1);
    expect(skips(clientA, "escape")).toHaveLength(1);

    // A link made on b replaces a file on a, and a file replaces a link.
    await writeFile(nodePath.join(a, "swap"), "a file\n");
    await waitUntil(
      async () => (await readFile(nodePath.join(b, "swap"), "utf8").catch(() => "")) === "a file\n",
      15_000,
      "swap on b",
    );
    await rm(nodePath.join(b, "swap"));
    await symlink("docs/a.txt", nodePath.join(b, "swap"));
    await waitUntil(
      async () => (await linkText(nodePath.join(a, "swap"))) === "docs/a.txt",
      15_000,
      "swap as a link on a",
    );

    // Deleting a link deletes it everywhere and leaves its target.
    await rm(nodePath.join(a, "docs/link-to-file"));
    await rm(nodePath.join(a, "link-to-dir"));
    await waitUntil(
      async () =>
        !(await exists(nodePath.join(b, "docs/link-to-file"))) &&
        !(await exists(nodePath.join(b, "link-to-dir"))),
      15_000,
      "the links deleted on b",
    );
    for (const dir of [a, b]) {
      expect(await readFile(nodePath.join(dir, "docs/a.txt"), "utf8")).toBe("the target\n");
      expect(await readFile(nodePath.join(dir, "docs/deep/b.txt"), "utf8")).toBe("deeper\n");
    }
    expect(await readFile(nodePath.join(root, "secret.txt"), "utf8")).toBe("outside the folder\n");
    expect((await readdir(root)).sort()).toEqual(["a", "b", "secret.txt"]);
    // Neither process reported an error.
    for (const client of [clientA, clientB])
      expect(client.events.filter((e) => e.event === "error")).toEqual([]);
  });
});
