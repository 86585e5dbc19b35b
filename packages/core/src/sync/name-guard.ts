import { NameError } from "../errors.js";
import type { FileSystem } from "../file-system.js";
import { isUnder } from "../paths.js";
import type { Delivery } from "../protocol/messages.js";
import type { RelPath } from "../types.js";
import { unsupportedPathReason } from "./name-rules.js";
import { Spellings } from "./spellings.js";

/** What to do with a received version whose name this file system cannot hold as is. */
export type NameVerdict =
  /** Apply it as usual. */
  | undefined
  /** Skip it: a deletion of a path this client never held (it must not delete the twin). */
  | { skip: "silently" }
  /** Skip it and keep it; `error` is set the first time the path is skipped (report it). */
  | { skip: "blocked"; error: NameError | undefined };

/**
 * The client's guard against received names that its file system cannot hold: names the OS
 * refuses (`name-not-supported`, by the `platform` capability) and, on a case-insensitive file
 * system, paths that differ only by case from a path the client holds (`name-collision`), which
 * would otherwise be written over it. A skipped version is kept: a collision is tried again when
 * a twin goes away (`retry`), a newer version replaces it, a deletion drops it. Each path is
 * reported once until it is applied.
 */
export class NameGuard {
  readonly #platform: string | undefined;
  readonly #spellings: Spellings;
  readonly #storedPath: ((path: RelPath) => Promise<string>) | undefined;
  /**
   * Whether the client's index holds a live version of `path` (agreed, in flight or missed), or
   * with `below`, of anything below it too (a scan: called only when a twin spelling exists).
   */
  readonly #held: (path: string, below: boolean) => boolean;
  readonly #blocked = new Map<RelPath, { delivery: Delivery; code: NameError["code"] }>();
  readonly #reported = new Set<RelPath>();
  /** Live versions queued or being written: they hold their path before the index says so. */
  readonly #claims = new Map<RelPath, number>();

  constructor(fs: FileSystem, held: (path: string, below: boolean) => boolean) {
    const capabilities = fs.capabilities;
    this.#platform = capabilities.platform;
    this.#spellings = new Spellings({
      caseInsensitive: capabilities.caseInsensitive === true,
      normalizationInsensitive: capabilities.normalizationInsensitive === true,
    });
    this.#storedPath = this.#spellings.active ? fs.storedPath?.bind(fs) : undefined;
    this.#held = held;
  }

  /** Records a path the client holds or is about to hold (call for every index record). */
  note(path: RelPath): void {
    this.#spellings.add(path);
  }

  /** The synchronous check, when a version arrives (before it is queued). */
  check(delivery: Delivery): NameVerdict {
    const { path, entry } = delivery;
    const reason = this.#platform === undefined ? undefined : unsupportedPathReason(path, this.#platform);
    if (reason !== undefined) return this.#skip(delivery, "name-not-supported", reason);
    if (!this.#spellings.active) return this.#pass(delivery);
    const twins = this.#spellings.twins(path);
    for (const twin of twins.length > 0 && !this.#holds(path) ? twins : []) {
      if (!this.#holds(twin.other)) continue;
      const other = twin.prefix === path ? twin.other : `${twin.other}${path.slice(twin.prefix.length)}`;
      return this.#skip(delivery, "name-collision", collisionReason(path, twin.prefix, twin.other), other);
    }
    if (!entry.deleted) this.#spellings.add(path);
    return this.#pass(delivery);
  }

  /**
   * The check against the disk, right before the version is applied (under the path's lock): a
   * twin that is on disk but not in the index (created a moment ago, or ignored).
   */
  async checkDisk(delivery: Delivery): Promise<NameVerdict> {
    const { path } = delivery;
    if (this.#storedPath === undefined || this.#held(path, false)) return undefined;
    const stored = await this.#storedPath(path);
    if (stored === path) return undefined;
    const mine = path.split("/");
    const theirs = stored.split("/");
    let depth = 0;
    while (depth < mine.length && mine[depth] === theirs[depth]) depth++;
    const prefix = mine.slice(0, depth + 1).join("/");
    const other = theirs.slice(0, depth + 1).join("/");
    return this.#skip(delivery, "name-collision", collisionReason(path, prefix, other), stored);
  }

  /** Counts a live version as holding its path from now until `release`. */
  claim(path: RelPath): void {
    this.#claims.set(path, (this.#claims.get(path) ?? 0) + 1);
  }

  release(path: RelPath): void {
    const count = (this.#claims.get(path) ?? 1) - 1;
    if (count <= 0) this.#claims.delete(path);
    else this.#claims.set(path, count);
  }

  /** The skipped collisions, taken out to be tried again (after a path went away). */
  retry(): Delivery[] {
    const again: Delivery[] = [];
    for (const [path, blocked] of this.#blocked) {
      if (blocked.code !== "name-collision") continue;
      this.#blocked.delete(path);
      again.push(blocked.delivery);
    }
    return again;
  }

  /** True while a version of `path` is skipped. */
  isBlocked(path: RelPath): boolean {
    return this.#blocked.has(path);
  }

  /** Forgets that `path` was reported, once it was applied after all. */
  applied(path: RelPath): void {
    if (!this.#blocked.has(path)) this.#reported.delete(path);
  }

  get blockedCount(): number {
    return this.#blocked.size;
  }

  #pass(delivery: Delivery): undefined {
    // A newer version that can be applied replaces a skipped one.
    this.#blocked.delete(delivery.path);
    return undefined;
  }

  #skip(delivery: Delivery, code: NameError["code"], reason: string, other?: string): NameVerdict {
    const { path, entry } = delivery;
    if (entry.deleted) {
      // Never applied here, so nothing to delete (and deleting it would delete the twin).
      this.#blocked.delete(path);
      return { skip: "silently" };
    }
    const previous = this.#blocked.get(path);
    if (previous === undefined || previous.delivery.seq <= delivery.seq)
      this.#blocked.set(path, { delivery, code });
    if (this.#reported.has(path)) return { skip: "blocked", error: undefined };
    this.#reported.add(path);
    const fields = other === undefined ? { path, reason } : { path, reason, other };
    return { skip: "blocked", error: new NameError(code as "name-not-supported" | "name-collision", fields) };
  }

  /** Whether `path` or anything below it is held, counting versions still queued. */
  #holds(path: string): boolean {
    if (this.#held(path, true)) return true;
    for (const claimed of this.#claims.keys()) if (isUnder(claimed, path)) return true;
    return false;
  }
}

function collisionReason(path: string, prefix: string, other: string): string {
  return prefix === path
    ? "the names differ only in case or Unicode normalization"
    : `its parent ${JSON.stringify(prefix)} differs from ${JSON.stringify(other)} only in case or Unicode normalization`;
}
