// The S2 fixture: `files` files of `size` random bytes spread over `dirs` directories. Random so
// that no file compresses or deduplicates against another: every byte has to travel.
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Writes the tree under `root`; returns `{ files, bytes }`. */
export async function writeTree(root, { files, dirs, size }) {
  for (let d = 0; d < dirs; d++) await mkdir(join(root, dirName(d)), { recursive: true });
  let next = 0;
  // A few writes in flight at once: the fixture should not take longer than the benchmark.
  const worker = async () => {
    while (next < files) {
      const i = next++;
      await writeFile(join(root, dirName(i % dirs), `f${String(i).padStart(5, "0")}.bin`), randomBytes(size));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { files, bytes: files * size };
}

function dirName(d) {
  return `d${String(d).padStart(3, "0")}`;
}
