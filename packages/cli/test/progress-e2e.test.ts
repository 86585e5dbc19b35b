import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient } from "./helpers/cli.js";
import { webSocket } from "./helpers/transports.js";
import { waitForConvergence } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

/** A loopback TCP proxy that carries at most `bytesPerSecond` towards the client: a slow link. */
async function slowLink(target: number, bytesPerSecond: number): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      upstream.pause();
      client.write(chunk);
      setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.on("close", () => {
    for (const s of sockets) s.destroy();
  });
  const address = server.address();
  return { port: typeof address === "object" && address ? address.port : 0, server };
}

describe("progress of a first sync", () => {
  it("is reported as JSON events with files, bytes, rate and time left while it runs (--json)", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(a);
    await mkdir(b);
    await writeFile(nodePath.join(a, "video.bin"), randomBytes(12 * 1024 * 1024));
    for (let i = 0; i < 20; i++) await writeFile(nodePath.join(a, `n${i}.txt`), `note ${i}\n`);
    const { url } = await webSocket.startHub();
    await startClient(a, url);
    const link = await slowLink(Number(new URL(url).port), 4 * 1024 * 1024);
    try {
      const reader = await startClient(b, `ws://127.0.0.1:${link.port}`, [], {}, 30_000);
      await waitForConvergence([a, b], 10_000);
      const progress = reader.events.filter((e) => e.event === "progress");
      expect(progress.length).toBeGreaterThanOrEqual(1);
      const first = progress[0] as Record<string, number>;
      expect(first.filesTotal).toBeGreaterThanOrEqual(1);
      expect(first.bytesTotal).toBeGreaterThanOrEqual(12 * 1024 * 1024);
      expect(first.bytesDone).toBeLessThan(first.bytesTotal as number);
      expect(first.bytesPerSecond).toBeGreaterThan(0);
      expect(first.etaSeconds).toBeGreaterThan(0);
      // It comes before the folder is ready, and stops once it is.
      const readyAt = reader.events.findIndex((e) => e.event === "ready");
      expect(reader.events.indexOf(progress[0] as never)).toBeLessThan(readyAt);
    } finally {
      link.server.close();
    }
  });
});
