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

describe("a store that fails at the hub (a full disk)", () => {
  it("refuses the upload without committing any of it, and the client offers it again later", async () => {
    const network = createMemoryNetwork();
    const store = new FailingStore();
    const hub = createHub({ transport: network.hubTransport(), store });
    await hub.start();
    running.push(hub);
    const [a, b] = [new MemoryFileSystem(), new MemoryFileSystem()];
    const writer = createClient({ transport: network.clientTransport(), fs: a });
    const reader = createClient({ transport: network.clientTransport(), fs: b });
    for (const client of [writer, reader]) {
      await client.start();
      running.push(client);
    }
    const errors: { code: string; message: string }[] = [];
    writer.on("error", (error) => errors.push({ code: error.code, message: error.message }));
    store.failing = true;
    const big = randomBytes(3 * 1024 * 1024, 7);
    a.put("big.bin", big);
    a.put("small.txt", "a small file");
    await waitFor(() => errors.length >= 2, { message: "both refusals" });
    // Chunk writes run alongside the next frames; the upload's end waits for them and refuses it.
    expect(store.failures).toBeGreaterThan(1);
    for (const error of errors) {
      expect(error.code).toBe("file-system");
      expect(error.message).toMatch(/ENOSPC: no space left on device/);
    }
    expect(writer.status().state).toBe("live");
    expect(hub.status().spaces[0]?.files ?? 0).toBe(0);
    expect(b.readText("big.bin")).toBeUndefined();
    expect(b.readText("small.txt")).toBeUndefined();

    // Room again: both are offered again (about 2 s later) and arrive whole.
    store.failing = false;
    await waitFor(() => b.readText("small.txt") === "a small file" && b.snapshot().has("big.bin"), {
      timeoutMs: 10_000,
      message: "both files on b",
    });
    const got = b.snapshot().get("big.bin")?.content;
    expect(got !== undefined && Buffer.from(got).equals(Buffer.from(big))).toBe(true);
  });
});
