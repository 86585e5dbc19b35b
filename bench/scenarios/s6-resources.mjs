// S6 resources: CPU seconds (user+sys) and peak RSS (VmHWM) of the hub and of the clients, read
// from /proc by S2 and S3 just before their processes stop (S3's after each file, so its second
// row per process covers both files). Nothing runs here: it gathers what S2 and S3 measured.
import { TARGETS } from "../lib/targets.mjs";

export function collectS6({ S2, S3 }) {
  const rows = [];
  for (const r of S2?.distsync?.resources ?? []) rows.push({ scenario: "S2", ...r });
  for (const r of S3?.resources ?? []) rows.push({ scenario: "S3", ...r });
  for (const row of rows) {
    if (row.peakRssMiB !== undefined) row.meetsRss = row.peakRssMiB <= TARGETS.S6.peakRssMiB;
  }
  return {
    description: "CPU seconds (user+sys) and peak RSS (VmHWM) per process during S2 and S3",
    unit: "s / MiB",
    processes: rows,
    ...(rows.length === 0 ? { failed: "S2 and S3 gave no process figures" } : {}),
  };
}
