import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, PACKAGE_DIR, removeTempDirs, spawnCli, stderrLines } from "./helpers/cli.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

async function run(args: string[], options: { cwd?: string; json?: boolean } = {}) {
  const proc = spawnCli(args, { json: false, ...options });
  const exit = await proc.waitForExit();
  return { exit, proc, lines: stderrLines(proc) };
}

describe("usage and configuration errors exit 2 with one line on stderr", () => {
  it.each([
    ["an unknown flag", ["sync", ".", "--bogus"], /unknown option '--bogus'/i],
    ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["no command", [], /missing command/],
    ["sync without a directory", ["sync"], /needs at least one directory/],
    ["a flag of the other command", ["serve", "--once"], /--once is not an option of 'serve'/],
    ["a bad port", ["serve", "--port", "70000"], /--port must be an integer from 0 to 65535/],
    ["a bad conflicts policy", ["sync", ".", "--conflicts", "merge"], /--conflicts must be one of lww, keep/],
    ["an invalid URL", ["sync", ".", "--server", "not a url"], /invalid hub URL/],
    ["an unsupported scheme", ["sync", ".", "--server", "http://example.com"], /unsupported hub URL scheme/],
    ["a NATS URL with a path", ["sync", ".", "--server", "nats://127.0.0.1:1/x"], /a NATS URL has no path/],
    ["a bad --nats URL", ["serve", "--nats", "ws://127.0.0.1:1"], /unsupported URL scheme 'ws:'/],
    ["--nats with --port", ["serve", "--nats", "nats://127.0.0.1:1", "--port", "1"], /--port .* --nats/],
    ["--nats-token without --nats", ["serve", "--nats-token", "t"], /--nats-token .* needs --nats URL/],
    [
      "--subject-prefix with a WebSocket hub",
      ["sync", ".", "--server", "ws://h:1", "--subject-prefix", "p"],
      /--subject-prefix .* needs --server nats:/,
    ],
    [
      "a bad --subject-prefix",
      ["sync", ".", "--server", "nats://127.0.0.1:1", "--subject-prefix", "a.*"],
      /subjectPrefix must be/,
    ],
    ["--ca with a NATS hub", ["sync", ".", "--server", "nats://127.0.0.1:1", "--ca", "x.pem"], /--ca/],
    [
      "an embedded-hub flag with --server",
      ["sync", ".", "--server", "ws://h:1", "--port", "1"],
      /--port .* --server/,
    ],
    ["a missing --config file", ["sync", ".", "--config", "nope.json"], /config file not found: nope\.json/],
    ["the same directory twice", ["sync", ".", "./"], /'\.' and '\.\/' are the same directory/],
  ])("%s", async (_, args, message) => {
    const cwd = await makeTempDir();
    const { exit, lines, proc } = await run(args, { cwd });
    expect(exit.code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(proc.stray).toEqual([]);
  });

  it("nested directories", async () => {
    const cwd = await makeTempDir();
    await mkdir(nodePath.join(cwd, "outer/inner"), { recursive: true });
    const { exit, lines } = await run(["sync", "outer/inner", "outer"], { cwd });
    expect(exit.code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/'outer\/inner' is inside 'outer'/);
  });

  it("an unknown key in distsync.config.json, named in the message", async () => {
    const cwd = await makeTempDir();
    await writeFile(nodePath.join(cwd, "distsync.config.json"), JSON.stringify({ sever: "ws://h:1" }));
    const { exit, lines } = await run(["sync", "."], { cwd });
    expect(exit.code).toBe(2);
    expect(lines).toEqual([`distsync: distsync.config.json: unknown key "sever" (see 'distsync --help')`]);
  });

  it("a wrong type in a --config file, named in the message", async () => {
    const cwd = await makeTempDir();
    await writeFile(nodePath.join(cwd, "mine.json"), JSON.stringify({ port: "7420" }));
    const { exit, lines } = await run(["serve", "--config", "mine.json"], { cwd });
    expect(exit.code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/mine\.json: "port" must be an integer from 0 to 65535, got "7420"/);
  });

  it("--help and --version exit 0", async () => {
    const help = await run(["--help"]);
    expect(help.exit.code).toBe(0);
    const text = help.proc.stray.join("\n");
    expect(text).toMatch(/Usage:/);
    expect(text).toMatch(/--reconnect/);
    expect(text).toMatch(/in memory/);
    expect(help.lines).toEqual([]);

    const syncHelp = await run(["sync", "--help"]);
    expect(syncHelp.exit.code).toBe(0);
    expect(syncHelp.proc.stray.join("\n")).toMatch(/--settle-ms/);

    const version = await run(["--version"]);
    expect(version.exit.code).toBe(0);
    const pkg = JSON.parse(await readFile(nodePath.join(PACKAGE_DIR, "package.json"), "utf8")) as {
      version: string;
    };
    expect(version.proc.stray).toEqual([pkg.version]);
    expect(version.lines).toEqual([]);
  });
});
