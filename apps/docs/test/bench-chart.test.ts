// The benchmarks page's table rows and chart geometry (docs/.vitepress/bench-chart.ts).
import { describe, expect, it } from "vitest";
import {
  type BenchReport,
  barChart,
  formatBytes,
  missing,
  rows,
  S1_TARGETS,
  s2Summary,
  s3Rows,
  s4Rows,
  s5Summary,
  s6Rows,
  tickStep,
  verdict,
} from "../docs/.vitepress/bench-chart.js";

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

// The shape bench/run.mjs writes since S2–S6 exist: DistSync's figures, rsync's, and failures.
const full: BenchReport = {
  ...report,
  durationSeconds: 300,
  rsync: true,
  scenarios: {
    ...report.scenarios,
    S2: {
      files: 10000,
      dirs: 100,
      fileBytes: 4096,
      distsync: { indexUploadSeconds: 4.2, initialSyncSeconds: 1.2, verified: true, resources: [] },
      rsync: { seconds: 1 },
      cp: { seconds: 0.6 },
      ratioToRsync: 1.2,
      meetsTarget: true,
    },
    S3: {
      items: [
        {
          name: "1.00 GiB incompressible",
          bytes: 2 ** 30,
          distsync: { failed: "reading client exited (SIGKILL)" },
          rsync: { seconds: 5, mibPerSecond: 204.8, wireBytes: 2 ** 30 },
        },
        {
          name: "512.00 MiB compressible text",
          bytes: 2 ** 29,
          distsync: { seconds: 2, mibPerSecond: 256, writerUpBytes: 2 ** 27, readerDownBytes: 2 ** 27 },
          rsync: { seconds: 4, mibPerSecond: 128, wireBytes: 2 ** 29 },
          ratioToRsync: 2,
          meetsTarget: true,
        },
      ],
    },
    S4: { failed: "S3's large file never reached the reader, so there is nothing to edit" },
    S5: {
      clients: 50,
      processes: 5,
      foldersPerProcess: 10,
      samples: 30,
      perClient: { samples: 1500, p50: 90, p95: 250, max: 400 },
      slowestClient: { samples: 30, p50: 200, p95: 380, max: 400 },
      meetsP95: false,
    },
    S6: {
      processes: [
        { scenario: "S2", process: "hub", cpuSeconds: 3.1, peakRssMiB: 150 },
        { scenario: "S3", process: "hub", after: "1.00 GiB incompressible", cpuSeconds: 9, peakRssMiB: 1200 },
        { scenario: "S3", process: "writing client" },
      ],
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

describe("scenarios S2 to S6", () => {
  it("says why a scenario has no figures", () => {
    expect(missing(report, "S2")).toBe("not measured in this run");
    expect(missing(full, "S4")).toBe(
      "failed: S3's large file never reached the reader, so there is nothing to edit",
    );
    expect(missing(full, "S2")).toBeUndefined();
    expect(s2Summary(report)).toBeUndefined();
    expect(s3Rows(report)).toEqual([]);
    expect(s4Rows(full)).toEqual([]);
    expect(s5Summary(report)).toBeUndefined();
    expect(s6Rows(report)).toEqual([]);
  });

  it("lists S2's times for DistSync, rsync and cp with the ratio to rsync", () => {
    const s2 = s2Summary(full)!;
    expect(s2.rows.map((r) => [r.tool, r.seconds])).toEqual([
      ["DistSync", 4.2],
      ["DistSync", 1.2],
      ["rsync", 1],
      ["cp", 0.6],
    ]);
    expect([s2.ratioToRsync, s2.meetsTarget]).toEqual([1.2, true]);
  });

  it("keeps a failed S2 run's reason on both DistSync rows", () => {
    const failed = structuredClone(full);
    failed.scenarios.S2!.distsync = { failed: "timed out" };
    expect(
      s2Summary(failed)!
        .rows.slice(0, 2)
        .map((r) => r.failed),
    ).toEqual(["timed out", "timed out"]);
  });

  it("gives S3 one row per file, a failed transfer with its reason", () => {
    const rowsS3 = s3Rows(full);
    expect(rowsS3.map((r) => r.name)).toEqual(["1.00 GiB incompressible", "512.00 MiB compressible text"]);
    expect(rowsS3[0]!.distsync.failed).toBe("reading client exited (SIGKILL)");
    expect(rowsS3[1]!.meetsTarget).toBe(true);
  });

  it("gives S4 one row per edit", () => {
    const withS4 = structuredClone(full);
    withS4.scenarios.S4 = {
      items: [
        {
          name: "overwrite 1 MiB in the middle",
          changedBytes: 2 ** 20,
          targetBytes: 1.5 * 2 ** 20,
          distsync: { seconds: 1, writerUpBytes: 2 ** 30, readerDownBytes: 2 ** 30, maxLegBytes: 2 ** 30 },
          rsync: { seconds: 2, sentBytes: 1.4 * 2 ** 20, wireUpBytes: 1.4 * 2 ** 20, wireDownBytes: 1000 },
          meetsBytes: false,
          ratioToRsyncTime: 0.5,
          meetsTime: true,
        },
      ],
    };
    expect(s4Rows(withS4).map((r) => [r.name, r.meetsBytes, r.meetsTime])).toEqual([
      ["overwrite 1 MiB in the middle", false, true],
    ]);
  });

  it("summarises S5 and checks S6 against the peak RSS target", () => {
    expect(s5Summary(full)!.perClient.p95).toBe(250);
    expect(s6Rows(full).map((r) => [r.process, r.meetsRss])).toEqual([
      ["hub", true],
      ["hub", false],
      ["writing client", undefined],
    ]);
  });

  it("formats bytes and verdicts as the page prints them", () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(1.5 * 2 ** 20), formatBytes(2 ** 30)]).toEqual([
      "512 B",
      "1.5 KiB",
      "1.50 MiB",
      "1.00 GiB",
    ]);
    expect(formatBytes(undefined)).toBe("–");
    expect([verdict(true), verdict(false), verdict(undefined)]).toEqual(["met", "not met", "–"]);
  });
});
