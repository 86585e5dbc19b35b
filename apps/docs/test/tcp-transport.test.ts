// The example TCP transport passes the shared suite, and a hub and two clients sync over it.
import { createClient, createHub, MemoryFileSystem } from "@distsync/core";
import { runTransportConformance, waitFor } from "@distsync/core/testing";
import { describe, expect, it } from "vitest";
import { createTcpClientTransport, createTcpHubTransport } from "../examples/tcp-transport.js";

// #region conformance
runTransportConformance("tcp (docs example)", async () => {
  const hub = createTcpHubTransport();
  return { hub, client: () => createTcpClientTransport({ port: hub.port }) };
});

runTransportConformance("tcp (docs example) with a 600 KiB frame limit", async () => {
  const maxFrameBytes = 600 * 1024;
  const hub = createTcpHubTransport({ maxFrameBytes });
  return { hub, client: () => createTcpClientTransport({ port: hub.port, maxFrameBytes }) };
});
// #endregion conformance

describe("the example TCP transport under the engines", () => {
  it("carries a sync between two clients", async () => {
    const transport = createTcpHubTransport();
    const hub = createHub({ transport });
    await hub.start();
    const a = new MemoryFileSystem();
    const b = new MemoryFileSystem();
    a.put("notes/hello.txt", "over plain TCP");
    const clients = [a, b].map((fs) =>
      createClient({ transport: createTcpClientTransport({ port: transport.port }), fs }),
    );
    try {
      for (const client of clients) await client.start();
      await waitFor(() => b.readText("notes/hello.txt") === "over plain TCP", { message: "the file on b" });
      b.put("reply.txt", "and back");
      await waitFor(() => a.readText("reply.txt") === "and back", { message: "the reply on a" });
    } finally {
      await Promise.all(clients.map((client) => client.stop()));
      await hub.stop();
    }
    for (const client of clients) expect((await client.closed).reason).toBe("stopped");
  });
});
