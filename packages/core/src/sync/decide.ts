import type { ClientId, EntryMeta, IndexEntry } from "../types.js";

/** True when two versions hold the same thing (mtime aside): nothing needs to move. */
export function sameContent(a: EntryMeta, b: EntryMeta): boolean {
  if (a.deleted || b.deleted) return a.deleted === b.deleted;
  if (a.kind !== b.kind) return false;
  if (a.kind === "directory") return true;
  if (a.kind === "symlink") return a.target === b.target;
  return a.hash === b.hash && a.executable === b.executable;
}

/**
 * True when two versions are the same version: same content (a link's: its target) and, for live
 * files, the same mtime (to the millisecond). A file touched without an edit is a change of
 * metadata only.
 */
export function sameVersion(a: EntryMeta, b: EntryMeta): boolean {
  if (!sameContent(a, b)) return false;
  // A link's mtime is not part of its version: not every system can set it (no `lutimes`).
  if (a.deleted || a.kind === "directory" || a.kind === "symlink") return true;
  return Math.round(a.mtimeMs) === Math.round(b.mtimeMs);
}

/**
 * Rule 3's order between concurrent versions: the later mtime wins; a tie goes to the greater
 * content hash, then to the greater client id. Arrival order never matters.
 */
export function beats(a: EntryMeta, aOrigin: ClientId, b: EntryMeta, bOrigin: ClientId): boolean {
  if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs > b.mtimeMs;
  if (a.hash !== b.hash) return a.hash > b.hash;
  return aOrigin > bOrigin;
}

export type Verdict = "same" | "accept" | "lose";

/**
 * The hub's decision for a proposal against its current version of the path (rule 3): a change
 * made on the current version wins; otherwise the two are concurrent and `beats` decides.
 */
export function decide(
  current: IndexEntry | undefined,
  proposal: { base: number; entry: EntryMeta },
  proposer: ClientId,
): Verdict {
  if (current === undefined) return "accept";
  if (sameVersion(current, proposal.entry)) return "same";
  if (proposal.base === current.seq) return "accept";
  return beats(proposal.entry, proposer, current, current.origin) ? "accept" : "lose";
}
