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

/** What bench/run.mjs writes (older reports lack `samples`, `command` and `machine`). */
export interface BenchReport {
  date: string;
  quick: boolean;
  samples?: number;
  command?: string;
  node: string;
  machine?: { cpus: number; cpuModel: string; os: string; memoryGiB: number; network: string };
  scenarios: Record<string, { description: string; unit: string; [operation: string]: unknown }>;
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
