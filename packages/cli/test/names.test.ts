import { mkdir, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { NameError } from "@distsync/core";
import { afterEach, describe, expect, it } from "vitest";
import { humanLine } from "../src/output.js";
import { jsonLine } from "../src/terminal-text.js";
import { killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { webSocket } from "./helpers/transports.js";
import { sleep, snapshot, waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

describe("skipped names", () => {
  it("escapes a remote peer's names in name-collision and name-not-supported lines", () => {
    const hostile = "a\u001b[2J\u202eb.txt";
    for (const error of [
      new NameError("name-collision", {
        path: hostile,
        other: hostile.toUpperCase(),
        reason: "the names differ only in case or Unicode normalization",
      }),
      new NameError("name-not-supported", {
        path: `${hostile}?`,
        reason: 'Windows does not allow "?" in a name',
      }),
    ]) {
      const event = { event: "error" as const, code: error.code, message: error.message };
      for (const line of [humanLine(event, false), jsonLine(event)]) {
        expect(line).not.toContain("\u001b");
        expect(line).not.toContain("\u202e");
        expect(line).toContain("\\u001b");
        expect(line).toContain("\\u202e");
      }
      expect(humanLine(event, false)).toMatch(new RegExp(`^error ${error.code}: skipped "a\\\\u001b`));
    }
  });

  it("a client under Windows name rules skips CON.txt and 'time 10:30.txt' and reports each once", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(a);
    await mkdir(b);
    await writeFile(nodePath.join(a, "CON.txt"), "device\n");
    await writeFile(nodePath.join(a, "time 10:30.txt"), "colon\n");
    await writeFile(nodePath.join(a, "ok.txt"), "fine\n");
    const { url } = await webSocket.startHub();
    await startClient(a, url);
    // DISTSYNC_TEST_NAME_RULES is a test-only switch: Windows name rules on this Linux machine.
    const windows = await startClient(b, url, [], { env: { DISTSYNC_TEST_NAME_RULES: "win32" } });
    await waitUntil(async () => (await snapshot(b)).has("ok.txt"), 10_000, "ok.txt on b");
    await waitUntil(
      async () => windows.events.filter((e) => e.event === "error").length >= 2,
      10_000,
      "the two reports",
    );
    await sleep(200);
    expect([...(await snapshot(b)).keys()].sort()).toEqual(["ok.txt"]);
    expect([...(await snapshot(a)).keys()].sort()).toEqual(["CON.txt", "ok.txt", "time 10:30.txt"]);
    const errors = windows.events.flatMap((e) => (e.event === "error" ? [e] : []));
    expect(errors.map((e) => e.code)).toEqual(["name-not-supported", "name-not-supported"]);
    const messages = errors.map((e) => e.message).sort();
    expect(messages).toEqual([
      'skipped "CON.txt": this file system cannot hold the name (CON is a device name reserved by Windows)',
      'skipped "time 10:30.txt": this file system cannot hold the name (Windows does not allow ":" in a name)',
    ]);
  });
});
