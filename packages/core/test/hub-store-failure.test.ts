import { afterEach, describe, expect, it } from "vitest";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import type { StoredChunk } from "../src/store/content-store.js";
import { MemoryContentStore } from "../src/store/memory-content-store.js";
import { type Client, createClient } from "../src/sync/client.js";
import { createHub, type Hub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import { randomBytes } from "./helpers/random-bytes.js";

/** A store whose chunk writes fail while `failing` is set (a full disk at the hub). */
class FailingStore extends MemoryContentStore {
  failing = false;
  failures = 0;
  override async putChunk(chunkHash: string, chunk: StoredChunk): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1)); // writes overlap, as on disk
    if (this.failing) {
      this.failures++;
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }
    return super.putChunk(chunkHash, chunk);
  }
}

const running: (Client | Hub)[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop().catch(() => {});
});

describe("a chunk write that fails at the hub during an upload", () => {
  it("commits nothing of it, stops the uploading client with the disk's error, and serves the others", async () => {
    const network = createMemoryNetwork();
    const store = new FailingStore();
    const hub = createHub({ transport: network.hubTransport(), store });
    await hub.start();
    running.push(hub);
    const [a, b, c] = [new MemoryFileSystem(), new MemoryFileSystem(), new MemoryFileSystem()];
    const writer = createClient({ transport: network.clientTransport(), fs: a });
    const reader = createClient({ transport: network.clientTransport(), fs: b });
    for (const client of [writer, reader]) {
      await client.start();
      running.push(client);
    }
    const errors: string[] = [];
    writer.on("error", (error) => errors.push(error.message));
    store.failing = true;
    a.put("big.bin", randomBytes(3 * 1024 * 1024, 7));
    const closed = await writer.closed;
    // Chunk writes run alongside the next frames; the upload's end waits for them and fails.
    expect(store.failures).toBeGreaterThan(0);
    expect(closed.reason).not.toBe("stopped");
    expect([closed.error?.message, ...errors].join("\n")).toMatch(/ENOSPC: no space left on device/);
    expect(hub.status().spaces[0]?.files ?? 0).toBe(0);
    expect(b.readText("big.bin")).toBeUndefined();

    // The disk has room again: the hub serves the other clients, old and new.
    store.failing = false;
    const late = createClient({ transport: network.clientTransport(), fs: c });
    await late.start();
    running.push(late);
    b.put("small.txt", "from b");
    await waitFor(() => c.readText("small.txt") === "from b", { message: "small.txt on c" });
    expect(c.snapshot().has("big.bin")).toBe(false);
  });
});
