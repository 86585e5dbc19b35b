// p50/p95/max of a list of latencies (nearest-rank percentiles, as S1 has always reported them).
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return {
    samples: sorted.length,
    p50: round1(at(50)),
    p95: round1(at(95)),
    max: round1(sorted[sorted.length - 1]),
  };
}

function round1(value) {
  return Number(value.toFixed(1));
}
