import { describe, expect, it } from "vitest";
import { PathNotAllowedError } from "../src/errors.js";
import {
  isInternalPath,
  isUnder,
  isValidPath,
  MAX_NAME_BYTES,
  pathProblem,
  validatePath,
} from "../src/paths.js";

const longName = "n".repeat(MAX_NAME_BYTES + 1);
const longPath = Array.from({ length: 20 }, () => "d".repeat(250)).join("/");

/** [path, the reason pathProblem gives]. */
const rejected: Array<[unknown, string]> = [
  ["", "empty path"],
  ["/etc/passwd", "absolute path"],
  ["/", "absolute path"],
  ["..", "'..' segment"],
  ["../x", "'..' segment"],
  ["a/../../x", "'..' segment"],
  ["a/..", "'..' segment"],
  [".", "'.' segment"],
  ["./a", "'.' segment"],
  ["a/./b", "'.' segment"],
  ["a/.", "'.' segment"],
  ["a//b", "empty segment"],
  ["a/", "empty segment"],
  ["a/b/", "empty segment"],
  ["a\u0000b", "NUL byte"],
  ["a\\b", "backslash"],
  ["..\\..\\x", "backslash"],
  ["C:x", "drive-letter path"],
  ["c:/windows", "drive-letter path"],
  ["a\u0001b", "control character"],
  ["a\nb", "control character"],
  ["tab\there", "control character"],
  ["del\u007f", "control character"],
  ["\u001b[31mred", "control character"],
  ["cafe\u0301", "not in NFC"],
  [`a/${longName}`, "name too long"],
  [longPath, "path too long"],
  [42, "not a string"],
  [undefined, "not a string"],
];

const accepted = [
  "a",
  "a/b/c.txt",
  "caf\u00e9/\u65e5\u672c\u8a9e.md",
  "emoji \u{1F600}.txt",
  "with space/and  two",
  ".env",
  ".gitignore",
  "dir/.hidden/file",
  "a..b",
  "...",
  "..a",
  "a..",
  ".a",
  "a.",
  "C",
  "C-x:y",
  "1:2",
  "~",
  "-rf",
  "n".repeat(MAX_NAME_BYTES),
];

describe("validatePath / pathProblem", () => {
  it.each(rejected)("rejects %j (%s)", (path, reason) => {
    expect(pathProblem(path)).toBe(reason);
    expect(isValidPath(path)).toBe(false);
    let error: unknown;
    try {
      validatePath(path);
    } catch (caught) {
      error = caught;
    }
    expect(PathNotAllowedError.isInstance(error)).toBe(true);
    expect((error as PathNotAllowedError).reason).toBe(reason);
    expect((error as PathNotAllowedError).code).toBe("path-not-allowed");
  });

  it.each(accepted)("accepts %j", (path) => {
    expect(pathProblem(path)).toBeUndefined();
    expect(isValidPath(path)).toBe(true);
    expect(validatePath(path)).toBe(path);
  });

  it("counts name length in UTF-8 bytes, not characters", () => {
    const threeBytes = "\u65e5"; // one character, three bytes
    expect(pathProblem(threeBytes.repeat(85))).toBeUndefined(); // 255 bytes
    expect(pathProblem(threeBytes.repeat(86))).toBe("name too long"); // 258 bytes
  });

  it("has a table of at least 20 rejected and accepted paths", () => {
    expect(rejected.length).toBeGreaterThanOrEqual(20);
    expect(accepted.length).toBeGreaterThanOrEqual(5);
  });
});

describe("isInternalPath / isUnder", () => {
  it("marks DistSync's own names anywhere in the tree, and only those", () => {
    for (const path of [
      ".distsync",
      ".distsync/state.db",
      "a/.distsync-1.tmp",
      ".distsync-x",
      "a/.distsync/b",
    ]) {
      expect(isInternalPath(path)).toBe(true);
    }
    for (const path of [".distsyncx", "distsync", "a/b.distsync-1", "x.distsync", ".dist-sync"]) {
      expect(isInternalPath(path)).toBe(false);
    }
  });

  it("does not confuse a/b with a/bc", () => {
    expect(isUnder("a/b", "a/b")).toBe(true);
    expect(isUnder("a/b/c", "a/b")).toBe(true);
    expect(isUnder("a/bc", "a/b")).toBe(false);
    expect(isUnder("a/b.txt", "a/b")).toBe(false);
  });
});
