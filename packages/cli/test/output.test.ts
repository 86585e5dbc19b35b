import { describe, expect, it } from "vitest";
import { type CliEvent, createOutput, formatBytes, humanLine } from "../src/output.js";
import { displayPath, jsonLine } from "../src/terminal-text.js";

describe("human output", () => {
  it("prints one readable line per event", () => {
    expect(humanLine({ event: "ready", dir: "./a", root: "/x/a", name: "a", files: 12 }, false)).toBe(
      "ready ./a (12 files)",
    );
    expect(
      humanLine({ event: "sent", dir: "./a", path: "docs/a.txt", op: "write", size: 1229, seq: 3 }, false),
    ).toBe("sent docs/a.txt (write, 1.2 KiB)");
    expect(
      humanLine(
        {
          event: "applied",
          dir: "./a",
          path: "b.txt",
          op: "delete",
          size: 0,
          seq: 4,
          origin: "laptop-0a1b2c3d",
          cause: "change",
        },
        true,
      ),
    ).toBe("[./a] applied b.txt (delete, from laptop)");
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
  });

  it("escapes control characters in paths so they cannot reach the terminal", () => {
    expect(displayPath("plain name.txt")).toBe("plain name.txt");
    expect(displayPath("evil\u001b[2J.txt")).toBe('"evil\\u001b[2J.txt"');
    expect(displayPath("new\nline\u202e.txt")).toBe('"new\\nline\\u202e.txt"');
    expect(displayPath("c1\u009b.txt")).toBe('"c1\\u009b.txt"');
    const line = humanLine(
      { event: "sent", dir: "d", path: "x\u0007y", op: "delete", size: 0, seq: 1 },
      false,
    );
    expect(line).toBe('sent "x\\u0007y" (delete)');
  });

  it("writes exactly one JSON object per line with --json, escaping what JSON leaves raw", () => {
    const out: string[] = [];
    const output = createOutput({
      json: true,
      quiet: false,
      showDir: false,
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(`stderr:${t}`),
    });
    const event: CliEvent = { event: "error", code: "internal", message: "bad\u2028name\u009b" };
    output.event(event);
    expect(out).toHaveLength(1);
    expect(out[0]).toBe('{"event":"error","code":"internal","message":"bad\\u2028name\\u009b"}\n');
    expect(JSON.parse(out[0]!)).toEqual(event);
    expect(jsonLine({ a: "\u0000" })).toBe('{"a":"\\u0000"}');
  });

  it("--quiet leaves out per-file events", () => {
    const out: string[] = [];
    const output = createOutput({
      json: false,
      quiet: true,
      showDir: false,
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
    });
    output.event({ event: "sent", dir: "d", path: "p", op: "mkdir", size: 0, seq: 1 });
    output.event({ event: "ready", dir: "d", root: "/d", name: "d", files: 1 });
    expect(out).toEqual(["ready d (1 file)\n"]);
  });
});
