import { sha256, toHex } from "../content/hash.js";
import { type ChunkList, manifestPages } from "../content/manifest.js";
import { type ReadContentOptions, readContent } from "../content/read-content.js";
import { ProtocolError } from "../errors.js";
import type { FileSystem } from "../file-system.js";
import type { ClientMessage, ContentMessage, ManifestMessage, NeedMessage } from "../protocol/messages.js";
import type { ContentHash, RelPath } from "../types.js";
import { type LocalChunks, RangeReader } from "./local-chunks.js";

/** Chunks read, checked and compressed ahead of the one being sent. */
const PREPARE_AHEAD = 4;

/** Why a delta upload stopped without an error to report: the file changed, or the hub refused. */
export class UploadStopped extends Error {
  override readonly name = "UploadStopped";
}

interface NeedWait {
  hash: ContentHash;
  pages: ManifestMessage[];
  received: number;
  needed: number[];
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface DeltaUploadIo {
  fs: FileSystem;
  local: LocalChunks;
  /** Sends a frame and waits for the transport to take it. */
  send: (message: ClientMessage) => Promise<void>;
  /** Encodes one chunk for the wire (compression policy). */
  encode: (
    data: Uint8Array,
  ) => Pick<ContentMessage, "encoding" | "data"> | Promise<Pick<ContentMessage, "encoding" | "data">>;
  /** Bytes of the file handled so far (progress). */
  progress: (bytes: number) => void;
  /** How the file is chunked when its chunk list must be read again (`chunkBlocks`). */
  read?: ReadContentOptions;
}

/**
 * The client's side of a delta upload (PROTOCOL.md rule 9): the file's manifest first (relative to
 * the base the hub offered, when the client knows that content's chunks), then only the chunks the
 * hub answers it lacks. Uploads run one at a time, so one answer is awaited at most.
 */
export class DeltaUploads {
  #wait: NeedWait | undefined;

  /** A `need` answer from the hub. One that does not fit its manifest page fails the upload. */
  onNeed(message: NeedMessage): void {
    const wait = this.#wait;
    if (!wait || wait.hash !== message.hash) return; // an answer to an upload given up already
    const page = wait.pages[wait.received];
    if (!page) {
      wait.reject(
        new ProtocolError(`the hub answered more manifest pages of ${message.hash} than were sent`),
      );
      return;
    }
    for (const [from, to] of message.ranges) {
      if (from < page.first || to > page.first + page.count) {
        wait.reject(
          new ProtocolError(
            `hub asked for chunks ${from}..${to} outside manifest page ${page.first}..${page.first + page.count}`,
          ),
        );
        return;
      }
      for (let i = from; i < to; i++) wait.needed.push(i);
    }
    wait.received++;
    if (wait.received === wait.pages.length) wait.resolve();
  }

  /** The hub refused the upload of `hash` (an error frame naming it). */
  onRefused(hash: string): void {
    if (this.#wait?.hash === hash) this.#wait.reject(new UploadStopped(`the hub refused ${hash}`));
  }

  failAll(error: Error): void {
    this.#wait?.reject(error);
  }

  /**
   * Uploads `path` as content `hash`. Resolves false when the file is not (or no longer) that
   * content: the caller aborts. Every chunk sent is checked against the manifest as it is read, so
   * a file changing in between never sends bytes of another version.
   */
  async upload(io: DeltaUploadIo, hash: ContentHash, path: RelPath, base?: ContentHash): Promise<boolean> {
    const list = await this.#chunkList(io, hash, path);
    if (!list) return false;
    const count = list.chunks.length;
    const size = list.sizes.reduce((a, b) => a + b, 0);
    const baseList = base !== undefined ? io.local.list(base) : undefined;
    const pages = manifestPages(
      hash,
      list,
      base !== undefined && baseList ? { hash: base, list: baseList } : undefined,
    );
    const needed: number[] = [];
    const answered = new Promise<void>((resolve, reject) => {
      this.#wait = { hash, pages, received: 0, needed, resolve, reject };
    });
    answered.catch(() => {});
    try {
      for (const page of pages) await io.send(page);
      await answered;
    } finally {
      this.#wait = undefined;
    }
    const reader = new RangeReader(io.fs);
    try {
      const offsets: number[] = [];
      let offset = 0;
      for (const s of list.sizes) {
        offsets.push(offset);
        offset += s;
      }
      // A few chunks are read, checked and compressed ahead of the one being sent: compression
      // (in worker threads) and hashing overlap the sending instead of taking turns with it.
      let reads: Promise<unknown> = Promise.resolve();
      const prepare = (index: number) => {
        const chunkSize = list.sizes[index] as number;
        // One reader, so reads stay in order; the rest of the work of each chunk runs alongside.
        const read = reads.then(() => reader.read(path, offsets[index] as number, chunkSize));
        reads = read.catch(() => {});
        return read.then(async (data) => {
          if (!data || toHex(await sha256(data)) !== list.chunks[index]) return undefined;
          return { index, chunkSize, encoded: await io.encode(data) };
        });
      };
      const ahead: ReturnType<typeof prepare>[] = [];
      let next = 0;
      let done = 0;
      try {
        while (next < needed.length || ahead.length > 0) {
          while (ahead.length < PREPARE_AHEAD && next < needed.length) {
            const prepared = prepare(needed[next++] as number);
            // Handled when its turn comes; until then a failure must not count as unhandled.
            prepared.catch(() => {});
            ahead.push(prepared);
          }
          const chunk = await (ahead.shift() as ReturnType<typeof prepare>);
          if (!chunk) return false;
          await io.send({
            type: "content",
            hash,
            index: chunk.index,
            size: chunk.chunkSize,
            ...chunk.encoded,
          });
          done += chunk.chunkSize;
          io.progress(chunk.chunkSize);
        }
      } finally {
        // Whatever was prepared ahead is dropped, but its reads finish before the reader closes.
        await Promise.allSettled(ahead);
      }
      io.progress(size - done);
    } finally {
      await reader.close();
    }
    await io.send({ type: "content-end", hash, chunks: count, size });
    return true;
  }

  /** The file's chunks: recorded when it was hashed (same stat and hash), or read again now. */
  async #chunkList(io: DeltaUploadIo, hash: ContentHash, path: RelPath): Promise<ChunkList | undefined> {
    const known = io.local.at(path, await io.fs.stat(path));
    if (known?.hash === hash) return known.list;
    const result = await readContent(io.fs, path, undefined, io.read);
    if (!result?.stable || result.hash !== hash || result.chunks === 0) return undefined;
    io.local.record(path, hash, result.stat, result.list);
    return result.list;
  }
}
