import type { ContentHash } from "../types.js";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}

/** Inputs up to this size are hashed at once on the calling thread when the runtime allows it. */
const SYNC_HASH_MAX_BYTES = 16 * 1024;

interface SyncHash {
  update(data: Uint8Array): SyncHash;
  digest(): Uint8Array;
}

/**
 * Node's synchronous `createHash`, found at run time (`process.getBuiltinModule`, Node ≥ 20.16) so
 * that this entry imports no Node built-in; `undefined` in browsers. A WebCrypto digest is a job on
 * another thread: ~40–60 µs per call here whatever the size, against ~9 µs for 4 KiB in place —
 * most of the hashing time of many small files.
 */
const createSyncHash: ((algorithm: "sha256") => SyncHash) | undefined = (() => {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const crypto = runtime?.getBuiltinModule?.("node:crypto") as
    | { createHash?: (algorithm: string) => SyncHash }
    | undefined;
  return crypto?.createHash;
})();

/**
 * SHA-256: small inputs in place through Node's hash when present, the rest through WebCrypto (off
 * the main thread, and native in browsers), without importing `node:crypto`.
 */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  if (createSyncHash !== undefined && data.length <= SYNC_HASH_MAX_BYTES) {
    const digest = createSyncHash("sha256").update(data).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }
  // WebCrypto wants an ArrayBuffer-backed view; a copy is cheaper than a wrong digest.
  const view = data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : data.slice();
  return new Uint8Array(await crypto.subtle.digest("SHA-256", view));
}

/**
 * Builds a file's content hash: SHA-256 over the concatenated SHA-256 digests of its chunks, in
 * order (PROTOCOL.md §Content hash). Feed chunk digests with `add`.
 */
export class ContentHasher {
  #digests: Uint8Array[] = [];
  #size = 0;

  add(chunkDigest: Uint8Array, chunkSize: number): void {
    this.#digests.push(chunkDigest);
    this.#size += chunkSize;
  }

  get size(): number {
    return this.#size;
  }

  get chunkCount(): number {
    return this.#digests.length;
  }

  async digest(): Promise<ContentHash> {
    const all = new Uint8Array(this.#digests.length * 32);
    this.#digests.forEach((d, i) => {
      all.set(d, i * 32);
    });
    return toHex(await sha256(all)) as ContentHash;
  }
}

/** Constant-time comparison of two strings (by their UTF-8 bytes' SHA-256, so length leaks nothing). */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [x, y] = await Promise.all([sha256(encoder.encode(a)), sha256(encoder.encode(b))]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] as number) ^ (y[i] as number);
  return diff === 0;
}
