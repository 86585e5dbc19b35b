// The S3 fixtures, written in 4 MiB pieces so that this process never holds the whole file:
// "random" is incompressible; "text" is log-like lines (timestamps, ids, paths, numbers) that
// deflate to roughly a quarter without being one block repeated, which chunk dedupe would erase.
import { createHash, randomFillSync } from "node:crypto";
import { open } from "node:fs/promises";

const PIECE = 4 * 2 ** 20;
const LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const VERBS = ["GET", "GET", "POST", "PUT", "DELETE"];
const PATHS = ["/api/items", "/api/users", "/api/orders", "/static/app.js", "/health", "/api/search"];
const WORDS = ["accepted", "cache hit", "cache miss", "retrying", "slow query", "forwarded", "done"];

/** Writes `size` bytes of `kind` ("random" | "text") to `path`; returns the SHA-256 hex of the content. */
export async function writeBigFile(path, size, kind) {
  const hash = createHash("sha256");
  const file = await open(path, "w");
  const next = kind === "text" ? textPieces() : randomPieces();
  try {
    for (let written = 0; written < size; ) {
      const piece = next();
      const part = piece.subarray(0, Math.min(piece.length, size - written));
      hash.update(part);
      await file.write(part);
      written += part.length;
    }
  } finally {
    await file.close();
  }
  return hash.digest("hex");
}

function randomPieces() {
  const buffer = Buffer.allocUnsafe(PIECE);
  return () => randomFillSync(buffer);
}

function textPieces() {
  // xorshift32 with a fixed seed: the same text every run, and far faster than crypto random.
  let state = 0x9e3779b9;
  const rand = (n) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  let clock = Date.UTC(2026, 0, 1);
  return () => {
    const lines = [];
    let length = 0;
    while (length < PIECE) {
      clock += rand(40);
      const line =
        `${new Date(clock).toISOString()} ${LEVELS[rand(LEVELS.length)]} worker-${rand(32)} ` +
        `${VERBS[rand(VERBS.length)]} ${PATHS[rand(PATHS.length)]}/${rand(100000)} ` +
        `status=${rand(10) < 8 ? 200 : 404} ms=${rand(900)}.${rand(10)} ${WORDS[rand(WORDS.length)]} ` +
        `req=${rand(0xffffff).toString(16).padStart(6, "0")}\n`;
      lines.push(line);
      length += line.length;
    }
    return Buffer.from(lines.join(""), "latin1");
  };
}
