// The figures of `pnpm bench` (docs/benchmarks/latest.json) as table rows and as the geometry of a
// bar chart, for components/BenchmarkResults.vue. Kept apart from the component so that tsc checks it
// and the tests can call it.

/** One operation's latencies, in the scenario's unit. */
export interface OperationResult {
  samples: number;
  p50: number;
  p95: number;
  max: number;
}

/**
 * What bench/run.mjs writes. Older reports lack `samples`, `command` and `machine` (the first ones),
 * and `durationSeconds`, `params`, `rsync` and every scenario but S1 (those before S2–S6 existed).
 * A scenario that could not run holds `failed` (the reason) instead of its figures.
 */
export interface BenchReport {
  date: string;
  quick: boolean;
  samples?: number;
  command?: string;
  node: string;
  machine?: { cpus: number; cpuModel: string; os: string; memoryGiB: number; network: string };
  durationSeconds?: number;
  params?: Record<string, number>;
  rsync?: boolean;
  scenarios: Record<string, { description?: string; unit?: string; failed?: string; [key: string]: unknown }>;
  notImplemented?: string[];
}

/** The targets from the issue, per percentile, in ms. */
export interface Targets {
  p50: number;
  p95: number;
}

export const S1_TARGETS: Targets = { p50: 20, p95: 60 };

export interface Row extends OperationResult {
  operation: string;
  meetsP50: boolean;
  meetsP95: boolean;
}

/** The operations of a scenario (`create`, `modify`, `delete` for S1), in the report's order. */
export function rows(report: BenchReport, scenario: string, targets: Targets): Row[] {
  const entries = Object.entries(report.scenarios[scenario] ?? {});
  return entries
    .filter((entry): entry is [string, OperationResult] => isResult(entry[1]))
    .map(([operation, result]) => ({
      operation,
      ...result,
      meetsP50: result.p50 <= targets.p50,
      meetsP95: result.p95 <= targets.p95,
    }));
}

function isResult(value: unknown): value is OperationResult {
  if (typeof value !== "object" || value === null) return false;
  const { p50, p95, max } = value as Partial<OperationResult>;
  return typeof p50 === "number" && typeof p95 === "number" && typeof max === "number";
}

/** The smallest 1, 2 or 5 × 10^n step that divides `max` into at most `count` intervals. */
export function tickStep(max: number, count = 6): number {
  const raw = Math.max(max, Number.EPSILON) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step ?? 10 * power;
}

export interface Bar {
  key: string;
  percentile: "p50" | "p95";
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
}

export interface Chart {
  width: number;
  height: number;
  plot: { left: number; right: number; top: number; bottom: number };
  bars: Bar[];
  groups: { label: string; x: number }[];
  ticks: { value: number; y: number }[];
  targets: { percentile: "p50" | "p95"; value: number; y: number }[];
}

/** A grouped bar chart: per operation a p50 and a p95 bar, with the targets as horizontal lines. */
export function barChart(data: Row[], targets: Targets, width = 640, height = 320): Chart {
  const plot = { left: 56, right: width - 150, top: 16, bottom: height - 40 };
  const highest = Math.max(targets.p95, targets.p50, ...data.map((r) => r.p95));
  const step = tickStep(highest * 1.1);
  const top = Math.ceil((highest * 1.1) / step) * step;
  const y = (value: number): number => plot.bottom - (value / top) * (plot.bottom - plot.top);
  const groupWidth = (plot.right - plot.left) / Math.max(data.length, 1);
  const barWidth = Math.min(48, groupWidth * 0.3);
  const bars: Bar[] = [];
  const groups = data.map((row, i) => {
    const center = plot.left + groupWidth * (i + 0.5);
    for (const [j, percentile] of (["p50", "p95"] as const).entries()) {
      const value = row[percentile];
      bars.push({
        key: `${row.operation}-${percentile}`,
        percentile,
        x: center + (j === 0 ? -barWidth - 2 : 2),
        y: y(value),
        width: barWidth,
        height: plot.bottom - y(value),
        value,
      });
    }
    return { label: row.operation, x: center };
  });
  const ticks = [];
  for (let value = 0; value <= top + step / 2; value += step) ticks.push({ value, y: y(value) });
  return {
    width,
    height,
    plot,
    bars,
    groups,
    ticks,
    targets: (["p50", "p95"] as const).map((percentile) => ({
      percentile,
      value: targets[percentile],
      y: y(targets[percentile]),
    })),
  };
}

// S2–S6: table rows. Every figure may be missing (a failed run, no rsync on the machine), so each
// row carries what the page prints: a number, or the reason it has none.

/** The targets from the issue for S2–S6, as bench/lib/targets.mjs reports against them. */
export const TARGETS = {
  s2MaxRatioToRsync: 1.5,
  s3MinRatioToRsync: 1,
  s4OverwriteMaxBytes: 1.5 * 2 ** 20,
  s4InsertMaxBytes: 256 * 1024,
  s5P95Ms: 200,
  s6PeakRssMiB: 200,
} as const;

/** A figure of a tool in a scenario, or why there is none. */
export type Measured<T> = ({ failed?: undefined } & T) | { failed: string };

