import type { ChunkList } from "../content/manifest.js";
import type { FileReadHandle, FileSystem } from "../file-system.js";
import { DELTA_MIN_BYTES } from "../protocol/constants.js";
import type { ContentHash, RelPath } from "../types.js";
import type { SavedChunks } from "./saved-chunks.js";

interface PathRecord {
  hash: ContentHash;
  size: number;
  mtimeMs: number;
  list: ChunkList;
  /** Byte offset of each chunk (computed on first use). */
  offsets?: number[];
}

/** Where a chunk can be read locally: a file, the chunk's offset and size, and the file's stat. */
export interface LocalChunk {
  path: RelPath;
  offset: number;
  size: number;
  /** The file's size and mtime when its chunks were recorded: a file that differs is not used. */
  fileSize: number;
  fileMtimeMs: number;
}

/** How many chunk lists of content no longer on disk are kept (bases for delta uploads). */
const RECENT_LISTS = 32;

/**
 * The client's index of the chunks of its own large files (above `DELTA_MIN_BYTES`): filled
 * whenever the client hashes a file or writes a downloaded one, so a download finds chunks it
 * already holds (the old version of the same path, a copy, a renamed file) and an upload can name
 * the chunks of the version the hub holds. The client saves the per-path records beside its index
 * (saved-chunks.ts) and loads them at start, since files it trusts by their stat are not hashed
 * again. A hint only: every chunk read from a file is checked against its digest before it is
 * used, and a file whose size or mtime changed since it was recorded is not read at all.
 */
export class LocalChunks {
  /** Per path, the least recently recorded first. */
  readonly #paths = new Map<RelPath, PathRecord>();
  /** Known locations per chunk digest, the latest recorded last (stale ones are dropped lazily). */
  readonly #chunks = new Map<string, { path: RelPath; index: number }[]>();
  /** Chunk lists by content hash, the most recent last (bounded). */
  readonly #lists = new Map<ContentHash, ChunkList>();
  readonly #onChange: () => void;
  #changes = 0;

  /** `onChange`: called when a path's record is added, replaced or dropped. */
  constructor(onChange: () => void = () => {}) {
    this.#onChange = onChange;
  }

  /** Counts the changes to the per-path records (what `saved()` returns). */
  get changes(): number {
    return this.#changes;
  }

  /** Records the chunks of `path` as read or written now (`size`/`mtimeMs`: its stat then). */
  record(path: RelPath, hash: ContentHash, stat: { size: number; mtimeMs: number }, list: ChunkList): void {
    if (stat.size <= DELTA_MIN_BYTES || list.chunks.length < 2) {
      this.forget(path);
      return;
    }
    const known = this.#paths.get(path);
    this.#paths.delete(path);
    this.#add(path, { hash, size: stat.size, mtimeMs: stat.mtimeMs, list });
    this.remember(hash, list);
    // The same record again is nothing new to save.
    if (known?.hash !== hash || known.size !== stat.size || known.mtimeMs !== stat.mtimeMs) this.#changed();
  }

