import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ContentStore, Manifest, StoredChunk } from "../store/content-store.js";
import type { ContentHash } from "../types.js";

const HEX = /^[0-9a-f]{16,128}$/;
const ENCODINGS = ["raw", "deflate"] as const;

/**
 * The hub's content on disk, addressed by hash: `chunks/ab/<hash>` holds one chunk as it arrived
 * (a one-byte encoding, its raw size, then the bytes), `manifests/ab/<hash>` a file's list of chunk
 * hashes and sizes. A chunk is stored once, however many files (or versions) list it. Each file is
 * written to `tmp/` and fsynced before it is renamed into place, and (when durable) the directory is
 * fsynced after the rename, so a crash or power loss leaves either nothing or a whole chunk, and the
 * hub never records a version whose content is not durable. Memory stays bounded whatever the file
 * sizes: only chunks in flight are held.
 */
export class NodeContentStore implements ContentStore {
  readonly #dir: string;
  readonly #durable: boolean;
  /** Hashes known to be on disk, so repeated checks cost no system call. */
  readonly #knownChunks = new Set<string>();
  readonly #knownManifests = new Set<string>();
  /** Prefix directories known to exist: a `mkdir` per stored chunk was a tenth of a hub's time. */
  readonly #prefixes = new Set<string>();
  /**
   * Set when the store was empty at open: then every hash it holds was written by this instance and
   * is in the known sets, so a new hash costs no failing `stat` (an exception per new chunk).
   */
  #allKnown = false;
  #ready: Promise<void> | undefined;

  /**
   * `durable: false` skips the fsync of each file: for a scratch store that a crash discards anyway
   * (the CLI's hub without `--state-dir`), where an fsync per small file would dominate.
   */
  constructor(dir: string, options: { durable?: boolean } = {}) {
    this.#dir = dir;
    this.#durable = options.durable ?? true;
  }

