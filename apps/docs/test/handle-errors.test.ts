// Runs the docs' error-handling example against a real hub (over the in-memory network).
import { createClient, createHub, createMemoryNetwork, MemoryFileSystem } from "@distsync/core";
import { describe, expect, it } from "vitest";
import { exitCodeFor, startOrExplain } from "../examples/handle-errors.js";

describe("examples/handle-errors.ts", () => {
  it("explains a refused token, and maps the close reason to exit code 5", async () => {
    const network = createMemoryNetwork();
    const hub = createHub({ transport: network.hubTransport(), token: "s3cret" });
    await hub.start();
    try {
      const fs = new MemoryFileSystem();
      const client = createClient({ transport: network.clientTransport(), fs, token: "wrong" });
      expect(await startOrExplain(client)).toBe("the hub refused the token (check DISTSYNC_TOKEN)");
      const closed = await client.closed;
      expect(closed.reason).toBe("auth-refused");
      expect(closed.error?.code).toBe("auth-refused");
      expect(exitCodeFor(closed)).toBe(5);

      const good = createClient({ transport: network.clientTransport(), fs, token: "s3cret" });
      expect(await startOrExplain(good)).toBeUndefined();
      await good.stop();
      expect(exitCodeFor(await good.closed)).toBe(0);
    } finally {
      await hub.stop();
    }
  });

  it("explains an unreachable hub, and maps it to exit code 3", async () => {
    const network = createMemoryNetwork(); // no hub listens on it
    const client = createClient({ transport: network.clientTransport(), fs: new MemoryFileSystem() });
    expect(await startOrExplain(client)).toMatch(/^cannot reach the hub: /);
    const closed = await client.closed;
    expect(closed.reason).toBe("hub-unreachable");
    expect(exitCodeFor(closed)).toBe(3);
  });
});
