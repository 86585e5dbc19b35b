#!/usr/bin/env node
// The README's main job: two local folders kept in sync by an embedded hub, with what happens
// printed. Seeds ./demo/a and ./demo/b (including the clash example), runs
// `distsync sync demo/a demo/b`, makes a few edits, checks both folders match, and keeps syncing
// until Ctrl-C (or exits after the edits with --exit).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "packages/cli/dist/index.js");
const demo = join(root, "demo");
const a = join(demo, "a");
const b = join(demo, "b");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (line) => console.log(`\x1b[36mdemo:\x1b[0m ${line}`);

if (!existsSync(cli)) {
  console.error("demo: the CLI is not built; run `pnpm demo` (it builds first)");
  process.exit(1);
}

await rm(demo, { recursive: true, force: true });
await mkdir(join(a, "docs"), { recursive: true });
await mkdir(b, { recursive: true });
await writeFile(join(a, "hello.txt"), "hello from folder a\n");
await writeFile(join(a, "docs/guide.md"), "# Guide\n\nWritten in a.\n");
await writeFile(join(b, "notes.txt"), "notes from folder b\n");
// The original's clash example: the same file in both, b's copy is newer and must win everywhere.
// Yesterday's 15:00 and 15:30: times in the past (a hub records an mtime more than 5 minutes in
// its future at its own time, which would blur the example when it runs before 15:30).
const day = new Date(Date.now() - 24 * 3600 * 1000);
const at = (h, m) => new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, m);
await writeFile(join(a, "example.txt"), "a's copy, modified 15:00\n");
await writeFile(join(b, "example.txt"), "b's copy, modified 15:30\n");
await utimes(join(a, "example.txt"), at(15, 0), at(15, 0));
await utimes(join(b, "example.txt"), at(15, 30), at(15, 30));
say(
  "seeded demo/a (hello.txt, docs/guide.md, example.txt@15:00) and demo/b (notes.txt, example.txt@15:30), yesterday",
);
say("running: distsync sync demo/a demo/b   (an embedded hub keeps them in sync)");

const child = spawn(process.execPath, [cli, "sync", "demo/a", "demo/b"], {
  cwd: root,
  stdio: ["ignore", "pipe", "inherit"],
});
let ready = 0;
child.stdout.setEncoding("utf8");
child.stdout.on("data", (text) => {
  process.stdout.write(text);
  ready += (text.match(/ready/g) ?? []).length;
});
child.on("exit", (code) => process.exit(code ?? 0));
process.on("SIGINT", () => child.kill("SIGINT"));
process.on("SIGTERM", () => child.kill("SIGTERM"));

while (ready < 2) await sleep(50);
await sleep(500);
say("edits: a/new.txt created, b/notes.txt changed, a/hello.txt deleted, b/empty-dir made");
await writeFile(join(a, "new.txt"), "created in a after both were ready\n");
await sleep(300);
await writeFile(join(b, "notes.txt"), "notes from folder b, edited\n");
await sleep(300);
await rm(join(a, "hello.txt"));
await sleep(300);
await mkdir(join(b, "empty-dir"));
await sleep(1000);

const [ta, tb] = await Promise.all([tree(a), tree(b)]);
say(`demo/a and demo/b identical: ${ta === tb ? "yes" : "NO"}`);
say(`example.txt in a now says: ${(await readFile(join(a, "example.txt"), "utf8")).trim()}`);
if (process.argv.includes("--exit")) {
  child.kill("SIGINT");
} else {
  say("still syncing: edit files in demo/a or demo/b and watch; Ctrl-C to stop");
}

async function tree(dir, prefix = "") {
  const lines = [];
  for (const name of (await readdir(dir)).sort()) {
    // Each client's own state (its saved index, its status), never synced.
    if (name === ".distsync") continue;
    const full = join(dir, name);
    const s = await stat(full);
    if (s.isDirectory()) lines.push(`${prefix}${name}/`, await tree(full, `${prefix}${name}/`));
    else
      lines.push(
        `${prefix}${name} ${createHash("sha256")
          .update(await readFile(full))
          .digest("hex")} ${Math.round(s.mtimeMs)}`,
      );
  }
  return lines.join("\n");
}
