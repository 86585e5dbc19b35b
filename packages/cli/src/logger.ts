import type { LogFields, Logger } from "@distsync/core";
import type { Output } from "./output.js";
import { displayText } from "./terminal-text.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface CliLoggerOptions {
  output: Output;
  /** Down to debug for every namespace. */
  verbose: boolean;
  /** Fields added to every record (e.g. the directory of a client). */
  context?: LogFields;
}

/**
 * Core's `Logger` for the CLI: records go to stderr as readable lines, or to stdout as
 * `{"event":"log",…}` objects with `--json`. Shown by default: warnings and errors of the hub and
 * the transports. The client's own warnings are all reported as events already (`error`, `closed`,
 * `reconnecting`), so its records show only with `--verbose`, which shows everything.
 * Records carry paths, sizes and hashes; byte arrays are logged as their length only.
 */
export function createCliLogger(options: CliLoggerOptions): Logger {
  return make(options, "distsync");
}

function make(options: CliLoggerOptions, namespace: string): Logger {
  const threshold = options.verbose ? RANK.debug : namespace === "distsync:client" ? Infinity : RANK.warn;
  const log = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (RANK[level] < threshold) return;
    const all = { ...options.context, ...fields };
    const clean = Object.keys(all).length === 0 ? undefined : cleanFields(all);
    if (options.output.json) {
      options.output.event({ event: "log", level, namespace, message, ...(clean ? { fields: clean } : {}) });
      return;
    }
    const rest = clean
      ? Object.entries(clean)
          .map(([k, v]) => ` ${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
          .join("")
      : "";
    options.output.note(`${level} ${namespace}: ${displayText(message + rest)}`);
  };
  return {
    debug: (message, fields) => log("debug", message, fields),
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
    child: (child) => make(options, child),
  };
}

function cleanFields(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (value instanceof Error) out[key] = value.message;
    else if (value instanceof Uint8Array) out[key] = `<${value.byteLength} bytes>`;
    else if (typeof value === "bigint") out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}
