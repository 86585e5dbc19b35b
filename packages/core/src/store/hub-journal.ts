import type { IndexEntry } from "../types.js";

/** What a journal held when the hub started: the hub's identity and every space's index. */
export interface JournalSnapshot {
  /** The hub's epoch from its last run, so clients keep their sequence numbers across restarts. */
  epoch: string | undefined;
  /** `seq` is the space's last sequence number, which may belong to a forgotten tombstone. */
  spaces: { name: string; seq: number; entries: IndexEntry[] }[];
}

/**
 * Where a hub records its index so a restart (even after `kill -9`) loses no change it
 * acknowledged. Recording is synchronous so a decision and its record cannot interleave with
 * another decision; `flush()` makes everything recorded so far durable, and the hub sends no frame
 * that mentions a version before the flush covering it resolves.
 */
export interface HubJournal {
  load(): Promise<JournalSnapshot>;
  /** Remembers the hub's epoch (called once, when the journal had none). */
  setEpoch(epoch: string): void;
  record(space: string, entries: readonly IndexEntry[]): void;
  /** Forgets entries (tombstones past their retention); `seq` stays the space's last number. */
  forget(space: string, paths: readonly string[], seq: number): void;
  /** Resolves once everything recorded before the call is durable; rejects if it cannot be. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A journal in memory: a hub created again with the same object starts where the last one
 * stopped. For tests of restarts without a disk; use the Node journal for real persistence.
 */
export class MemoryHubJournal implements HubJournal {
  #epoch: string | undefined;
  readonly #spaces = new Map<string, { seq: number; index: Map<string, IndexEntry> }>();

  async load(): Promise<JournalSnapshot> {
    return {
      epoch: this.#epoch,
      spaces: [...this.#spaces].map(([name, { seq, index }]) => ({
        name,
        seq,
        entries: [...index.values()].map((e) => ({ ...e })),
      })),
    };
  }
  setEpoch(epoch: string): void {
    this.#epoch = epoch;
  }
  record(space: string, entries: readonly IndexEntry[]): void {
    let state = this.#spaces.get(space);
    if (!state) {
      state = { seq: 0, index: new Map() };
      this.#spaces.set(space, state);
    }
    for (const e of entries) {
      state.index.set(e.path, { ...e });
      state.seq = Math.max(state.seq, e.seq);
    }
  }
  forget(space: string, paths: readonly string[], seq: number): void {
    const state = this.#spaces.get(space);
    if (!state) return;
    for (const p of paths) state.index.delete(p);
    state.seq = Math.max(state.seq, seq);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
