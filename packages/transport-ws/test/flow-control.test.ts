import type { Connection } from "@distsync/core";
import { afterEach, describe, expect, it } from "vitest";
import { createWebSocketClientTransport, createWebSocketHubTransport } from "../src/index.js";

describe("receiver flow control (pause/resume)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("stops delivering while paused, the sender feels backpressure, and resume delivers everything in order", async () => {
    const hub = createWebSocketHubTransport({ port: 0 });
    const accepted = new Promise<Connection>((resolve) => hub.on("peer-connected", resolve));
    await hub.listen();
    cleanups.push(() => hub.close());
    const client = createWebSocketClientTransport({ url: hub.url });
    const sender = await client.connect();
    cleanups.push(() => sender.close());
    const receiver = await accepted;
    const got: number[] = [];
    receiver.on("message", (frame) => got.push(new DataView(frame.buffer, frame.byteOffset).getUint32(0)));
    receiver.pause?.();

    // 64 MiB in 256 KiB frames: far more than the socket buffers hold.
    const frame = (i: number) => {
      const f = new Uint8Array(256 * 1024);
      new DataView(f.buffer).setUint32(0, i);
      return f;
    };
    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < 256; i++) {
        await sender.send(frame(i));
        sent = i + 1;
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    // Next to nothing was delivered, and the sender is held back well short of the end.
    expect(got.length).toBeLessThan(32);
    expect(sent).toBeLessThan(256);
    receiver.resume?.();
    await sending;
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        if (got.length === 256) resolve();
        else if (Date.now() - started > 10_000) reject(new Error(`only ${got.length} frames delivered`));
        else setTimeout(check, 20);
      };
      check();
    });
    expect(got).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });
});
