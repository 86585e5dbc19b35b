// A digest of a directory tree (sorted relative paths with their contents), so S2 can check that
// the empty client ended up with exactly the seeded tree and not just the right number of files.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/** `{ files, bytes, digest }` of the regular files under `root`. */
export async function treeDigest(root) {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath ?? e.path, e.name)))
    // A client keeps its own state in <dir>/.distsync/ and temp files named .distsync-*: never synced.
    .filter((path) => !path.split("/").some((part) => part.startsWith(".distsync")))
    .sort();
  const hash = createHash("sha256");
  let bytes = 0;
  for (const path of paths) {
    const content = await readFile(join(root, path));
    bytes += content.length;
    hash.update(`${path}\0${content.length}\0`);
    hash.update(content);
  }
  return { files: paths.length, bytes, digest: hash.digest("hex") };
}
