// Keeps the CLI reference page complete: every flag that `distsync --help` and the help of each
// command mention, and every configuration key the general help lists, must be documented on
// reference/cli.md. Runs the BUILT command (`pnpm build` first; `pnpm test` builds it).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../../packages/cli/dist/index.js", import.meta.url));
const PAGE = fileURLToPath(new URL("../docs/reference/cli.md", import.meta.url));

const run = promisify(execFile);

/** The help text of one topic ("" for the general one), as a user sees it: `distsync help [topic]`. */
async function help(topic: string): Promise<string> {
  const args = topic === "" ? [CLI, "help"] : [CLI, "help", topic];
  const { stdout } = await run(process.execPath, args, { timeout: 15_000 });
  return stdout;
}

/** Every long flag a text mentions (`--state-dir`, `--help`, …), once each. */
function flagsIn(text: string): string[] {
  return [...new Set(text.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])].sort();
}

/** The first cell of every table row on the page: `| \`--port N\` | …` gives "`--port N`". */
function firstCells(page: string): string[] {
  return page
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.split("|")[1]?.trim() ?? "");
}

describe("the CLI reference page", () => {
  const texts = new Map<string, string>();
  let topics: string[] = [];
  let page = "";

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`the built CLI is missing (${CLI}): run 'pnpm build' first`);
    const general = await help("");
    texts.set("", general);
    // The topics come from the general help's own usage line, `distsync help [serve|sync|status]`,
    // so a new command is checked as soon as its help exists.
    const usage = /distsync help \[([a-z|]+)\]/.exec(general)?.[1];
    if (usage === undefined) throw new Error("the general help has no 'distsync help [topic|…]' line");
    topics = ["", ...usage.split("|")];
    for (const topic of topics.slice(1)) texts.set(topic, await help(topic));
    page = await readFile(PAGE, "utf8");
  });

  it("finds the flags in every help text (the extraction works)", () => {
    expect(topics).toEqual(expect.arrayContaining(["serve", "sync", "status"]));
    for (const topic of topics) expect(flagsIn(texts.get(topic) ?? ""), `help ${topic}`).not.toEqual([]);
    expect(flagsIn(texts.get("serve") ?? "")).toContain("--state-dir");
    expect(flagsIn(texts.get("sync") ?? "")).toContain("--allow-mass-delete");
  });

  it("has a row in a table for every flag of every help text", () => {
    const cells = firstCells(page);
    const missing: string[] = [];
    for (const topic of topics) {
      for (const flag of flagsIn(texts.get(topic) ?? "")) {
        const documented = cells.some((cell) => new RegExp(`\`${flag}(?![a-z0-9-])`).test(cell));
        if (!documented) missing.push(`${flag} (distsync help ${topic || ""})`.replace(" )", ")"));
      }
    }
    expect(missing, "flags in the help but not in a table of reference/cli.md").toEqual([]);
  });

  it("lists every configuration key that the general help names", () => {
    const general = texts.get("") ?? "";
    const section = general.slice(general.indexOf("Configuration:"), general.indexOf("Exit codes:"));
    const keys = [...new Set([...section.matchAll(/"([a-z][a-z-]*)"/g)].map((m) => m[1] as string))];
    expect(keys).toContain("state-dir");
    const cells = new Set(firstCells(page));
    const missing = keys.filter((key) => !cells.has(`\`${key}\``));
    expect(missing, "configuration keys in the help but not in the table of reference/cli.md").toEqual([]);
  });
});
