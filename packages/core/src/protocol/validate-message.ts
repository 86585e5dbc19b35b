import { PathNotAllowedError, ProtocolError } from "../errors.js";
import { isInternalPath, pathProblem } from "../paths.js";
import type { EntryMeta } from "../types.js";
import { CHUNK_MAX_BYTES, CHUNK_MIN_BYTES, MANIFEST_PAGE_CHUNKS, MAX_BATCH_ITEMS } from "./constants.js";
import type { Delivery, InlineContent, Message, Proposal } from "./messages.js";

type Fields = Record<string, unknown>;

const HASH = /^[0-9a-f]{64}$/;
const MAX_STRING = 4096;

function fail(message: string): never {
  throw new ProtocolError(message);
}

// A plain map only: msgpackr turns the never-used byte 0xc1 and extension types into class
// instances (C1Type, Date, Error…), which must not pass for a map.
function isRecord(value: unknown): value is Fields {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function str(fields: Fields, key: string, where: string, optional = false): string | undefined {
  const value = fields[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string") fail(`${where}: field '${key}' must be a string`);
  if (value.length > MAX_STRING) fail(`${where}: field '${key}' is too long`);
  return value;
}

function int(fields: Fields, key: string, where: string, min = 0): number {
  const value = fields[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    fail(`${where}: field '${key}' must be an integer ≥ ${min}`);
  }
  return value;
}

function finite(fields: Fields, key: string, where: string): number {
  const value = fields[key];
  if (typeof value !== "number" || !Number.isFinite(value)) fail(`${where}: field '${key}' must be a number`);
  return value;
}

function bool(fields: Fields, key: string, where: string): boolean {
  const value = fields[key];
  if (typeof value !== "boolean") fail(`${where}: field '${key}' must be a boolean`);
  return value;
}

function bytes(fields: Fields, key: string, where: string): Uint8Array {
  const value = fields[key];
  if (!(value instanceof Uint8Array)) fail(`${where}: field '${key}' must be binary`);
  return value;
}

function hash(fields: Fields, key: string, where: string): string {
  const value = str(fields, key, where) as string;
  if (!HASH.test(value)) fail(`${where}: field '${key}' must be a lower-case hex SHA-256`);
  return value;
}

function encoding(fields: Fields, where: string): void {
  const value = fields.encoding;
  if (value !== "raw" && value !== "deflate") fail(`${where}: encoding must be 'raw' or 'deflate'`);
}

function path(fields: Fields, _where: string): void {
  const problem = pathProblem(fields.path);
  // A typed error of its own: the hub answers it with the `path-not-allowed` code.
  if (problem !== undefined) throw new PathNotAllowedError(String(fields.path), problem);
  if (isInternalPath(fields.path as string)) {
    throw new PathNotAllowedError(String(fields.path), "a name DistSync keeps for itself (.distsync*)");
  }
}

function items(fields: Fields, where: string, check: (item: unknown, where: string) => void): void {
  const list = fields.items;
  if (!Array.isArray(list)) fail(`${where}: field 'items' must be an array`);
  if (list.length > MAX_BATCH_ITEMS) {
    fail(`${where}: ${list.length} items; a batch holds at most ${MAX_BATCH_ITEMS} items`);
  }
  for (let i = 0; i < list.length; i++) check(list[i], `${where}.items[${i}]`);
}

export function checkEntryMeta(value: unknown, where: string): asserts value is EntryMeta {
  if (!isRecord(value)) fail(`${where}: entry must be a map`);
  if (value.kind !== "file" && value.kind !== "directory" && value.kind !== "symlink")
    fail(`${where}: kind must be 'file', 'directory' or 'symlink'`);
  const deleted = bool(value, "deleted", where);
  const size = int(value, "size", where);
  finite(value, "mtimeMs", where);
  const executable = bool(value, "executable", where);
  const h = str(value, "hash", where);
  const live = value.kind === "file" && !deleted;
  if (live && !HASH.test(h ?? "")) fail(`${where}: a live file needs a hex SHA-256 hash`);
  if (!live && (h !== "" || size !== 0)) fail(`${where}: directories and tombstones carry no hash or size`);
  if (value.kind === "directory" && executable) fail(`${where}: directories carry no executable bit`);
  // A link's target is only checked for its type here: whether it stays inside the folder is a
  // decision about that one item (PROTOCOL.md §4), refused on its own with `link-not-allowed`.
  if (value.kind === "symlink") {
    if (executable) fail(`${where}: symbolic links carry no executable bit`);
    if (!deleted) str(value, "target", where);
  }
  if ((value.kind !== "symlink" || deleted) && value.target !== undefined) {
    fail(`${where}: only a live symbolic link carries a target`);
  }
}

function checkInline(value: unknown, where: string): asserts value is InlineContent {
  if (!isRecord(value)) fail(`${where}: data must be a map`);
  encoding(value, where);
  bytes(value, "data", where);
}

function checkProposal(value: unknown, where: string): asserts value is Proposal {
  if (!isRecord(value)) fail(`${where}: must be a map`);
  path(value, where);
  int(value, "base", where);
  checkEntryMeta(value.entry, `${where}.entry`);
  if (value.data !== undefined) checkInline(value.data, `${where}.data`);
}

function checkDelivery(value: unknown, where: string): asserts value is Delivery {
  if (!isRecord(value)) fail(`${where}: must be a map`);
  path(value, where);
  int(value, "seq", where, 1);
  str(value, "origin", where);
  checkEntryMeta(value.entry, `${where}.entry`);
  if (!["change", "overruled", "current", "lost"].includes(value.cause as string)) {
    fail(`${where}: unknown cause`);
  }
  if (value.data !== undefined) checkInline(value.data, `${where}.data`);
}

function checkAccepted(value: unknown, where: string): void {
  if (!isRecord(value)) fail(`${where}: must be a map`);
  path(value, where);
  int(value, "seq", where, 1);
  str(value, "hash", where);
  if (value.mtimeMs !== undefined) finite(value, "mtimeMs", where);
}

function checkRanges(fields: Fields, where: string): void {
  const list = fields.ranges;
  if (!Array.isArray(list)) fail(`${where}: field 'ranges' must be an array`);
  if (list.length > MANIFEST_PAGE_CHUNKS) fail(`${where}: more than ${MANIFEST_PAGE_CHUNKS} ranges`);
  let previous = 0;
  for (const range of list) {
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !range.every((n) => Number.isSafeInteger(n) && n >= 0) ||
      (range[0] as number) >= (range[1] as number) ||
      (range[0] as number) < previous
    ) {
      fail(`${where}: ranges must be ascending, disjoint, non-empty [start, end) pairs of indexes`);
    }
    previous = range[1] as number;
  }
}

/** A `manifest` page (PROTOCOL.md §6): checks that need no other state than the page itself. */
function checkManifestPage(value: Fields, where: string): void {
  hash(value, "hash", where);
  const size = int(value, "size", where);
  const chunks = int(value, "chunks", where, 1);
  const first = int(value, "first", where);
  const count = int(value, "count", where, 1);
  if (first + count > chunks) fail(`${where}: page ends beyond the manifest's ${chunks} chunks`);
  // Every chunk but the last is at least the minimum size, and none is above the maximum.
  if (chunks > Math.floor(size / CHUNK_MIN_BYTES) + 1 || chunks < Math.ceil(size / CHUNK_MAX_BYTES)) {
    fail(`${where}: ${chunks} chunks cannot hold ${size} bytes`);
  }
  if (value.base !== undefined) hash(value, "base", where);
  const copies = value.copies;
  if (!Array.isArray(copies) || copies.length > MANIFEST_PAGE_CHUNKS) {
    fail(`${where}: field 'copies' must hold at most ${MANIFEST_PAGE_CHUNKS} runs`);
  }
  if (copies.length > 0 && value.base === undefined) fail(`${where}: copies need a base`);
  let next = first;
  let copied = 0;
  for (const run of copies) {
    if (
      !Array.isArray(run) ||
      run.length !== 3 ||
      !run.every((n) => Number.isSafeInteger(n) && n >= 0) ||
      (run[0] as number) < next ||
      (run[2] as number) < 1 ||
      (run[0] as number) + (run[2] as number) > first + count
    ) {
      fail(`${where}: copies must be ascending, disjoint [at, from, length] runs within the page`);
    }
    next = (run[0] as number) + (run[2] as number);
    copied += run[2] as number;
  }
  const literals = count - copied;
  const sizes = value.sizes;
  if (!Array.isArray(sizes) || sizes.length !== literals || literals > MANIFEST_PAGE_CHUNKS) {
    fail(
      `${where}: field 'sizes' must hold one size per position not copied (at most ${MANIFEST_PAGE_CHUNKS})`,
    );
  }
  for (const n of sizes) {
    if (!Number.isSafeInteger(n) || n < 1 || n > CHUNK_MAX_BYTES) {
      fail(`${where}: chunk sizes must be integers in 1..${CHUNK_MAX_BYTES}`);
    }
  }
  if (bytes(value, "digests", where).length !== literals * 32) {
    fail(`${where}: field 'digests' must hold 32 bytes per position not copied`);
  }
}

/** Checks that `value` is exactly one of the messages in PROTOCOL.md. */
export function validateMessage(value: unknown): Message {
  if (!isRecord(value)) fail("frame is not a map");
  const type = value.type;
  const where = `'${String(type)}' message`;
  switch (type) {
    case "hello": {
      const versions = value.versions;
      if (
        !Array.isArray(versions) ||
        versions.length !== 2 ||
        !versions.every((v) => Number.isSafeInteger(v) && v >= 1)
      ) {
        fail(`${where}: versions must be [min, max]`);
      }
      str(value, "space", where);
      str(value, "clientId", where);
      str(value, "name", where, true);
      str(value, "token", where, true);
      str(value, "key", where, true);
      break;
    }
    case "welcome":
      int(value, "version", where, 1);
      str(value, "clientId", where);
      str(value, "epoch", where);
      int(value, "seq", where);
      int(value, "heartbeatMs", where, 1);
      int(value, "timeoutMs", where, 1);
      break;
    case "index":
      items(value, where, checkProposal);
      bool(value, "final", where);
      break;
    case "propose":
      items(value, where, checkProposal);
      break;
    case "entries":
      items(value, where, checkDelivery);
      break;
    case "ack":
      items(value, where, checkAccepted);
      break;
    case "synced":
      int(value, "seq", where);
      break;
    case "upload":
      hash(value, "hash", where);
      path(value, where);
      if (value.base !== undefined) hash(value, "base", where);
      break;
    case "fetch":
      hash(value, "hash", where);
      if (value.ranges !== undefined) checkRanges(value, where);
      break;
    case "fetch-manifest":
      hash(value, "hash", where);
      if (value.base !== undefined) hash(value, "base", where);
      break;
    case "manifest":
      checkManifestPage(value, where);
      break;
    case "need":
      hash(value, "hash", where);
      checkRanges(value, where);
      break;
    case "content":
      hash(value, "hash", where);
      int(value, "index", where);
      int(value, "size", where);
      encoding(value, where);
      bytes(value, "data", where);
      break;
    case "content-end":
      hash(value, "hash", where);
      int(value, "chunks", where);
      int(value, "size", where);
      break;
    case "content-abort":
      hash(value, "hash", where);
      str(value, "reason", where);
      break;
    case "ping":
      finite(value, "time", where);
      if (value.applied !== undefined) int(value, "applied", where);
      if (value.delivered !== undefined) int(value, "delivered", where);
      break;
    case "pong":
      finite(value, "time", where);
      break;
    case "bye":
      break;
    case "error":
      str(value, "code", where);
      str(value, "message", where);
      bool(value, "fatal", where);
      str(value, "path", where, true);
      str(value, "hash", where, true);
      break;
    default:
      fail(`unknown message type ${JSON.stringify(type)}`);
  }
  return value as unknown as Message;
}
