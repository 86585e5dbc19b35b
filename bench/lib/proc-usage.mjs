// CPU time and peak RSS of a child process, read from /proc from outside it, so the figures need
// no cooperation from the CLI. Read them just before stopping the process: afterwards /proc/<pid>
// is gone.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond;

/** `{ cpuSeconds, user, system, peakRssMiB, rssMiB }` of a live process, or undefined (no /proc, exited). */
export function readProcUsage(pid) {
  try {
    ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    // The command name (field 2) may contain spaces and parentheses: split after its last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the name and state.
    const user = Number(fields[11]) / ticksPerSecond;
    const system = Number(fields[12]) / ticksPerSecond;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return {
      cpuSeconds: round(user + system, 2),
      user: round(user, 2),
      system: round(system, 2),
      peakRssMiB: round(kib("VmHWM") / 1024, 1),
      rssMiB: round(kib("VmRSS") / 1024, 1),
    };
  } catch {
    return undefined;
  }
}

function round(value, digits) {
  return Number(value.toFixed(digits));
}
