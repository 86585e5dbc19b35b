import { describe, expect, it } from "vitest";
import { Emitter } from "../src/emitter.js";
import { ConnectionError } from "../src/errors.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { decodeMessage } from "../src/protocol/codec.js";
import { createClient } from "../src/sync/client.js";
import { createHub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { ClientTransport, CloseInfo, ConnectionEvents } from "../src/transport.js";
import { wrapConnection } from "./helpers/wrap-connection.js";

/**
 * A client transport that, like NATS core under a slow consumer, loses one relayed `entries` frame
 * on its first connection, notices the gap and closes with `resync` (as transport-nats does).
 */
function lossyOnce(inner: ClientTransport): ClientTransport & { dropped: number } {
  const state = { dropped: 0, connections: 0 };
  return {
    get dropped() {
      return state.dropped;
    },
    capabilities: inner.capabilities,
    async connect(options) {
      const connection = await inner.connect(options);
      const first = state.connections++ === 0;
      const events = new Emitter<ConnectionEvents>();
      let closed = false;
      connection.on("close", (info) => {
        if (!closed) {
          closed = true;
          events.emit("close", info);
        }
      });
      connection.on("message", (frame) => {
        if (closed) return;
        const message = decodeMessage(frame);
        if (
          first &&
          state.dropped === 0 &&
          message.type === "entries" &&
          message.items[0]?.cause === "change"
        ) {
          state.dropped++;
          // The next frame reveals the gap: close with resync, as transport-nats does.
          closed = true;
          const info: CloseInfo = {
            reason: "frames lost",
            error: new ConnectionError("frames lost"),
            local: false,
            resync: true,
          };
          void connection.close("frames lost", { force: true });
          events.emit("close", info);
          return;
        }
        events.emit("message", frame);
      });
      const wrapped = wrapConnection(connection, {
        closed: () => closed || connection.closed,
        on: (event, listener) => events.on(event, listener),
      });
      return wrapped;
    },
  };
}

describe("resync after lost frames", () => {
  it("a client whose transport lost a frame re-joins at once (without reconnect) and converges", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({ transport: network.hubTransport() });
    await hub.start();
    const writer = new MemoryFileSystem();
    const a = createClient({ transport: network.clientTransport(), fs: writer, settleMs: 2 });
    const lossy = lossyOnce(network.clientTransport());
    const reader = new MemoryFileSystem();
    const b = createClient({ transport: lossy, fs: reader, settleMs: 2 });
    let closed = false;
    void b.closed.then(() => {
      closed = true;
    });
    await a.start();
    await b.start();
    writer.put("one.txt", "lost on the way");
    await waitFor(() => lossy.dropped === 1, { message: "the frame to be dropped" });
    writer.put("two.txt", "after the gap");
    await waitFor(
      () =>
        reader.readText("one.txt") === "lost on the way" && reader.readText("two.txt") === "after the gap",
      {
        message: "the resync",
      },
    );
    expect(closed).toBe(false);
    expect(b.status().state).toBe("live");
    await Promise.all([a.stop(), b.stop()]);
    await hub.stop();
  });
});
