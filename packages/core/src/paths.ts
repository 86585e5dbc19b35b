import { PathNotAllowedError } from "./errors.js";
import type { RelPath } from "./types.js";

/** Longest path accepted, in UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest single name accepted, in UTF-8 bytes (NAME_MAX on common file systems). */
export const MAX_NAME_BYTES = 255;

/**
 * Names DistSync keeps for itself: temp files and the local state folder. They are never walked,
 * watched, sent or accepted from the wire.
 */
export const INTERNAL_PREFIX = ".distsync-";
export const STATE_DIR_NAME = ".distsync";

const encoder = new TextEncoder();
// C0 controls and DEL: no legitimate file name needs them, and they can rewrite a terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `path` is not a canonical relative path, or `undefined` when it is one. */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== "string") return "not a string";
  if (path.length === 0) return "empty path";
  if (path.includes("\u0000")) return "NUL byte";
  if (path.includes("\\")) return "backslash";
  if (CONTROL.test(path)) return "control character";
  if (path.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(path)) return "drive-letter path";
  if (path.normalize("NFC") !== path) return "not in NFC";
  if (encoder.encode(path).length > MAX_PATH_BYTES) return "path too long";
  for (const segment of path.split("/")) {
    if (segment === "") return "empty segment";
    if (segment === ".") return "'.' segment";
    if (segment === "..") return "'..' segment";
    if (encoder.encode(segment).length > MAX_NAME_BYTES) return "name too long";
  }
  return undefined;
}

/** Returns `path` as a {@link RelPath}, or throws `PathNotAllowedError`. */
export function validatePath(path: unknown): RelPath {
  const problem = pathProblem(path);
  if (problem !== undefined) throw new PathNotAllowedError(String(path), problem);
  return path as RelPath;
}

export function isValidPath(path: unknown): path is RelPath {
  return pathProblem(path) === undefined;
}

/** True for DistSync's own files (temp files, state folder) anywhere in the tree. */
export function isInternalPath(path: string): boolean {
  for (const segment of path.split("/")) {
    if (segment === STATE_DIR_NAME || segment.startsWith(INTERNAL_PREFIX)) return true;
  }
  return false;
}

/** The parent of a relative path, or `undefined` for a top-level name. */
export function parentPath(path: RelPath): RelPath | undefined {
  const index = path.lastIndexOf("/");
  return index === -1 ? undefined : (path.slice(0, index) as RelPath);
}

/** Number of segments: `a` is 1, `a/b` is 2. Deletes run deepest first. */
export function pathDepth(path: string): number {
  let depth = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) depth++;
  return depth;
}

/** True when `path` is `ancestor` or lies below it (`a/b` is under `a`, `a/bc` is not). */
export function isUnder(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}
