// How long a whole-file transfer of `bytes` may take before it counts as stuck: 2 MiB/s, at least
// 60 s. Far below what loopback carries, so a slow engine is still measured, but a hung or
// crashed one ends in a "failed: timed out" entry rather than a run that never finishes.
export function transferTimeoutMs(bytes) {
  return Math.max(60_000, (bytes / 2 ** 20 / 2) * 1000);
}
