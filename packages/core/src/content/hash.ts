import type { ContentHash } from "../types.js";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}

/** SHA-256 through WebCrypto: native speed in Node and browsers, without importing `node:crypto`. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
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
