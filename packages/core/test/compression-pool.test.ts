import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
// The built package: the pool starts its workers from the compiled `compression-worker.js`.
import { type CompressionPool, createCompressionPool } from "../dist/node/index.js";
import { decodeChunk, encodeChunk } from "../src/content/compression.js";

const pools: CompressionPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(): CompressionPool {
  const p = createCompressionPool({ threads: 2 });
  pools.push(p);
  return p;
}

/** Log-like text: compresses well, yet takes fflate real work. */
function text(bytes: number): Uint8Array {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `2026-11-26T08:${String(i % 60).padStart(2, "0")}:00Z INFO request ${i} served in ${(i * 7919) % 1000} ms from ${randomBytes(3).toString("hex")}\n`;
    lines.push(line);
    size += line.length;
  }
  return new TextEncoder().encode(lines.join("")).subarray(0, bytes);
}

describe("createCompressionPool", () => {
  it("deflates in a worker what encodeChunk would, and the result inflates to the input", async () => {
    const chunk = text(256 * 1024);
    const encoded = await pool().encode(chunk, "auto");
    expect(encoded.encoding).toBe("deflate");
    expect(encoded.data.length).toBeLessThan(chunk.length / 2);
    expect(decodeChunk(encoded.encoding, encoded.data, chunk.length)).toEqual(chunk);
    expect(encoded.data).toEqual(encodeChunk(chunk, "auto").data);
  });

  it("sends incompressible and small chunks raw, and `never` never compresses", async () => {
    const p = pool();
    const random = new Uint8Array(randomBytes(256 * 1024));
    expect(await p.encode(random, "auto")).toEqual({ encoding: "raw", data: random });
    const small = text(1000);
    expect(await p.encode(small, "auto")).toEqual(encodeChunk(small, "auto"));
    expect((await p.encode(text(64 * 1024), "never")).encoding).toBe("raw");
  });

  it("keeps the event loop turning while large chunks are compressed", async () => {
    const chunks = Array.from({ length: 16 }, () => text(256 * 1024));
    const p = pool();
    await p.encode(chunks[0] as Uint8Array, "auto"); // workers started
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const encoded = await Promise.all(chunks.map((c) => p.encode(c, "auto")));
    running = false;
    expect(encoded.every((e) => e.encoding === "deflate")).toBe(true);
    // On this thread the same work would run in one piece with no turn in between.
    expect(turns).toBeGreaterThan(chunks.length);

    let syncTurns = 0;
    setImmediate(() => syncTurns++);
    for (const c of chunks) encodeChunk(c, "auto");
    expect(syncTurns).toBe(0);
  });

  it("answers every request of a burst in order of ids, across its workers", async () => {
    const p = pool();
    const chunks = Array.from({ length: 40 }, (_, i) => text(20 * 1024 + i * 97));
    const encoded = await Promise.all(chunks.map((c) => p.encode(c, "always")));
    encoded.forEach((e, i) => {
      const c = chunks[i] as Uint8Array;
      expect(decodeChunk(e.encoding, e.data, c.length)).toEqual(c);
    });
  });

  it("still encodes after close, on the calling thread", async () => {
    const p = pool();
    await p.close();
    const chunk = text(64 * 1024);
    expect(await p.encode(chunk, "auto")).toEqual(encodeChunk(chunk, "auto"));
  });
});
