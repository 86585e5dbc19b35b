import { isUnder, parentPath } from "../paths.js";
import type { Delivery, Proposal } from "../protocol/messages.js";
import type { HubJournal } from "../store/hub-journal.js";
import type { ClientId, IndexEntry, RelPath } from "../types.js";
import { decide, sameContent } from "./decide.js";

/** What one decision produced, for the session to send and the hub to report. */
export interface SpaceOutcome {
  /** Versions committed, in sequence order (ancestor directories first). */
  committed: IndexEntry[];
  verdict: "same" | "accept" | "lose" | "conflict-path";
  /** The hub's version after the decision (the winner when the proposal lost). */
  current: IndexEntry | undefined;
  /** Set when two concurrent versions met and rule 3 picked one. */
  conflict?: { winner: IndexEntry; loser: { origin: ClientId; mtimeMs: number; hash: string } };
}

/**
 * One sync space: its index, its sequence counter and the rules that decide every change.
 * Decisions are synchronous so no other change can interleave between reading and writing the index.
 */
export class HubSpace {
  readonly name: string;
  readonly index = new Map<RelPath, IndexEntry>();
  seq = 0;
  readonly #journal: HubJournal | undefined;

  constructor(name: string, journal?: HubJournal) {
    this.name = name;
    this.#journal = journal;
  }

  /** Loads what a journal held; the journal already has it, so nothing is recorded. */
  restore(seq: number, entries: readonly IndexEntry[]): void {
    this.seq = Math.max(this.seq, seq);
    for (const e of entries) {
      this.index.set(e.path, e);
      if (e.seq > this.seq) this.seq = e.seq;
    }
  }

  /** Forgets tombstones older than `before` (ms since epoch); returns how many. */
  forgetTombstones(before: number): number {
    const paths: RelPath[] = [];
    for (const e of this.index.values()) if (e.deleted && e.mtimeMs < before) paths.push(e.path);
    for (const p of paths) this.index.delete(p);
    this.#journal?.forget(this.name, paths, this.seq);
    return paths.length;
  }

  /** Decides one proposal (content already present at the hub) and commits it when it wins. */
  apply(proposal: Proposal, proposer: ClientId): SpaceOutcome {
    const { path, entry } = proposal;
    const current = this.index.get(path);
    let verdict = decide(current, proposal, proposer);
    const concurrent = current !== undefined && verdict !== "same" && proposal.base !== current.seq;
    if (verdict === "accept" && !entry.deleted && this.#blockedByFileAncestor(path)) {
      return { committed: [], verdict: "conflict-path", current };
    }
    // A directory delete must not take live content with it that its proposer never saw.
    if (
      verdict === "accept" &&
      entry.deleted &&
      entry.kind === "directory" &&
      this.#hasLiveDescendant(path)
    ) {
      verdict = "lose";
      // A structural refusal, not a clash decided by rule 3: no conflict to report.
      return { committed: [], verdict, current };
    }
    if (verdict !== "accept") {
      const outcome: SpaceOutcome = { committed: [], verdict, current };
      if (verdict === "lose" && concurrent && current) {
        outcome.conflict = {
          winner: current,
          loser: { origin: proposer, mtimeMs: entry.mtimeMs, hash: entry.hash },
        };
      }
      return outcome;
    }
    const committed: IndexEntry[] = [];
    if (!entry.deleted) this.#reviveAncestors(path, proposer, entry.mtimeMs, committed);
    const next: IndexEntry = { ...entry, path, seq: ++this.seq, origin: proposer };
    this.index.set(path, next);
    committed.push(next);
    // Recorded in the same synchronous step as the decision; frames about it wait for the flush.
    this.#journal?.record(this.name, committed);
    const outcome: SpaceOutcome = { committed, verdict, current: next };
    if (concurrent && current && !current.deleted && !entry.deleted && !sameContent(current, entry)) {
      outcome.conflict = {
        winner: next,
        loser: { origin: current.origin, mtimeMs: current.mtimeMs, hash: current.hash },
      };
    }
    return outcome;
  }

  /** Every entry not in `mentioned`, as deliveries of the current state. */
  unmentioned(mentioned: ReadonlySet<string>): Delivery[] {
    const out: Delivery[] = [];
    for (const entry of this.index.values()) {
      if (!mentioned.has(entry.path)) out.push(toDelivery(entry, "current"));
    }
    return out;
  }

  #blockedByFileAncestor(path: RelPath): boolean {
    for (let p = parentPath(path); p !== undefined; p = parentPath(p)) {
      const e = this.index.get(p);
      // Nothing lives below a file, nor below a link: a write there would follow the link.
      if (e && !e.deleted && (e.kind === "file" || e.kind === "symlink")) return true;
    }
    return false;
  }

  #hasLiveDescendant(path: RelPath): boolean {
    for (const e of this.index.values()) {
      if (!e.deleted && e.path !== path && isUnder(e.path, path)) return true;
    }
    return false;
  }

  // A live entry needs live parent directories: a concurrent directory delete must not orphan it.
  #reviveAncestors(path: RelPath, origin: ClientId, mtimeMs: number, committed: IndexEntry[]): void {
    const missing: RelPath[] = [];
    for (let p = parentPath(path); p !== undefined; p = parentPath(p)) {
      const e = this.index.get(p);
      if (e && !e.deleted) break;
      missing.push(p);
    }
    for (const p of missing.reverse()) {
      const dir: IndexEntry = {
        path: p,
        kind: "directory",
        deleted: false,
        size: 0,
        mtimeMs,
        hash: "",
        executable: false,
        seq: ++this.seq,
        origin,
      };
      this.index.set(p, dir);
      committed.push(dir);
    }
  }
}

export function toDelivery(entry: IndexEntry, cause: Delivery["cause"]): Delivery {
  const { path, seq, origin, kind, deleted, size, mtimeMs, hash, executable, target } = entry;
  const meta = {
    kind,
    deleted,
    size,
    mtimeMs,
    hash,
    executable,
    ...(target === undefined ? {} : { target }),
  };
  return { path, seq, origin, cause, entry: meta };
}
