// The processes S3 and S4 share (S4 edits the file S3 transferred): a hub, a writing client and a
// reading client, each client talking to the hub through its own byte-counting TCP relay, so the
// bytes of each leg (writer→hub, hub→reader) are measured from outside the processes.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { startCli } from "./cli-process.mjs";
import { startHub } from "./start-hub.mjs";
import { startTcpCounter } from "./tcp-counter.mjs";

/** Starts the session under `base`/s3; `close()` stops everything it started. */
export async function startLargeFileSession(base) {
  const work = join(base, "s3");
  const dirs = { writer: join(work, "writer"), reader: join(work, "reader"), staging: join(work, "staging") };
  for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
  const processes = [];
  const counters = [];
  const close = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all(counters.map((c) => c.close()));
  };
  try {
    const { hub, port } = await startHub();
    processes.push(hub);
    const writerWire = await startTcpCounter(port);
    const readerWire = await startTcpCounter(port);
    counters.push(writerWire, readerWire);
    const writer = startCli(["sync", dirs.writer, "--server", `ws://127.0.0.1:${writerWire.port}`], {
      label: "writing client",
    });
    processes.push(writer);
    const reader = startCli(["sync", dirs.reader, "--server", `ws://127.0.0.1:${readerWire.port}`], {
      label: "reading client",
    });
    processes.push(reader);
    for (const client of [writer, reader])
      await client.next((e) => e.event === "ready", 10_000, "ready event");
    return { work, dirs, hub, writer, reader, writerWire, readerWire, processes, close };
  } catch (error) {
    await close();
    throw error;
  }
}
