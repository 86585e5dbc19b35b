// The targets from issue 5: goals the figures are reported against, never asserted.
export const TARGETS = {
  S1: { p50Ms: 20, p95Ms: 60 },
  S2: { maxRatioToRsync: 1.5 },
  S3: { minRatioToRsyncThroughput: 1 },
  S4: { overwriteMaxBytes: 1.5 * 2 ** 20, insertMaxBytes: 256 * 1024, maxRatioToRsyncTime: 1 },
  S5: { p95Ms: 200 },
  S6: { peakRssMiB: 200 },
};