  /** Adds records a previous run saved (as `saved()` gave them), for paths not recorded in this one. */
  load(records: readonly SavedChunks[]): void {
    for (let i = records.length - 1; i >= 0; i--) {
      const { path, hash, size, mtimeMs, list } = records[i] as SavedChunks;
      if (!this.#paths.has(path)) this.#add(path, { hash, size, mtimeMs, list });
    }
  }

  /** The per-path records, the most recently recorded first (to save; see saved-chunks.ts). */
  *saved(): Generator<SavedChunks> {
    const paths = [...this.#paths];
    for (let i = paths.length - 1; i >= 0; i--) {
      const [path, { hash, size, mtimeMs, list }] = paths[i] as [RelPath, PathRecord];
      yield { path, hash, size, mtimeMs, list };
    }
  }

  #add(path: RelPath, record: PathRecord): void {
    this.#paths.set(path, record);
    record.list.chunks.forEach((chunk, index) => {
      const places = (this.#chunks.get(chunk) ?? []).filter((p) => p.path !== path && this.#holds(p, chunk));
      places.push({ path, index });
      this.#chunks.set(chunk, places);
    });
  }

  #changed(): void {
    this.#changes++;
    this.#onChange();
  }

  /** Keeps the chunk list of content `hash` (a base for later delta transfers). */
  remember(hash: ContentHash, list: ChunkList): void {
    this.#lists.delete(hash);
    this.#lists.set(hash, list);
    while (this.#lists.size > RECENT_LISTS) {
      const oldest = this.#lists.keys().next().value;
      if (oldest === undefined) break;
      this.#lists.delete(oldest);
    }
  }

  /** The file at `path` changed or went away: its chunks are no longer found there. */
  forget(path: RelPath): void {
    if (this.#paths.delete(path)) this.#changed();
  }

  /** The chunk list of content `hash`, if known. */
  list(hash: ContentHash): ChunkList | undefined {
    const record = [...this.#paths.values()].find((r) => r.hash === hash);
    return record?.list ?? this.#lists.get(hash);
  }

  /** The recorded chunks of `path`, if its stat still matches. */
  at(
    path: RelPath,
    stat: { size: number; mtimeMs: number } | undefined,
  ): { hash: ContentHash; list: ChunkList } | undefined {
    const record = this.#paths.get(path);
    if (!record || !stat || record.size !== stat.size || record.mtimeMs !== stat.mtimeMs) return undefined;
    return { hash: record.hash, list: record.list };
  }

  /** A local copy of `chunk`, if one is recorded. */
  find(chunk: string): LocalChunk | undefined {
    const places = this.#chunks.get(chunk);
    if (!places) return undefined;
    let where = places[places.length - 1];
    while (where && !this.#holds(where, chunk)) {
      places.pop();
      where = places[places.length - 1];
    }
    if (!where) {
      this.#chunks.delete(chunk);
      return undefined;
    }
    const record = this.#paths.get(where.path) as PathRecord;
    if (!record.offsets) {
      const offsets: number[] = [];
      let offset = 0;
      for (const size of record.list.sizes) {
        offsets.push(offset);
        offset += size;
      }
      record.offsets = offsets;
    }
    return {
      path: where.path,
      offset: record.offsets[where.index] as number,
      size: record.list.sizes[where.index] as number,
      fileSize: record.size,
      fileMtimeMs: record.mtimeMs,
    };
  }

  #holds(place: { path: RelPath; index: number }, chunk: string): boolean {
    return this.#paths.get(place.path)?.list.chunks[place.index] === chunk;
  }

  /** Whether `path`'s record still describes the file (same size and mtime). */
  async current(fs: FileSystem, path: RelPath): Promise<boolean> {
    const record = this.#paths.get(path);
    if (!record) return false;
    const stat = await fs.stat(path);
    if (stat?.kind === "file" && stat.size === record.size && stat.mtimeMs === record.mtimeMs) return true;
    this.forget(path);
    return false;
  }
}

/**
 * Reads byte ranges of local files through sequential read handles (the FileSystem contract has no
 * positional read): one open handle per file, reopened when a range lies behind it, skipping ahead
 * otherwise. Ranges read in ascending order cost one pass over each file.
 */
export class RangeReader {
  readonly #fs: FileSystem;
  readonly #open = new Map<RelPath, { handle: FileReadHandle; position: number; pending?: Uint8Array }>();

  constructor(fs: FileSystem) {
    this.#fs = fs;
  }

  /** `length` bytes at `offset` of `path`, or `undefined` when the file is gone or shorter. */
  async read(path: RelPath, offset: number, length: number): Promise<Uint8Array | undefined> {
    let state = this.#open.get(path);
    if (state && state.position > offset) {
      await state.handle.close();
      this.#open.delete(path);
      state = undefined;
    }
    if (!state) {
      const handle = await this.#fs.openRead(path);
      if (!handle) return undefined;
      state = { handle, position: 0 };
      this.#open.set(path, state);
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      let block = state.pending;
      state.pending = undefined;
      if (!block) {
        block = await state.handle.read(Math.max(READ_BYTES, length - filled));
        if (block.length === 0) return undefined;
      }
      const start = state.position;
      state.position += block.length;
      if (state.position <= offset) continue; // before the range: skipped
      const from = Math.max(0, offset + filled - start);
      const take = Math.min(block.length - from, length - filled);
      out.set(block.subarray(from, from + take), filled);
      filled += take;
      if (from + take < block.length) {
        // The rest of the block belongs to later ranges.
        state.pending = block.subarray(from + take);
        state.position = start + from + take;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    for (const { handle } of this.#open.values()) await handle.close().catch(() => {});
    this.#open.clear();
  }
}

const READ_BYTES = 1024 * 1024;
