import { foldPath, type NameFolding } from "./name-rules.js";

/** A path, or one of its parents, that a folding file system cannot tell from `other`. */
export interface Twin {
  /** `path` itself or one of its parents (`Dir` for `Dir/x`). */
  prefix: string;
  /** The other spelling, at the same depth (`dir` for `Dir`). */
  other: string;
}

/**
 * Every spelling of every path (and parent path) a client has seen, grouped by their folded key,
 * so that a case-only twin is found without scanning the whole index. Spellings are never removed:
 * whether a twin is still held is the caller's question. Inactive (no work at all) on a file system
 * that folds nothing.
 */
export class Spellings {
  readonly #folding: NameFolding;
  readonly #byKey = new Map<string, Set<string>>();
  /** Whether names fold at all on this file system. */
  readonly active: boolean;

  constructor(folding: NameFolding) {
    this.#folding = folding;
    this.active = folding.caseInsensitive === true || folding.normalizationInsensitive === true;
  }

  /** Records `path` and each of its parents. */
  add(path: string): void {
    if (!this.active) return;
    for (const prefix of prefixes(path)) {
      const key = foldPath(prefix, this.#folding);
      let set = this.#byKey.get(key);
      if (set === undefined) {
        set = new Set();
        this.#byKey.set(key, set);
      }
      set.add(prefix);
    }
  }

  /** The other spellings recorded for `path` or for one of its parents, parents first. */
  twins(path: string): Twin[] {
    if (!this.active) return [];
    const twins: Twin[] = [];
    for (const prefix of prefixes(path)) {
      const set = this.#byKey.get(foldPath(prefix, this.#folding));
      if (set === undefined) continue;
      for (const other of set) if (other !== prefix) twins.push({ prefix, other });
    }
    return twins;
  }
}

/** `a`, `a/b`, `a/b/c` for `a/b/c`. */
function prefixes(path: string): string[] {
  const result: string[] = [];
  let index = path.indexOf("/");
  while (index !== -1) {
    result.push(path.slice(0, index));
    index = path.indexOf("/", index + 1);
  }
  result.push(path);
  return result;
}
