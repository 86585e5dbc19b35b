import ignore, { type Ignore } from "ignore";

/** The file whose gitignore-style rules every client of a space follows; it syncs like any file. */
export const IGNORE_FILE = ".distsyncignore";

/** Ignored unless a rule re-includes them (`!.git/`): a repository's internals are per machine. */
export const DEFAULT_IGNORES: readonly string[] = [".git/"];

/**
 * Which paths a client leaves alone: not sent, not applied, never deleted because of the rules.
 * Rules come in order — defaults, then `.distsyncignore` (shared), then the client's own patterns —
 * so a later rule (a `!negation`) overrides an earlier one, as in git.
 */
export class IgnoreRules {
  readonly #matcher: Ignore;
  readonly source: string;

  constructor(fileText = "", extra: readonly string[] = [], defaults: readonly string[] = DEFAULT_IGNORES) {
    this.source = fileText;
    this.#matcher = ignore({ allowRelativePaths: false })
      .add([...defaults])
      .add(fileText)
      .add([...extra]);
  }

  /**
   * True when `path` (or one of its parent directories) is ignored. The rules file never is. A
   * symbolic link matches like a file (`dir/` does not match a link to a directory).
   */
  ignores(path: string, kind: "file" | "directory" | "symlink" = "file"): boolean {
    if (path === IGNORE_FILE) return false;
    try {
      return this.#matcher.ignores(kind === "directory" ? `${path}/` : path);
    } catch {
      // A name the matcher refuses is not one the rules could mean.
      return false;
    }
  }
}
