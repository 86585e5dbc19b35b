import { writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/args.js";
import { UsageError } from "../src/cli-error.js";
import { makeTempDir, removeTempDirs } from "./helpers/cli.js";

afterEach(removeTempDirs);

async function parse(argv: string[], options: { config?: unknown; env?: Record<string, string> } = {}) {
  const cwd = await makeTempDir();
  if (options.config !== undefined) {
    await writeFile(nodePath.join(cwd, "distsync.config.json"), JSON.stringify(options.config));
  }
  return parseCommandLine(argv, { cwd, env: options.env ?? {} });
}

describe("parseCommandLine", () => {
  it("gives the documented defaults", async () => {
    expect(await parse(["serve"])).toMatchObject({
      command: "serve",
      host: "127.0.0.1",
      port: 7420,
      token: undefined,
      json: false,
    });
    expect(await parse(["sync", "a", "b"])).toMatchObject({
      command: "sync",
      dirs: ["a", "b"],
      server: undefined,
      space: "default",
      once: false,
      reconnect: false,
      conflicts: "lww",
      compression: "auto",
      port: undefined,
    });
    expect(await parse(["sync", "a", "--compression", "never"])).toMatchObject({ compression: "never" });
    await expect(parse(["sync", "a", "--compression", "fast"])).rejects.toThrow(
      /--compression must be one of auto, always, never/,
    );
  });

  it("lets flags win over DISTSYNC_TOKEN, which wins over the file, which wins over defaults", async () => {
    const config = { token: "from-file", space: "file-space", settleMs: 50, "heartbeat-ms": 300 };
    expect(await parse(["sync", "d"], { config })).toMatchObject({
      token: "from-file",
      space: "file-space",
      settleMs: 50,
      heartbeatMs: 300,
    });
    expect(await parse(["sync", "d"], { config, env: { DISTSYNC_TOKEN: "from-env" } })).toMatchObject({
      token: "from-env",
    });
    expect(
      await parse(["sync", "d", "--token", "from-flag", "--space", "flag-space"], {
        config,
        env: { DISTSYNC_TOKEN: "from-env" },
      }),
    ).toMatchObject({ token: "from-flag", space: "flag-space" });
  });

  it("ignores file keys of the other command, and embedded-hub keys when --server is set", async () => {
    const config = { port: 9000, host: "0.0.0.0", once: true, server: "ws://h:1" };
    expect(await parse(["serve"], { config })).toMatchObject({ port: 9000, host: "0.0.0.0" });
    expect(await parse(["sync", "d"], { config })).toMatchObject({ port: undefined, once: true });
  });

  it.each([
    [{ sever: "x" }, /unknown key "sever"/],
    [{ port: "7420" }, /"port" must be an integer from 0 to 65535, got "7420"/],
    [{ once: "yes" }, /"once" must be true or false/],
    [{ conflicts: "merge" }, /"conflicts" must be one of lww, keep/],
    [{ compression: "gzip" }, /"compression" must be one of auto, always, never/],
    [{ settleMs: 1, "settle-ms": 2 }, /"settleMs" and "settle-ms" set the same option/],
    [[1, 2], /must hold a JSON object/],
  ])("refuses the config %j", async (config, message) => {
    await expect(parse(["sync", "d"], { config })).rejects.toThrow(message);
    await expect(parse(["sync", "d"], { config })).rejects.toBeInstanceOf(UsageError);
  });

  it("refuses a timeout not above the heartbeat, and --quiet with --verbose", async () => {
    await expect(parse(["serve", "--heartbeat-ms", "500", "--timeout-ms", "500"])).rejects.toThrow(
      /--timeout-ms \(500\) must be greater than the heartbeat interval \(500 ms\)/,
    );
    await expect(parse(["serve", "--quiet", "--verbose"])).rejects.toThrow(/cannot be used together/);
  });

  it("takes the NATS options from flags, DISTSYNC_NATS_TOKEN and the file, in that order", async () => {
    expect(await parse(["serve"])).toMatchObject({
      nats: undefined,
      natsToken: undefined,
      subjectPrefix: undefined,
    });
    const config = {
      nats: "nats://n:4222",
      natsToken: "file-tok",
      "subject-prefix": "team",
      natsCreds: "u.creds",
    };
    expect(await parse(["serve"], { config })).toMatchObject({
      nats: "nats://n:4222",
      natsToken: "file-tok",
      natsCreds: "u.creds",
      subjectPrefix: "team",
    });
    expect(await parse(["serve"], { config, env: { DISTSYNC_NATS_TOKEN: "env-tok" } })).toMatchObject({
      natsToken: "env-tok",
    });
    expect(
      await parse(["serve", "--nats-token", "flag-tok"], { config, env: { DISTSYNC_NATS_TOKEN: "env-tok" } }),
    ).toMatchObject({ natsToken: "flag-tok" });
    // A client takes them with a nats:// server only; the file's `nats` key is serve's.
    expect(
      await parse(["sync", "d", "--server", "nats://n:4222", "--subject-prefix", "team"], { config }),
    ).toMatchObject({ server: "nats://n:4222", subjectPrefix: "team", natsToken: "file-tok" });
    // With --nats, a file's host and port (for a WebSocket hub) are ignored rather than refused.
    expect(await parse(["serve", "--nats", "nats://n:1"], { config: { port: 9000 } })).toMatchObject({
      nats: "nats://n:1",
    });
  });

  it("parses help and version anywhere", async () => {
    expect(await parse(["sync", "--help"])).toEqual({ command: "help", topic: "sync" });
    expect(await parse(["help", "serve"])).toEqual({ command: "help", topic: "serve" });
    expect(await parse(["serve", "--version"])).toEqual({ command: "version" });
  });
});
