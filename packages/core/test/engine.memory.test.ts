import { afterEach, expect, it, describe as suite } from "vitest";
import type { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { waitFor } from "../src/testing/wait-for.js";
import { describe, MemoryCluster } from "./helpers/memory-cluster.js";

const T1500 = Date.UTC(2026, 0, 1, 15, 0, 0);
const T1530 = Date.UTC(2026, 0, 1, 15, 30, 0);

let cluster: MemoryCluster;
afterEach(async () => {
  await cluster?.stop();
});

async function converged(...folders: MemoryFileSystem[]): Promise<void> {
  await waitFor(
    () => {
      const first = JSON.stringify(describe(folders[0] as MemoryFileSystem));
      return folders.every((f) => JSON.stringify(describe(f)) === first);
    },
    { message: "folders did not converge" },
  );
}

suite("engine on the memory transport", () => {
  it("sends a new file from one client to another", async () => {
    cluster = new MemoryCluster();
    await cluster.start();
    const a = cluster.add({ name: "A" });
    const b = cluster.add({ name: "B" });
    await a.client.start();
    await b.client.start();
    a.fs.put("hello.txt", "hi there", { mtimeMs: T1500 });
    await waitFor(() => b.fs.readText("hello.txt") === "hi there");
    expect(b.fs.snapshot().get("hello.txt")?.mtimeMs).toBe(T1500);
  });

  for (const order of ["A then B", "B then A"] as const) {
    it(`the original's clash example: ${order} joins, B's newer copy wins everywhere`, async () => {
      cluster = new MemoryCluster();
      await cluster.start();
      const a = cluster.add({ name: "A" });
      const b = cluster.add({ name: "B" });
      a.fs.put("example.txt", "from A at 15:00", { mtimeMs: T1500 });
      b.fs.put("example.txt", "from B at 15:30", { mtimeMs: T1530 });
      const [first, second] = order === "A then B" ? [a, b] : [b, a];
      await first.client.start();
      await second.client.start();
      await converged(a.fs, b.fs);
      expect(a.fs.readText("example.txt")).toBe("from B at 15:30");
      expect(a.fs.snapshot().get("example.txt")?.mtimeMs).toBe(T1530);
    });
  }

  it("propagates deletes, directories and empty directories", async () => {
    cluster = new MemoryCluster();
    await cluster.start();
    const a = cluster.add();
    const b = cluster.add();
    a.fs.put("docs/guide/intro.md", "# intro");
    a.fs.mkdirp("empty/inner");
    await a.client.start();
    await b.client.start();
    await converged(a.fs, b.fs);
    expect(b.fs.snapshot().get("empty/inner")?.kind).toBe("directory");
    a.fs.delete("docs");
    await waitFor(() => !b.fs.snapshot().has("docs"));
    await converged(a.fs, b.fs);
  });
});