/** Why `scenario` has no figures: not in this report, or failed (with the reason). */
export function missing(report: BenchReport, scenario: string): string | undefined {
  const s = report.scenarios[scenario];
  if (!s) return "not measured in this run";
  return s.failed ? `failed: ${s.failed}` : undefined;
}

export interface S2Row {
  tool: string;
  step: string;
  seconds?: number;
  failed?: string;
}

export interface S2Summary {
  files: number;
  fileBytes: number;
  dirs: number;
  rows: S2Row[];
  ratioToRsync?: number;
  meetsTarget?: boolean;
}

interface S2Scenario {
  files: number;
  fileBytes: number;
  dirs: number;
  distsync: Measured<{ indexUploadSeconds: number; initialSyncSeconds: number }>;
  rsync?: Measured<{ seconds: number }>;
  cp?: Measured<{ seconds: number }>;
  ratioToRsync?: number;
  meetsTarget?: boolean;
}

/** S2: DistSync's two times, then rsync's and cp's where the run had them. */
export function s2Summary(report: BenchReport): S2Summary | undefined {
  if (missing(report, "S2")) return undefined;
  const s = report.scenarios.S2 as unknown as S2Scenario;
  const d = s.distsync;
  const rows: S2Row[] = [
    d.failed !== undefined
      ? { tool: "DistSync", step: "first client indexes and uploads", failed: d.failed }
      : { tool: "DistSync", step: "first client indexes and uploads", seconds: d.indexUploadSeconds },
    d.failed !== undefined
      ? { tool: "DistSync", step: "empty client until ready with every file", failed: d.failed }
      : { tool: "DistSync", step: "empty client until ready with every file", seconds: d.initialSyncSeconds },
  ];
  if (s.rsync) rows.push(toolRow("rsync", "rsync -a to an rsync daemon", s.rsync));
  if (s.cp) rows.push(toolRow("cp", "cp -a on the same disk (a floor)", s.cp));
  return {
    files: s.files,
    fileBytes: s.fileBytes,
    dirs: s.dirs,
    rows,
    ratioToRsync: s.ratioToRsync,
    meetsTarget: s.meetsTarget,
  };
}

function toolRow(tool: string, step: string, m: Measured<{ seconds: number }>): S2Row {
  return m.failed !== undefined ? { tool, step, failed: m.failed } : { tool, step, seconds: m.seconds };
}

export interface TransferRow {
  name: string;
  bytes: number;
  distsync: Measured<{
    seconds: number;
    mibPerSecond: number;
    writerUpBytes: number;
    readerDownBytes: number;
  }>;
  rsync?: Measured<{ seconds: number; mibPerSecond: number; wireBytes: number }>;
  ratioToRsync?: number;
  meetsTarget?: boolean;
}

/** S3: one row per file (the incompressible one, then the text). */
export function s3Rows(report: BenchReport): TransferRow[] {
  if (missing(report, "S3")) return [];
  return (report.scenarios.S3 as unknown as { items: TransferRow[] }).items;
}

export interface EditRow {
  name: string;
  changedBytes: number;
  targetBytes: number;
  distsync: Measured<{
    seconds: number;
    writerUpBytes: number;
    readerDownBytes: number;
    maxLegBytes: number;
  }>;
  rsync?: Measured<{ seconds: number; sentBytes?: number; wireUpBytes: number; wireDownBytes: number }>;
  meetsBytes?: boolean;
  ratioToRsyncTime?: number;
  meetsTime?: boolean;
}

/** S4: one row per edit (the 1 MiB overwrite, then the 1 KiB insertion). */
export function s4Rows(report: BenchReport): EditRow[] {
  if (missing(report, "S4")) return [];
  return (report.scenarios.S4 as unknown as { items: EditRow[] }).items;
}

export interface S5Summary {
  clients: number;
  processes: number;
  foldersPerProcess: number;
  perClient: OperationResult;
  slowestClient: OperationResult;
  meetsP95: boolean;
}

/** S5: latencies over every receiver and sample, and of the slowest receiver per sample. */
export function s5Summary(report: BenchReport): S5Summary | undefined {
  if (missing(report, "S5")) return undefined;
  const s = report.scenarios.S5 as unknown as S5Summary;
  return isResult(s.perClient) && isResult(s.slowestClient) ? s : undefined;
}

export interface ResourceRow {
  scenario: string;
  process: string;
  after?: string;
  cpuSeconds?: number;
  peakRssMiB?: number;
  meetsRss?: boolean;
}

/** S6: CPU seconds and peak RSS per process of S2 and S3, each checked against the RSS target. */
export function s6Rows(report: BenchReport): ResourceRow[] {
  if (missing(report, "S6")) return [];
  const rows = (report.scenarios.S6 as unknown as { processes?: ResourceRow[] }).processes ?? [];
  return rows.map((row) => ({
    ...row,
    meetsRss: row.peakRssMiB === undefined ? undefined : row.peakRssMiB <= TARGETS.s6PeakRssMiB,
  }));
}

/** Bytes in binary units, as the page prints them. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "–";
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** "met", "not met", or "–" when there is nothing to judge (no rsync figure, a failure). */
export function verdict(met: boolean | undefined): string {
  return met === undefined ? "–" : met ? "met" : "not met";
}
