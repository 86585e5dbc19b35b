import type { TransferProgress } from "@distsync/core";
import { expect, describe as group, it } from "vitest";
import { describe, type ProgressEvent, ProgressReporter } from "../src/progress.js";

function harness(mode: "tty" | "lines" | "json") {
  let now = 0;
  const state: TransferProgress = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
  const shown: string[] = [];
  const events: ProgressEvent[] = [];
  let cleared = 0;
  const reporter = new ProgressReporter([() => ({ ...state })], {
    mode,
    now: () => now,
    sink: { show: (l) => shown.push(l), clear: () => cleared++, event: (e) => events.push(e) },
  });
  const run = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      now += 100;
      reporter.tick();
    }
  };
  return { state, shown, events, cleared: () => cleared, run, advance: (ms: number) => (now += ms) };
}

const MiB = 1024 * 1024;

group("progress reports", () => {
  it("stay quiet for work that ends within a second", () => {
    const h = harness("lines");
    Object.assign(h.state, { filesTotal: 3, bytesTotal: 3000 });
    h.run(500);
    Object.assign(h.state, { filesDone: 3, bytesDone: 3000 });
    h.run(3000);
    expect(h.events).toEqual([]);
  });

  it("give files, bytes, the rate and the time left, every 2 s as plain lines", () => {
    const h = harness("lines");
    Object.assign(h.state, { filesTotal: 100, bytesTotal: 100 * MiB });
    for (let i = 1; i <= 40; i++) {
      // 10 MiB/s: 1 MiB every 100 ms.
      Object.assign(h.state, { filesDone: i, bytesDone: i * MiB });
      h.run(100);
    }
    expect(h.events.length).toBeGreaterThanOrEqual(1);
    const last = h.events.at(-1) as ProgressEvent;
    expect(last.filesTotal).toBe(100);
    expect(last.bytesPerSecond / MiB).toBeCloseTo(10, 0);
    expect(last.etaSeconds).toBeGreaterThan(5);
    expect(last.etaSeconds).toBeLessThan(10);
    expect(describe(last)).toMatch(/^\d+\/100 files, \d+ MiB\/100 MiB, 10 MiB\/s, \d s left$/);
  });

  it("redraw one terminal line and clear it when the work is done", () => {
    const h = harness("tty");
    Object.assign(h.state, { filesTotal: 2, bytesTotal: 20 * MiB });
    for (let i = 1; i <= 15; i++) {
      Object.assign(h.state, { bytesDone: i * MiB });
      h.run(100);
    }
    expect(h.shown.length).toBeGreaterThan(3);
    expect(h.shown.at(-1)).toMatch(/^\[#+-*\] \d+% 0\/2 files, 15 MiB\/20 MiB/);
    Object.assign(h.state, { filesDone: 2, bytesDone: 20 * MiB });
    h.run(100);
    expect(h.cleared()).toBe(1);
  });

  it("count only the current burst: finished work does not inflate the next one", () => {
    const h = harness("json");
    Object.assign(h.state, { filesTotal: 5, filesDone: 5, bytesTotal: 50, bytesDone: 50 });
    h.run(200);
    Object.assign(h.state, { filesTotal: 6, bytesTotal: 50 + 8 * MiB, bytesDone: 50 + MiB });
    h.run(2500);
    expect(h.events.at(-1)).toMatchObject({
      filesDone: 0,
      filesTotal: 1,
      bytesDone: MiB,
      bytesTotal: 8 * MiB,
    });
  });
});
