// `node bench/micro-content.mjs` (after `pnpm build`): single-thread speed of the content steps a
// client runs on every upload — the chunker's cut-point search, fflate level 1 on log-like text,
// and the `auto` policy's 4 KiB sample on incompressible data — to choose the compression policy
// by measurement (docs: benchmarks, "Compression policy").
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "./lib/repo-root.mjs";

const { Chunker, encodeChunk } = await import(
  pathToFileURL(join(repoRoot, "packages/core/dist/index.js")).href
);
const MIB = 1 << 20;

const block = new Uint8Array(randomBytes(MIB));
const chunker = new Chunker();
let worst = 0;
let started = performance.now();
for (let i = 0; i < 128; i++) {
  const t = performance.now();
  chunker.push(block.slice());
  worst = Math.max(worst, performance.now() - t);
}
const chunkerMiBs = 128 / ((performance.now() - started) / 1000);

const lines = Array.from(
  { length: 400_000 },
  (_, i) => `2026-11-26 INFO request ${i} served in ${i % 977} ms\n`,
);
const text = new TextEncoder().encode(lines.join("")).subarray(0, 16 * MIB);
let out = 0;
started = performance.now();
for (let o = 0; o < text.length; o += 65536)
  out += encodeChunk(text.subarray(o, o + 65536), "auto").data.length;
const deflateMiBs = 16 / ((performance.now() - started) / 1000);

const random = new Uint8Array(randomBytes(16 * MIB));
started = performance.now();
for (let o = 0; o < random.length; o += 65536) encodeChunk(random.subarray(o, o + 65536), "auto");
const sampleMiBs = 16 / ((performance.now() - started) / 1000);

console.log(
  `chunker (cut points): ${chunkerMiBs.toFixed(0)} MiB/s, slowest 1 MiB block ${worst.toFixed(1)} ms`,
);
console.log(
  `fflate level 1, log text: ${deflateMiBs.toFixed(0)} MiB/s, ${(out / text.length).toFixed(2)} of the size`,
);
console.log(`"auto" on incompressible data (the sample only): ${sampleMiBs.toFixed(0)} MiB/s`);