  /** Creates the layout and removes temp files a crash left behind. */
  open(): Promise<void> {
    this.#ready ??= (async () => {
      await rm(join(this.#dir, "tmp"), { recursive: true, force: true });
      await mkdir(join(this.#dir, "tmp"), { recursive: true });
      await mkdir(join(this.#dir, "chunks"), { recursive: true });
      await mkdir(join(this.#dir, "manifests"), { recursive: true });
      if (this.#durable) await syncDirectory(this.#dir);
      const held = [
        ...(await readdir(join(this.#dir, "chunks"))),
        ...(await readdir(join(this.#dir, "manifests"))),
      ];
      this.#allKnown = held.length === 0;
    })();
    return this.#ready;
  }

  async hasContent(hash: ContentHash): Promise<boolean> {
    return this.#exists(this.#knownManifests, "manifests", hash);
  }

  async getManifest(hash: ContentHash): Promise<Manifest | undefined> {
    const bytes = await this.#read("manifests", hash);
    if (!bytes) return undefined;
    const manifest = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    this.#knownManifests.add(hash);
    return manifest;
  }

  async hasChunk(chunkHash: string): Promise<boolean> {
    return this.#exists(this.#knownChunks, "chunks", chunkHash);
  }

  async getChunk(chunkHash: string): Promise<StoredChunk | undefined> {
    const bytes = await this.#read("chunks", chunkHash);
    if (!bytes || bytes.length < 5) return undefined;
    const encoding = ENCODINGS[bytes[0] as number];
    if (!encoding) return undefined;
    const size = new DataView(bytes.buffer, bytes.byteOffset + 1, 4).getUint32(0, true);
    return { size, encoding, data: bytes.subarray(5) };
  }

  /** A stored chunk's raw size, from its 5-byte header only. */
  async chunkSize(chunkHash: string): Promise<number | undefined> {
    if (!HEX.test(chunkHash)) return undefined;
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(this.#path("chunks", chunkHash), "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      const header = new Uint8Array(5);
      const { bytesRead } = await file.read(header, 0, 5, 0);
      if (bytesRead < 5 || ENCODINGS[header[0] as number] === undefined) return undefined;
      return new DataView(header.buffer).getUint32(1, true);
    } finally {
      await file.close();
    }
  }

  async putChunk(chunkHash: string, chunk: StoredChunk): Promise<void> {
    if (await this.hasChunk(chunkHash)) return;
    const header = new Uint8Array(5);
    header[0] = ENCODINGS.indexOf(chunk.encoding);
    new DataView(header.buffer).setUint32(1, chunk.size, true);
    await this.#write("chunks", chunkHash, [header, chunk.data]);
    this.#knownChunks.add(chunkHash);
  }

  async putManifest(hash: ContentHash, manifest: Manifest): Promise<void> {
    if (await this.hasContent(hash)) return;
    const json = JSON.stringify({ size: manifest.size, chunks: manifest.chunks, sizes: manifest.sizes });
    await this.#write("manifests", hash, [new TextEncoder().encode(json)]);
    this.#knownManifests.add(hash);
  }

  /**
   * Removes content no live version needs: manifests not in `keep`, then chunks no kept manifest
   * lists. Returns what it removed. Run it when no upload is in flight (the hub does, at start).
   */
  async collectGarbage(keep: ReadonlySet<string>): Promise<{ manifests: number; chunks: number }> {
    await this.open();
    const removed = { manifests: 0, chunks: 0 };
    const liveChunks = new Set<string>();
    for (const hash of await this.#list("manifests")) {
      if (keep.has(hash)) {
        const manifest = await this.getManifest(hash as ContentHash);
        for (const c of manifest?.chunks ?? []) liveChunks.add(c);
        continue;
      }
      await rm(this.#path("manifests", hash), { force: true });
      this.#knownManifests.delete(hash);
      removed.manifests++;
    }
    for (const hash of await this.#list("chunks")) {
      if (liveChunks.has(hash)) continue;
      await rm(this.#path("chunks", hash), { force: true });
      this.#knownChunks.delete(hash);
      removed.chunks++;
    }
    return removed;
  }

  #path(kind: string, hash: string): string {
    if (!HEX.test(hash)) throw new Error(`not a content hash: ${JSON.stringify(hash.slice(0, 80))}`);
    return join(this.#dir, kind, hash.slice(0, 2), hash);
  }

  async #exists(known: Set<string>, kind: string, hash: string): Promise<boolean> {
    if (known.has(hash)) return true;
    if (!HEX.test(hash) || this.#allKnown) return false;
    try {
      await stat(this.#path(kind, hash));
      known.add(hash);
      return true;
    } catch {
      return false;
    }
  }

  async #read(kind: string, hash: string): Promise<Uint8Array | undefined> {
    if (!HEX.test(hash)) return undefined;
    try {
      return await readFile(this.#path(kind, hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async #write(kind: string, hash: string, parts: Uint8Array[]): Promise<void> {
    await this.open();
    const final = this.#path(kind, hash);
    const temp = join(this.#dir, "tmp", `${hash.slice(0, 16)}-${randomBytes(6).toString("hex")}`);
    const file = await open(temp, "w");
    try {
      await file.writev(parts);
      if (this.#durable) await file.datasync();
    } catch (error) {
      await file.close();
      await rm(temp, { force: true });
      throw error;
    }
    await file.close();
    const dir = join(this.#dir, kind, hash.slice(0, 2));
    try {
      if (!this.#prefixes.has(dir)) await this.#makePrefix(kind, dir);
      await rename(temp, final);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || !this.#prefixes.has(dir)) throw error;
      // The prefix directory was removed behind our back: make it again.
      this.#prefixes.delete(dir);
      await this.#makePrefix(kind, dir);
      await rename(temp, final);
    }
    // The rename is durable only once its directory is: without this, a power loss could lose a
    // chunk the journal already relies on.
    if (this.#durable) await syncDirectory(dir);
  }

  async #makePrefix(kind: string, dir: string): Promise<void> {
    // A prefix directory created now is itself a new entry of its parent.
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined && this.#durable) await syncDirectory(join(this.#dir, kind));
    this.#prefixes.add(dir);
  }

  async #list(kind: string): Promise<string[]> {
    const out: string[] = [];
    for (const prefix of await readdir(join(this.#dir, kind)).catch(() => [] as string[])) {
      for (const name of await readdir(join(this.#dir, kind, prefix)).catch(() => [] as string[])) {
        if (HEX.test(name)) out.push(name);
      }
    }
    return out;
  }
}

/** fsyncs a directory (its entries: names created or renamed into it). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
