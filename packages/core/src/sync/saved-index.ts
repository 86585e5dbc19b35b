import { Packr } from "msgpackr";
import { isValidPath } from "../paths.js";
import type { EntryMeta, RelPath } from "../types.js";

/** One path as the client last agreed it with the hub. */
export interface SavedRecord {
  entry: EntryMeta;
  seq: number;
  disk: { size: number; mtimeMs: number; executable: boolean } | undefined;
}

/** What a client keeps between runs: the hub's epoch and every agreed version (tombstones too). */
export interface SavedIndex {
  epoch: string | undefined;
  records: Map<RelPath, SavedRecord>;
}

const FORMAT = 1;
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encodeSavedIndex(space: string, index: SavedIndex): Uint8Array {
  const records: unknown[] = [];
  for (const [path, { entry, seq, disk }] of index.records) records.push([path, seq, entry, disk ?? null]);
  return packr.pack({ v: FORMAT, space, epoch: index.epoch ?? null, records });
}

/**
 * Reads a saved index, or returns `undefined` when it is from another format or space, or damaged:
 * then the client starts as if new (safe: the hub arbitrates every difference).
 */
export function decodeSavedIndex(space: string, bytes: Uint8Array): SavedIndex | undefined {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch {
    return undefined;
  }
  const v = value as { v?: unknown; space?: unknown; epoch?: unknown; records?: unknown };
  if (!v || v.v !== FORMAT || v.space !== space || !Array.isArray(v.records)) return undefined;
  const records = new Map<RelPath, SavedRecord>();
  for (const item of v.records) {
    if (!Array.isArray(item) || item.length !== 4) return undefined;
    const [path, seq, entry, disk] = item as [unknown, unknown, EntryMeta, SavedRecord["disk"] | null];
    if (!isValidPath(path) || typeof seq !== "number" || !isEntryMeta(entry)) return undefined;
    records.set(path, { entry, seq, disk: disk ?? undefined });
  }
  return { epoch: typeof v.epoch === "string" ? v.epoch : undefined, records };
}

function isEntryMeta(e: unknown): e is EntryMeta {
  const m = e as EntryMeta;
  return (
    typeof m === "object" &&
    m !== null &&
    (m.kind === "file" || m.kind === "directory" || m.kind === "symlink") &&
    (m.target === undefined || typeof m.target === "string") &&
    typeof m.deleted === "boolean" &&
    typeof m.size === "number" &&
    typeof m.mtimeMs === "number" &&
    typeof m.hash === "string" &&
    typeof m.executable === "boolean"
  );
}
