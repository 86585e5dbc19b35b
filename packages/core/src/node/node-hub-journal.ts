import { type FileHandle, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import type { HubJournal, JournalSnapshot } from "../store/hub-journal.js";
import type { IndexEntry } from "../types.js";

const LOG_NAME = "index.log";
const HEADER_BYTES = 8;

type JournalRecord =
  | { t: "epoch"; epoch: string }
  | { t: "entries"; s: string; e: IndexEntry[] }
  | { t: "forget"; s: string; p: string[]; q: number };

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/**
 * The hub's index as an append-only log in its state directory: each record is
 * `[length u32][crc32 u32][MessagePack]`, appended and fsynced in groups (one fsync covers every
 * decision made while the previous one ran). A torn last record — the process killed mid-write —
 * fails its checksum and is dropped at the next start; it was never acknowledged, because the hub
 * sends nothing about a version before the fsync that covers it. Each start rewrites the log as a
 * snapshot (temp file, fsync, rename), so it never grows past one record per path plus what one run
 * appends.
 */
export class NodeHubJournal implements HubJournal {
  readonly #dir: string;
  #file: FileHandle | undefined;
  #pending: Uint8Array[] = [];
  #tail: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  /** Records dropped at load because they were torn or corrupt (at most the last one, normally). */
  droppedRecords = 0;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async load(): Promise<JournalSnapshot> {
    const path = join(this.#dir, LOG_NAME);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      bytes = new Uint8Array(0);
    }
    let epoch: string | undefined;
    const spaces = new Map<string, { seq: number; index: Map<string, IndexEntry> }>();
    const space = (name: string) => {
      let state = spaces.get(name);
      if (!state) {
        state = { seq: 0, index: new Map() };
        spaces.set(name, state);
      }
      return state;
    };
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (offset + HEADER_BYTES <= bytes.length) {
      const length = view.getUint32(offset, true);
      const sum = view.getUint32(offset + 4, true);
      const start = offset + HEADER_BYTES;
      if (start + length > bytes.length) break;
      const payload = bytes.subarray(start, start + length);
      if (crc32(payload) !== sum) break;
      const record = packr.unpack(payload) as JournalRecord;
      if (record.t === "epoch") epoch = record.epoch;
      else if (record.t === "entries") {
        const state = space(record.s);
        for (const e of record.e) {
          state.index.set(e.path, e);
          state.seq = Math.max(state.seq, e.seq);
        }
      } else if (record.t === "forget") {
        const state = space(record.s);
        for (const p of record.p) state.index.delete(p);
        state.seq = Math.max(state.seq, record.q);
      }
      offset = start + length;
    }
    if (offset < bytes.length) this.droppedRecords = 1;
    const snapshot: JournalSnapshot = {
      epoch,
      spaces: [...spaces].map(([name, { seq, index }]) => ({ name, seq, entries: [...index.values()] })),
    };
    await this.#rewrite(snapshot);
    return snapshot;
  }

  setEpoch(epoch: string): void {
    this.#append({ t: "epoch", epoch });
  }

  record(space: string, entries: readonly IndexEntry[]): void {
    if (entries.length > 0) this.#append({ t: "entries", s: space, e: [...entries] });
  }

  forget(space: string, paths: readonly string[], seq: number): void {
    if (paths.length > 0) this.#append({ t: "forget", s: space, p: [...paths], q: seq });
  }

  flush(): Promise<void> {
    if (this.#pending.length === 0) return this.#tail;
    const batch = this.#pending;
    this.#pending = [];
    this.#tail = this.#tail.then(() => this.#write(batch));
    return this.#tail;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    await this.#file?.close();
    this.#file = undefined;
  }

  #append(record: JournalRecord): void {
    this.#pending.push(frame(record));
  }

  async #write(batch: Uint8Array[]): Promise<void> {
    // Once a write failed, the log's end is unknown: refuse everything after it rather than
    // acknowledge changes that may not be on disk.
    if (this.#failure) throw this.#failure;
    const file = this.#file;
    if (!file) throw new Error("the hub journal is not open");
    try {
      await file.writev(batch);
      await file.datasync();
    } catch (error) {
      this.#failure = new Error(
        `cannot write the hub's index to ${join(this.#dir, LOG_NAME)}: ${(error as Error).message}`,
        { cause: error },
      );
      throw this.#failure;
    }
  }

  async #rewrite(snapshot: JournalSnapshot): Promise<void> {
    const path = join(this.#dir, LOG_NAME);
    const temp = `${path}.tmp`;
    const records: Uint8Array[] = [];
    if (snapshot.epoch) records.push(frame({ t: "epoch", epoch: snapshot.epoch }));
    for (const { name, seq, entries } of snapshot.spaces) {
      // Batches keep each record small; the forget record carries the space's last seq number.
      for (let i = 0; i < entries.length; i += 1000)
        records.push(frame({ t: "entries", s: name, e: entries.slice(i, i + 1000) }));
      records.push(frame({ t: "forget", s: name, p: [], q: seq }));
    }
    const out = await open(temp, "w");
    try {
      await out.writev(records);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(temp, path);
    await syncDirectory(this.#dir);
    this.#file = await open(path, "a");
  }
}

function frame(record: JournalRecord): Uint8Array {
  const payload = packr.pack(record);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Makes a rename in `dir` durable (a no-op where directories cannot be opened, e.g. Windows). */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Best effort: some platforms refuse fsync on a directory.
  } finally {
    await handle?.close();
  }
}
