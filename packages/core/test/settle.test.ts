import { afterEach, describe, expect, it } from "vitest";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { type ChangeInfo, type Client, createClient } from "../src/sync/client.js";
import { createHub, type Hub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";

const running: (Client | Hub)[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

async function pair() {
  const network = createMemoryNetwork();
  const hub = createHub({ transport: network.hubTransport() });
  await hub.start();
  running.push(hub);
  const [a, b] = [new MemoryFileSystem(), new MemoryFileSystem()];
  const writer = createClient({ transport: network.clientTransport(), fs: a, settleMs: 5 });
  const reader = createClient({ transport: network.clientTransport(), fs: b, settleMs: 5 });
  for (const c of [writer, reader]) {
    await c.start();
    running.push(c);
  }
  const sent: ChangeInfo[] = [];
  writer.on("change-sent", (change) => sent.push(change));
  return { a, b, sent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the quiet window before a change is sent", () => {
  it("does not send a just-created empty file whose content follows within 50 ms", async () => {
    const { a, b, sent } = await pair();
    a.put("new.txt", "", { mtimeMs: Date.now() });
    await sleep(20); // far beyond the 5 ms settle time
    a.put("new.txt", "the content", { mtimeMs: Date.now() });
    await waitFor(() => b.readText("new.txt") === "the content");
    expect(sent.filter((c) => c.path === "new.txt").map((c) => c.size)).toEqual([11]);
  });

  it("still sends an empty file that stays empty, and a small file at once", async () => {
    const { a, b, sent } = await pair();
    a.put("empty.txt", "", { mtimeMs: Date.now() });
    a.put("small.txt", "x", { mtimeMs: Date.now() });
    await waitFor(() => b.readText("empty.txt") === "" && b.readText("small.txt") === "x");
    expect(sent.map((c) => c.path).sort()).toEqual(["empty.txt", "small.txt"]);
  });
});
