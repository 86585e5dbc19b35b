import { describe, expect, it } from "vitest";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { decodeMessage, encodeMessage } from "../src/protocol/codec.js";
import { PROTOCOL_VERSIONS } from "../src/protocol/constants.js";
import { createClient } from "../src/sync/client.js";
import { createHub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { ClientId } from "../src/types.js";

describe("delivered: the hub's word that every other client applied a change", () => {
  it("reaches a writer once every other live client has applied its change, and waits for a silent one", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({
      transport: network.hubTransport(),
      heartbeat: { intervalMs: 50, timeoutMs: 5000 },
    });
    await hub.start();
    const folders = [new MemoryFileSystem(), new MemoryFileSystem(), new MemoryFileSystem()];
    const clients = folders.map((fs) =>
      createClient({ transport: network.clientTransport(), fs, settleMs: 3 }),
    );
    for (const c of clients) await c.start();
    const [writer] = clients;
    const [a, b, c] = folders as [MemoryFileSystem, MemoryFileSystem, MemoryFileSystem];

    a.put("report.txt", "v1");
    await waitFor(() => (writer?.status().acked ?? 0) > 0);
    const acked = writer?.status().acked ?? 0;
    await waitFor(() => (writer?.status().delivered ?? 0) >= acked, { message: "delivered to b and c" });
    expect(b.readText("report.txt")).toBe("v1");
    expect(c.readText("report.txt")).toBe("v1");
    expect(hub.status().spaces[0]?.clients.every((info) => info.applied >= acked)).toBe(true);

    // A client that joined but never applies anything (a raw protocol peer) holds `delivered` back.
    const raw = await network.clientTransport().connect();
    const frames: string[] = [];
    raw.on("message", (frame) => frames.push(decodeMessage(frame).type));
    await raw.send(
      encodeMessage({
        type: "hello",
        versions: [PROTOCOL_VERSIONS.min, PROTOCOL_VERSIONS.max],
        space: "default",
        clientId: "silent-peer" as ClientId,
      }),
    );
    await raw.send(encodeMessage({ type: "index", items: [], final: true }));
    await waitFor(() => frames.includes("welcome"));
    a.put("report.txt", "v2");
    await waitFor(() => (writer?.status().acked ?? 0) > acked);
    const second = writer?.status().acked ?? 0;
    await waitFor(() => b.readText("report.txt") === "v2" && c.readText("report.txt") === "v2");
    await new Promise((r) => setTimeout(r, 200));
    expect(writer?.status().delivered).toBeLessThan(second);
    // Once it leaves, the others' progress is all that counts.
    await raw.close("done");
    await waitFor(() => (writer?.status().delivered ?? 0) >= second, {
      message: "delivered after the silent peer left",
    });

    await Promise.all(clients.map((cl) => cl.stop()));
    await hub.stop();
  });
});
