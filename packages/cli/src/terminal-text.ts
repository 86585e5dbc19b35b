/**
 * Characters that must not reach a terminal raw: control characters (C0, DEL, C1 — escape
 * sequences start with them), format characters such as bidirectional overrides (they reorder what
 * is shown), lone surrogates, and line/paragraph separators. ZWNJ/ZWJ stay: emoji sequences use them.
 */
const UNSAFE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]|(?![\u200c\u200d])\p{Cf}/u;
const UNSAFE_GLOBAL = new RegExp(UNSAFE.source, "gu");

const SHORT: Record<string, string> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" };

function escapeChar(char: string): string {
  const short = SHORT[char];
  if (short !== undefined) return short;
  let out = "";
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/**
 * A path or name for a human line: as is when every character is printable, otherwise a
 * JSON-style quoted string with escapes (`"a\u001b[2Jb.txt"`), so names cannot drive the terminal.
 */
export function displayPath(path: string): string {
  if (!UNSAFE.test(path)) return path;
  return `"${path.replace(/["\\]/g, (c) => `\\${c}`).replace(UNSAFE_GLOBAL, escapeChar)}"`;
}

/** Free text (an error message) for a human line: every unsafe character escaped, nothing quoted. */
export function displayText(text: string): string {
  return text.replace(UNSAFE_GLOBAL, escapeChar);
}

/**
 * `JSON.stringify` for a line of `--json` output. JSON leaves C1 controls, bidi controls and U+2028/9
 * raw inside strings; this escapes them too (still valid JSON, and safe on a terminal).
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_GLOBAL, escapeChar);
}
