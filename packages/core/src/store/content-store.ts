import type { ContentEncoding } from "../protocol/messages.js";
import type { ContentHash } from "../types.js";

/** One chunk as the hub keeps it: in the encoding it arrived in, so fanout never recompresses. */
export interface StoredChunk {
  /** Raw (uncompressed) size. */
  size: number;
  encoding: ContentEncoding;
  data: Uint8Array;
}

/** A file's content: its chunks' hashes in order, and their raw sizes. */
export interface Manifest {
  size: number;
  chunks: string[];
  /**
   * Raw size of each chunk (same length as `chunks`). Absent in manifests stored before sizes were
   * kept: such content cannot serve as the base of a delta manifest, nor be fetched by ranges.
   */
  sizes?: number[];
}

/**
 * Where the hub keeps content, addressed by hash: chunks by their SHA-256, files by their content
 * hash. A rename or copy of known content therefore needs no upload.
 */
export interface ContentStore {
  hasContent(hash: ContentHash): Promise<boolean>;
  getManifest(hash: ContentHash): Promise<Manifest | undefined>;
  getChunk(chunkHash: string): Promise<StoredChunk | undefined>;
  hasChunk(chunkHash: string): Promise<boolean>;
  putChunk(chunkHash: string, chunk: StoredChunk): Promise<void>;
  putManifest(hash: ContentHash, manifest: Manifest): Promise<void>;
  /** Optional: a stored chunk's raw size without reading its data (else `getChunk` is used). */
  chunkSize?(chunkHash: string): Promise<number | undefined>;
  /** Optional: removes content whose file hash is not in `keep` (run when no upload is in flight). */
  collectGarbage?(keep: ReadonlySet<string>): Promise<{ manifests: number; chunks: number }>;
}
