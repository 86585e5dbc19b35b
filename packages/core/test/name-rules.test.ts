import { describe, expect, it } from "vitest";
import {
  foldPath,
  namesCollide,
  unsupportedNameReason,
  unsupportedPathReason,
} from "../src/sync/name-rules.js";
import { Spellings } from "../src/sync/spellings.js";

const DEVICES = [
  "CON",
  "PRN",
  "AUX",
  "NUL",
  "CONIN$",
  "CONOUT$",
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((d) => [`COM${d}`, `LPT${d}`]),
  "COM¹",
  "COM²",
  "COM³",
  "LPT¹",
  "LPT²",
  "LPT³",
];

describe("unsupportedNameReason on win32", () => {
  it.each(DEVICES)("refuses the device name %s in any case, with any extension", (device) => {
    for (const name of [
      device,
      device.toLowerCase(),
      `${device[0]}${device.slice(1).toLowerCase()}`,
      `${device}.txt`,
      `${device.toLowerCase()}.tar.gz`,
      `${device} .txt`,
      `${device}  `,
    ]) {
      expect(unsupportedNameReason(name, "win32"), name).toBeDefined();
    }
    expect(unsupportedNameReason(`${device}.txt`, "win32")).toMatch(/device name reserved by Windows/);
  });

  it("allows names that only contain a device name", () => {
    for (const name of [
      "CONSOLE",
      "con-fig.txt",
      "xNUL",
      "COM10",
      "LPT0",
      "COM0",
      "auxiliary.md",
      "a.CON",
      ".con",
    ]) {
      expect(unsupportedNameReason(name, "win32"), name).toBeUndefined();
    }
  });

  it.each(["<", ">", ":", '"', "|", "?", "*", "\\"])("refuses the character %s", (char) => {
    expect(unsupportedNameReason(`a${char}b`, "win32")).toBe(`Windows does not allow "${char}" in a name`);
  });

  it("refuses control characters, naming their code point", () => {
    expect(unsupportedNameReason("a\u0001b", "win32")).toBe(
      "Windows does not allow control character U+0001 in a name",
    );
    expect(unsupportedNameReason("a\u001fb", "win32")).toMatch(/U\+001f/);
  });

  it("refuses a trailing dot or space, but not a leading or inner one", () => {
    expect(unsupportedNameReason("a.", "win32")).toMatch(/dot or a space/);
    expect(unsupportedNameReason("a ", "win32")).toMatch(/dot or a space/);
    expect(unsupportedNameReason("a..", "win32")).toBeDefined();
    for (const name of [".a", " a", "a b", "a.b", ".gitignore", "résumé.txt", "日本.txt"]) {
      expect(unsupportedNameReason(name, "win32"), name).toBeUndefined();
    }
  });
});

describe("unsupportedNameReason elsewhere", () => {
  it("allows on Linux and macOS what Windows refuses", () => {
    for (const platform of ["linux", "darwin", "freebsd"]) {
      for (const name of ["CON.txt", "a:b", "a.", "a ", "what?", "a*b", "a<b>"]) {
        expect(unsupportedNameReason(name, platform), `${platform} ${name}`).toBeUndefined();
      }
    }
  });
});

describe("unsupportedPathReason", () => {
  it("checks every segment on win32", () => {
    expect(unsupportedPathReason("docs/CON/readme.txt", "win32")).toMatch(/CON is a device name/);
    expect(unsupportedPathReason("docs/a:b", "win32")).toMatch(/":"/);
    expect(unsupportedPathReason("trailing./x", "win32")).toMatch(/dot/);
    expect(unsupportedPathReason("docs/readme.txt", "win32")).toBeUndefined();
    expect(unsupportedPathReason("docs/CON/readme.txt", "linux")).toBeUndefined();
  });
});

describe("case and normalization folding", () => {
  const nfc = "caf\u00e9.txt";
  const nfd = "cafe\u0301.txt";

  it("folds case only on a case-insensitive file system", () => {
    expect(namesCollide("A.txt", "a.txt", { caseInsensitive: true })).toBe(true);
    expect(namesCollide("Dir/X", "dir/x", { caseInsensitive: true })).toBe(true);
    expect(namesCollide("ÄRGER", "ärger", { caseInsensitive: true })).toBe(true);
    expect(namesCollide("A.txt", "a.txt", {})).toBe(false);
    expect(namesCollide("A.txt", "A.txt", { caseInsensitive: true })).toBe(false);
    expect(namesCollide("a.txt", "b.txt", { caseInsensitive: true })).toBe(false);
  });

  it("folds NFC and NFD together when the file system does", () => {
    expect(nfc).not.toBe(nfd);
    expect(namesCollide(nfc, nfd, { normalizationInsensitive: true })).toBe(true);
    expect(namesCollide(nfc, nfd, { caseInsensitive: true })).toBe(true);
    expect(namesCollide(nfc, nfd, {})).toBe(false);
    expect(foldPath(nfd.toUpperCase(), { caseInsensitive: true })).toBe(nfc);
  });
});

describe("Spellings", () => {
  it("finds twins of a path and of its parents, only when folding", () => {
    const spellings = new Spellings({ caseInsensitive: true });
    spellings.add("Dir/x.txt");
    spellings.add("A.txt");
    expect(spellings.twins("a.txt")).toEqual([{ prefix: "a.txt", other: "A.txt" }]);
    expect(spellings.twins("dir/y.txt")).toEqual([{ prefix: "dir", other: "Dir" }]);
    expect(spellings.twins("DIR/X.TXT")).toEqual([
      { prefix: "DIR", other: "Dir" },
      { prefix: "DIR/X.TXT", other: "Dir/x.txt" },
    ]);
    expect(spellings.twins("A.txt")).toEqual([]);
    expect(spellings.twins("Dir/y.txt")).toEqual([]);

    const sensitive = new Spellings({});
    sensitive.add("A.txt");
    expect(sensitive.active).toBe(false);
    expect(sensitive.twins("a.txt")).toEqual([]);
  });
});

describe("Windows short (8.3) names", () => {
  it.each(["DISTSY~1", "PROGRA~1", "longfi~1.txt", "a~12.TXT"])("refuses %s on win32 only", (name) => {
    expect(unsupportedNameReason(name, "win32")).toMatch(/short \(8\.3\) name/);
    expect(unsupportedNameReason(name, "linux")).toBeUndefined();
  });

  it.each(["notes~.txt", "a~b.txt", "backup~", "x~1.html5", "~1"])("allows %s", (name) => {
    expect(unsupportedNameReason(name, "win32")).toBeUndefined();
  });
});
