// SHA-256 of a file, streamed: how S3/S4 check that the receiver holds exactly the sender's bytes.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export async function hashFile(path) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 2 ** 20 })) hash.update(chunk);
  return hash.digest("hex");
}
