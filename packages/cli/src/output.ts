import type { ChangeOp, CloseReason } from "@distsync/core";
import { describe as describeProgress, type ProgressEvent } from "./progress.js";
import { displayPath, displayText, jsonLine } from "./terminal-text.js";

/** What `distsync` reports. In `--json` mode each one is written as is, one per line on stdout. */
export type CliEvent =
  | { event: "listening"; url: string }
  | { event: "ready"; dir: string; root: string; name: string; files: number }
  | { event: "sent"; dir: string; path: string; op: ChangeOp; size: number; seq: number }
  | {
      event: "applied";
      dir: string;
      path: string;
      op: ChangeOp;
      size: number;
      seq: number;
      origin: string;
      cause: string;
    }
  | {
      event: "conflict";
      /** Set for a client's conflict. */
      dir?: string;
      /** Set for a hub's conflict. */
      space?: string;
      path: string;
      winner: { origin: string; mtimeMs: number };
      loser: { origin: string; mtimeMs: number };
      keptAs?: string;
    }
  | { event: "error"; code: string; message: string; dir?: string }
  | { event: "connected"; dir: string }
  | { event: "disconnected"; dir: string; reason: string }
  | { event: "reconnecting"; dir: string; attempt: number; delayMs: number }
  | { event: "closed"; dir: string; reason: CloseReason }
  | { event: "skipped"; dir: string; path: string; reason: string }
  | { event: "joined"; space: string; client: string; name?: string; address?: string }
  | { event: "left"; space: string; client: string; name?: string; reason: string }
  | { event: "change"; space: string; path: string; op: ChangeOp; size: number; seq: number; origin: string }
  | {
      event: "log";
      level: string;
      namespace: string;
      message: string;
      fields?: Record<string, unknown>;
    }
  | { event: "stopped"; reason: string; exitCode: number }
  | ProgressEvent;

export interface OutputOptions {
  json: boolean;
  /** Leave out per-file and connection events (listening, ready, conflicts, errors stay). */
  quiet: boolean;
  /** Prefix client events with their directory (several directories in one process). */
  showDir: boolean;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface Output {
  readonly json: boolean;
  /** Reports one event: a JSON line on stdout, or a readable line (stderr for errors). */
  event(event: CliEvent): void;
  /** The one line on stderr that explains a non-zero exit. */
  fatal(message: string): void;
  /** A plain line on stderr (human log records). */
  note(line: string): void;
}

const CHATTY = new Set<CliEvent["event"]>([
  "sent",
  "applied",
  "change",
  "connected",
  "disconnected",
  "joined",
  "left",
]);

/** Creates the printer for `--json` or for people. */
export function createOutput(options: OutputOptions): Output {
  return {
    json: options.json,
    event(event) {
      if (options.quiet && CHATTY.has(event.event)) return;
      if (options.json) {
        options.stdout(`${jsonLine(event)}\n`);
        return;
      }
      if (event.event === "log") return; // human log records go through `note`
      const line = humanLine(event, options.showDir);
      if (event.event === "error") options.stderr(`${line}\n`);
      else options.stdout(`${line}\n`);
    },
    fatal(message) {
      options.stderr(`distsync: ${displayText(message)}\n`);
    },
    note(line) {
      options.stderr(`${line}\n`);
    },
  };
}

/** One readable line for an event. Every path and name is escaped for the terminal. */
export function humanLine(event: CliEvent, showDir: boolean): string {
  const prefix = "dir" in event && event.dir !== undefined && showDir ? `[${displayPath(event.dir)}] ` : "";
  switch (event.event) {
    case "listening":
      return `listening on ${displayText(event.url)}`;
    case "ready":
      return `ready ${displayPath(event.dir)} (${plural(event.files, "file")})`;
    case "sent":
      return `${prefix}sent ${displayPath(event.path)} (${describeChange(event.op, event.size)})`;
    case "applied":
      return `${prefix}applied ${displayPath(event.path)} (${describeChange(event.op, event.size)}, from ${displayPath(shortOrigin(event.origin))})`;
    case "change":
      return `change ${displayPath(event.path)} (${describeChange(event.op, event.size)}, seq ${event.seq}, from ${displayPath(shortOrigin(event.origin))})`;
    case "conflict": {
      const path = displayPath(event.path);
      const winner = displayPath(shortOrigin(event.winner.origin));
      if (event.space !== undefined) {
        const loser = displayPath(shortOrigin(event.loser.origin));
        return `conflict ${path}: ${winner}'s version (${time(event.winner.mtimeMs)}) beat ${loser}'s (${time(event.loser.mtimeMs)})`;
      }
      if (event.keptAs !== undefined) {
        return `${prefix}conflict ${path}: kept the local version as ${displayPath(event.keptAs)}, took ${winner}'s`;
      }
      return `${prefix}conflict ${path}: took ${winner}'s version (${time(event.winner.mtimeMs)}) over the local one (${time(event.loser.mtimeMs)})`;
    }
    case "error":
      return `${prefix}error ${displayText(event.code)}: ${displayText(event.message)}`;
    case "connected":
      return `${prefix}connected`;
    case "disconnected":
      return `${prefix}disconnected: ${displayText(event.reason)}`;
    case "reconnecting":
      return `${prefix}reconnecting (attempt ${event.attempt}, in ${event.delayMs} ms)`;
    case "closed":
      return `${prefix}closed (${event.reason})`;
    case "skipped":
      return `${prefix}skipped ${displayPath(event.path)} (${displayText(event.reason)})`;
    case "joined": {
      const who = displayPath(event.name ?? event.client);
      const from = event.address === undefined ? "" : `, from ${displayText(event.address)}`;
      return `joined ${who} (space ${displayPath(event.space)}${from})`;
    }
    case "left":
      return `left ${displayPath(event.name ?? event.client)} (space ${displayPath(event.space)}): ${displayText(event.reason)}`;
    case "log":
      return `${event.level} ${event.namespace}: ${displayText(event.message)}`;
    case "stopped":
      return `stopped (${event.reason})`;
    case "progress":
      return `progress ${describeProgress(event)}`;
  }
}

function describeChange(op: ChangeOp, size: number): string {
  return op === "write" ? `write, ${formatBytes(size)}` : op;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** `1.2 KiB`, `512 B`, `3.4 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The CLI's client ids are `<name>-<8 hex>`: people read the name. */
export function shortOrigin(origin: string): string {
  const match = /^(.+)-[0-9a-f]{8}$/.exec(origin);
  return match?.[1] ?? origin;
}

function time(mtimeMs: number): string {
  const d = new Date(mtimeMs);
  return Number.isNaN(d.getTime())
    ? String(mtimeMs)
    : d
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}
