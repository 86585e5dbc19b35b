import { INTERNAL_PREFIX, STATE_DIR_NAME } from "./paths.js";

/** Longest symbolic link target accepted, in UTF-8 bytes (Linux PATH_MAX less the NUL). */
export const MAX_LINK_TARGET_BYTES = 4095;

const encoder = new TextEncoder();
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why a symbolic link at `linkPath` (a valid relative path) with `target` may not be synced, or
 * `undefined` when it may. The target must be a relative POSIX path that stays inside the folder
 * when resolved from the link's own directory, whatever the other links in the folder are:
 *
 * - no NUL, control characters or backslashes, not absolute, no drive letter, at most
 *   {@link MAX_LINK_TARGET_BYTES} bytes, and no name DistSync keeps for itself;
 * - `..` segments only at the start (`.` and empty segments are ignored), and no more of them than
 *   the link's directory is deep. A `..` after a name is refused even when it would cancel out
 *   lexically (`sub/../x`): `sub` may itself be a link, and the kernel resolves `..` from where
 *   the link leads, not from `sub`'s name. With that rule the leading `..` climb only through the
 *   link's real parent directories, and every later step descends, so a chain of accepted links
 *   never leaves the folder either.
 */
export function linkTargetProblem(linkPath: string, target: unknown): string | undefined {
  if (typeof target !== "string") return "target is not a string";
  if (target.length === 0) return "empty target";
  if (target.includes("\u0000")) return "NUL byte in the target";
  if (CONTROL.test(target)) return "control character in the target";
  if (target.includes("\\")) return "backslash in the target";
  if (target.startsWith("/")) return "absolute target";
  if (/^[A-Za-z]:/.test(target)) return "drive-letter target";
  if (encoder.encode(target).length > MAX_LINK_TARGET_BYTES) return "target too long";
  const depth = linkPath.split("/").length - 1;
  let ups = 0;
  let descended = false;
  for (const segment of target.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (descended) return "'..' after a name in the target";
      ups++;
      if (ups > depth) return "target leads outside the folder";
      continue;
    }
    if (segment === STATE_DIR_NAME || segment.startsWith(INTERNAL_PREFIX)) {
      return "target names a DistSync file";
    }
    descended = true;
  }
  return undefined;
}
