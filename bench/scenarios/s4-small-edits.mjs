// S4 small edits of S3's big file: overwrite 1 MiB in the middle (in place), then insert 1 KiB at
// the start (a new file renamed over the old one, as editors save). Measured: the time until the
// reader applied the edit, and the bytes on each leg's socket (the writer's upload to the hub and
// the reader's download) against the bytes changed. rsync pushes the same edited file with
// --no-whole-file (on loopback it would otherwise resend whole files) and --stats.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { hashFile } from "../lib/hash-file.mjs";
import { parseRsyncStats } from "../lib/rsync-stats.mjs";
import { runCommand } from "../lib/run-command.mjs";
import { TARGETS } from "../lib/targets.mjs";
import { transferTimeoutMs } from "../lib/transfer-timeout.mjs";
import { waitForApplied } from "../lib/wait-for-applied.mjs";

const OVERWRITE = 2 ** 20;
const INSERT = 1024;

/** Runs S4 in `session` after S3 put `big.bin` (`bigBytes` long) on both clients. */
export async function runS4(session, { bigBytes, rsync }) {
  const path = join(session.dirs.writer, "big.bin");
  const edits = [
    {
      name: "overwrite 1 MiB in the middle",
      changedBytes: OVERWRITE,
      targetBytes: TARGETS.S4.overwriteMaxBytes,
      size: bigBytes,
      apply: async () => {
        const file = await open(path, "r+");
        try {
          await file.write(randomBytes(OVERWRITE), 0, OVERWRITE, Math.floor(bigBytes / 2 - OVERWRITE / 2));
        } finally {
          await file.close();
        }
      },
    },
    {
      name: "insert 1 KiB at the start",
      changedBytes: INSERT,
      targetBytes: TARGETS.S4.insertMaxBytes,
      size: bigBytes + INSERT,
      // Prepared beside the folder; only the rename is timed, the way an editor replaces a file.
      prepare: async () => {
        const staged = join(session.dirs.staging, "big.bin");
        const out = createWriteStream(staged);
        out.write(randomBytes(INSERT));
        await pipeline(createReadStream(path), out);
        return staged;
      },
      apply: (staged) => rename(staged, path),
    },
  ];
  const items = [];
  for (const edit of edits) {
    const item = { name: edit.name, changedBytes: edit.changedBytes, targetBytes: edit.targetBytes };
    items.push(item);
    item.distsync = await distsyncEdit(session, edit);
    if (rsync) item.rsync = await rsyncEdit(path, rsync);
    const wire = item.distsync.maxLegBytes;
    if (wire !== undefined) item.meetsBytes = wire <= edit.targetBytes;
    if (item.distsync.seconds !== undefined && item.rsync?.seconds !== undefined) {
      item.ratioToRsyncTime = Number((item.distsync.seconds / item.rsync.seconds).toFixed(2));
      item.meetsTime = item.ratioToRsyncTime <= TARGETS.S4.maxRatioToRsyncTime;
    }
  }
  return {
    description: "small edits of the large file from S3: bytes on the socket versus bytes changed",
    unit: "bytes",
    items,
  };
}

async function distsyncEdit(session, edit) {
  try {
    const prepared = await edit.prepare?.();
    // An engine without delta transfer resends the whole file: allow for that, not for a hang.
    const timeoutMs = transferTimeoutMs(edit.size);
    const wireBefore = [session.writerWire.snapshot(), session.readerWire.snapshot()];
    const since = performance.now();
    const applied = waitForApplied(session.reader, { path: "big.bin", since, size: edit.size, timeoutMs });
    await edit.apply(prepared);
    const event = await applied;
    await new Promise((r) => setTimeout(r, 200));
    const up = session.writerWire.since(wireBefore[0]);
    const down = session.readerWire.since(wireBefore[1]);
    const [theirs, ours] = await Promise.all([
      hashFile(join(session.dirs.reader, "big.bin")),
      hashFile(join(session.dirs.writer, "big.bin")),
    ]);
    if (theirs !== ours) return { failed: "the reader's copy differs from the writer's (SHA-256)" };
    return {
      seconds: Number(((event.at - since) / 1000).toFixed(3)),
      writerUpBytes: up.up,
      writerDownBytes: up.down,
      readerUpBytes: down.up,
      readerDownBytes: down.down,
      // The target is judged on the larger payload leg: a delta that reaches the hub but is then
      // sent whole to the reader has not met it.
      maxLegBytes: Math.max(up.up, down.down),
      verified: true,
    };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  }
}

async function rsyncEdit(path, rsync) {
  try {
    const before = rsync.wire.snapshot();
    const { ms, stdout } = await runCommand(
      "rsync",
      ["-a", "--no-whole-file", "--stats", path, `${rsync.url()}s3/`],
      { timeoutMs: 300_000 },
    );
    const wire = rsync.wire.since(before);
    const stats = parseRsyncStats(stdout);
    return {
      seconds: Number((ms / 1000).toFixed(3)),
      sentBytes: stats.sent,
      receivedBytes: stats.received,
      wireUpBytes: wire.up,
      wireDownBytes: wire.down,
    };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  }
}
