/**
 * What names a receiving file system can hold, beyond the platform-neutral path rules of
 * `paths.ts` (which every hub and client enforce). A path the hub accepts may still be one that a
 * client's OS cannot create (`CON.txt` on Windows) or that its file system cannot tell apart from
 * another path (`A.txt` and `a.txt` on a case-insensitive disk). Pure functions, no I/O.
 */

/**
 * The naming rules of an OS, as `process.platform` spells it. `"win32"` adds the Windows rules;
 * every other value (`"linux"`, `"darwin"`…) allows any name that is a valid path.
 */
export type NamePlatform = "win32" | "darwin" | "linux" | (string & {});

/** Device names Windows reserves in every folder, with or without an extension, in any case. */
const WINDOWS_DEVICES = new Set([
  "CON",
  "PRN",
  "AUX",
  "NUL",
  "CONIN$",
  "CONOUT$",
  ...["1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"].flatMap((d) => [`COM${d}`, `LPT${d}`]),
]);

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const WINDOWS_FORBIDDEN = /[<>:"|?*\\\u0000-\u001f]/;

/**
 * Why `name` (one segment of a path) cannot exist on `platform`, or `undefined` when it can. Only
 * Windows has rules here: reserved device names (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`,
 * `LPT1`–`LPT9`, also with superscript digits, `CONIN$`, `CONOUT$`; in any case, with any
 * extension), a trailing dot or space (Windows strips them, so `a.` would land on `a`), and the
 * characters `< > : " | ? * \` and control characters. macOS and Linux accept every valid path
 * segment (on macOS, `:` is an ordinary character for the POSIX layer; Finder shows it as `/`).
 */
export function unsupportedNameReason(name: string, platform: NamePlatform): string | undefined {
  if (platform !== "win32") return undefined;
  const forbidden = WINDOWS_FORBIDDEN.exec(name);
  if (forbidden !== null) {
    const char = forbidden[0];
    const shown =
      char < " " ? `control character U+${char.charCodeAt(0).toString(16).padStart(4, "0")}` : `"${char}"`;
    return `Windows does not allow ${shown} in a name`;
  }
  if (name.endsWith(".") || name.endsWith(" "))
    return "Windows does not allow a name ending in a dot or a space";
  // `CON`, `con.txt`, `Con .tar.gz`: the part before the first dot, trailing spaces dropped.
  const dot = name.indexOf(".");
  const stem = (dot === -1 ? name : name.slice(0, dot)).replace(/ +$/, "").toUpperCase();
  if (WINDOWS_DEVICES.has(stem)) return `${stem} is a device name reserved by Windows`;
  // `PROGRA~1`, `DISTSY~1`: an 8.3 short name can be another file's second name on NTFS (git's
  // CVE-2014-9390 class), invisible to a directory listing; such a name is never written.
  if (SHORT_NAME.test(name)) return "a name shaped like a Windows short (8.3) name can alias another file";
  return undefined;
}

const SHORT_NAME = /^[^.~]{1,6}~[0-9]+(\.[^.]{0,3})?$/i;

/** {@link unsupportedNameReason} for every segment of a relative `/`-separated path. */
export function unsupportedPathReason(path: string, platform: NamePlatform): string | undefined {
  if (platform !== "win32") return undefined;
  for (const segment of path.split("/")) {
    const reason = unsupportedNameReason(segment, platform);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** How a file system compares names. */
export interface NameFolding {
  /** `A.txt` and `a.txt` name the same entry (macOS, Windows by default). */
  caseInsensitive?: boolean;
  /** NFC and NFD spellings name the same entry (macOS APFS and HFS+). */
  normalizationInsensitive?: boolean;
}

/**
 * The key under which a file system with `folding` files `path`: two paths with the same key are
 * one entry there. NFC, then lower case (`String.prototype.toLowerCase`, the default Unicode
 * mapping: close to, though not exactly, what NTFS and APFS compare). Paths on the wire are already
 * NFC, so the normalization step matters only for names read from disk.
 */
export function foldPath(path: string, folding: NameFolding): string {
  let key = path;
  if (folding.normalizationInsensitive || folding.caseInsensitive) key = key.normalize("NFC");
  if (folding.caseInsensitive) key = key.toLowerCase();
  return key;
}

/** True when the file system cannot tell `a` and `b` apart although they are different strings. */
export function namesCollide(a: string, b: string, folding: NameFolding): boolean {
  return a !== b && foldPath(a, folding) === foldPath(b, folding);
}
