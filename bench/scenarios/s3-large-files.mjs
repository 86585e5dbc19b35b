// S3 large files: a big incompressible file, then a compressible text file, each written in a
// staging dir and renamed into the writing client's folder (so the benchmark's own writing is not
// timed); measured until the reading client's `applied` event, then the reader's copy is hashed
// and compared. Where rsync exists the same file is pushed to the rsync daemon (no -z, as rsync
// is used by default). CPU and peak RSS of each process are read after each file (for S6).
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { format } from "../lib/format.mjs";
import { hashFile } from "../lib/hash-file.mjs";
import { runCommand } from "../lib/run-command.mjs";
import { TARGETS } from "../lib/targets.mjs";
import { transferTimeoutMs } from "../lib/transfer-timeout.mjs";
import { waitForApplied } from "../lib/wait-for-applied.mjs";
import { writeBigFile } from "../lib/write-big-file.mjs";

/** Runs S3 in `session` (large-file-session.mjs); the big file stays in place for S4. */
export async function runS3(session, { bigBytes, textBytes, rsync }) {
  const files = [
    { name: "big.bin", kind: "random", bytes: bigBytes, label: `${format.bytes(bigBytes)} incompressible` },
    {
      name: "text.log",
      kind: "text",
      bytes: textBytes,
      label: `${format.bytes(textBytes)} compressible text`,
    },
  ];
  const items = [];
  const resources = [];
  if (rsync) await mkdir(join(rsync.moduleDir, "s3"), { recursive: true });
  for (const file of files) {
    const item = { name: file.label, file: file.name, bytes: file.bytes };
    items.push(item);
    item.distsync = await distsyncTransfer(session, file);
    resources.push(
      ...session.processes
        .filter((p) => !p.exited)
        .map((p) => ({ after: file.label, process: p.label, ...p.usage() })),
    );
    if (rsync) item.rsync = await rsyncTransfer(session, file, rsync);
    const ours = item.distsync.mibPerSecond;
    const theirs = item.rsync?.mibPerSecond;
    if (ours !== undefined && theirs !== undefined) {
      item.ratioToRsync = Number((ours / theirs).toFixed(2));
      item.meetsTarget = item.ratioToRsync >= TARGETS.S3.minRatioToRsyncThroughput;
    }
  }
  return {
    description: "a large incompressible file and a compressible text file, writer to reader through the hub",
    unit: "s",
    items,
    resources,
  };
}

async function distsyncTransfer(session, file) {
  const staged = join(session.dirs.staging, file.name);
  try {
    const sha256 = await writeBigFile(staged, file.bytes, file.kind);
    const timeoutMs = transferTimeoutMs(file.bytes);
    const wireBefore = [session.writerWire.snapshot(), session.readerWire.snapshot()];
    const since = performance.now();
    const applied = waitForApplied(session.reader, { path: file.name, since, size: file.bytes, timeoutMs });
    await rename(staged, join(session.dirs.writer, file.name));
    const event = await applied;
    const ms = event.at - since;
    // Trailing acknowledgements belong to the transfer too.
    await new Promise((r) => setTimeout(r, 200));
    const up = session.writerWire.since(wireBefore[0]);
    const down = session.readerWire.since(wireBefore[1]);
    const received = await hashFile(join(session.dirs.reader, file.name));
    if (received !== sha256) return { failed: "the reader's copy differs from the writer's (SHA-256)" };
    return {
      seconds: Number((ms / 1000).toFixed(3)),
      mibPerSecond: Number((file.bytes / 2 ** 20 / (ms / 1000)).toFixed(1)),
      writerUpBytes: up.up,
      readerDownBytes: down.down,
      wireBytes: up.up + up.down + down.up + down.down,
      verified: true,
    };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  }
}

async function rsyncTransfer(session, file, rsync) {
  try {
    const before = rsync.wire.snapshot();
    const { ms } = await runCommand(
      "rsync",
      ["-a", join(session.dirs.writer, file.name), `${rsync.url()}s3/`],
      {
        timeoutMs: 300_000,
      },
    );
    const wire = rsync.wire.since(before);
    return {
      seconds: Number((ms / 1000).toFixed(3)),
      mibPerSecond: Number((file.bytes / 2 ** 20 / (ms / 1000)).toFixed(1)),
      wireBytes: wire.up + wire.down,
    };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  }
}
