import { describe, expect, it } from "vitest";
import type { WatchEvent } from "../src/file-system.js";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { watchWithTrailingEvents } from "../src/node/trailing-watch-events.js";
import type { RelPath } from "../src/types.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A memory folder whose watch events the test sends by hand, as a throttling watcher would. */
async function setUp() {
  const memory = new MemoryFileSystem();
  let emit: (event: WatchEvent) => void = () => {};
  const seen: WatchEvent[] = [];
  const counter = { value: 0 };
  await watchWithTrailingEvents(
    {
      stat: (path) => memory.stat(path),
      watch: async (listener) => {
        emit = listener;
        return { close: async () => {} };
      },
    },
    (e) => seen.push(e),
    counter,
    30,
  );
  return { memory, seen, counter, emit: (event: WatchEvent) => emit(event) };
}

describe("trailing watch events (chokidar's dropped last change)", () => {
  it("reports a write that the watcher swallowed after its last event", async () => {
    const { memory, seen, emit, counter } = await setUp();
    memory.put("a.txt", "first", { mtimeMs: 1000 });
    emit({ type: "change", path: "a.txt" as RelPath, kind: "file" });
    expect(counter.value).toBe(1);
    await sleep(5);
    memory.put("a.txt", "second, never reported", { mtimeMs: 2000 });
    await sleep(80);
    expect(seen.map((e) => e.type)).toEqual(["change", "change"]);
    expect(counter.value).toBe(0);
  });

  it("adds nothing when the file did not change after the event", async () => {
    const { memory, seen, emit } = await setUp();
    memory.put("a.txt", "only", { mtimeMs: 1000 });
    emit({ type: "add", path: "a.txt" as RelPath, kind: "file" });
    await sleep(80);
    expect(seen).toHaveLength(1);
  });
});
