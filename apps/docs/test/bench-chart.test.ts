// The benchmarks page's table rows and chart geometry (docs/.vitepress/bench-chart.ts).
import { describe, expect, it } from "vitest";
import { type BenchReport, barChart, rows, S1_TARGETS, tickStep } from "../docs/.vitepress/bench-chart.js";

const report: BenchReport = {
  date: "2026-01-02T03:04:05.000Z",
  quick: false,
  node: "v20.20.2",
  scenarios: {
    S1: {
      description: "S1",
      unit: "ms",
      create: { samples: 30, p50: 15, p95: 50, max: 70 },
      modify: { samples: 30, p50: 25, p95: 61, max: 80 },
      delete: { samples: 30, p50: 80, p95: 100, max: 110 },
    },
  },
};

describe("benchmark results", () => {
  it("lists the operations in order, each checked against the targets", () => {
    expect(rows(report, "S1", S1_TARGETS).map((r) => [r.operation, r.meetsP50, r.meetsP95])).toEqual([
      ["create", true, true],
      ["modify", false, false],
      ["delete", false, false],
    ]);
    expect(rows(report, "S9", S1_TARGETS)).toEqual([]);
  });

  it("picks round tick steps", () => {
    expect(tickStep(110)).toBe(20);
    expect(tickStep(66)).toBe(20);
    expect(tickStep(9)).toBe(2);
    expect(tickStep(1000)).toBe(200);
  });

  it("draws two bars per operation, scaled to the axis, with the target lines", () => {
    const chart = barChart(rows(report, "S1", S1_TARGETS), S1_TARGETS);
    expect(chart.bars).toHaveLength(6);
    const top = chart.ticks.at(-1)!;
    expect(top.value).toBeGreaterThanOrEqual(100);
    expect(top.y).toBe(chart.plot.top + 0);
    for (const bar of chart.bars) {
      expect(bar.y + bar.height).toBeCloseTo(chart.plot.bottom);
      expect(bar.height / (chart.plot.bottom - chart.plot.top)).toBeCloseTo(bar.value / top.value);
    }
    expect(chart.targets.map((t) => t.value)).toEqual([20, 60]);
    // p95 bars are at least as tall as p50 bars here, and the groups go left to right.
    expect(chart.groups.map((g) => g.label)).toEqual(["create", "modify", "delete"]);
    expect(chart.groups[0]!.x).toBeLessThan(chart.groups[1]!.x);
  });
});
