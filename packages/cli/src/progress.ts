import type { TransferProgress } from "@distsync/core";
import { formatBytes } from "./output.js";

/** Where progress goes: a redrawn line on a terminal, a plain line now and then, or JSON events. */
export type ProgressMode = "tty" | "lines" | "json" | "off";

export interface ProgressSink {
  /** Replaces the terminal's status line (tty). */
  show(line: string): void;
  /** Removes the status line (tty). */
  clear(): void;
  /** A progress event: a JSON line (json) or a plain `progress …` line (lines). */
  event(event: ProgressEvent): void;
}

export interface ProgressEvent {
  event: "progress";
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | undefined;
}

export interface ProgressOptions {
  mode: ProgressMode;
  sink: ProgressSink;
  /** Work must be under way this long before anything is shown (small changes stay quiet). */
  delayMs?: number;
  now?: () => number;
}

const EVERY_MS: Record<Exclude<ProgressMode, "off">, number> = { tty: 100, json: 1000, lines: 2000 };
/** The rate is measured over this window, so a stall shows quickly and a burst does not dominate. */
const RATE_WINDOW_MS = 3000;

/**
 * Reports transfers while they run: files and bytes done of those queued, the rate, and the time
 * left. Totals grow as work is discovered (a first sync learns the hub's files in batches), so the
 * figures are "of what is known so far".
 */
export class ProgressReporter {
  readonly #sources: readonly (() => TransferProgress)[];
  readonly #options: Required<Omit<ProgressOptions, "now">> & { now: () => number };
  #base: TransferProgress | undefined;
  #activeSince: number | undefined;
  #lastReport = 0;
  #samples: { at: number; bytes: number }[] = [];
  #shown = false;

  constructor(sources: readonly (() => TransferProgress)[], options: ProgressOptions) {
    this.#sources = sources;
    this.#options = { delayMs: 1000, now: Date.now, ...options };
  }

  /** Looks at the sources once; call it every 100 ms or so. */
  tick(): void {
    if (this.#options.mode === "off") return;
    const now = this.#options.now();
    const total = this.#sum();
    // Only work queued since the current burst began counts: earlier, finished work is history.
    if (total.filesDone >= total.filesTotal) {
      this.#finish();
      this.#base = total;
      return;
    }
    const base = this.#base ?? { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
    const current: TransferProgress = {
      filesDone: total.filesDone - base.filesDone,
      filesTotal: total.filesTotal - base.filesTotal,
      bytesDone: total.bytesDone - base.bytesDone,
      bytesTotal: total.bytesTotal - base.bytesTotal,
    };
    this.#activeSince ??= now;
    this.#samples.push({ at: now, bytes: current.bytesDone });
    while (this.#samples.length > 2 && now - (this.#samples[0]?.at ?? now) > RATE_WINDOW_MS)
      this.#samples.shift();
    if (now - this.#activeSince < this.#options.delayMs) return;
    if (now - this.#lastReport < EVERY_MS[this.#options.mode]) return;
    this.#lastReport = now;
    const first = this.#samples[0] ?? { at: now, bytes: current.bytesDone };
    const elapsed = (now - first.at) / 1000;
    const rate = elapsed > 0 ? Math.max(0, (current.bytesDone - first.bytes) / elapsed) : 0;
    const left = Math.max(0, current.bytesTotal - current.bytesDone);
    const eta = rate > 0 ? Math.ceil(left / rate) : undefined;
    const event: ProgressEvent = {
      event: "progress",
      ...current,
      bytesPerSecond: Math.round(rate),
      etaSeconds: eta,
    };
    if (this.#options.mode !== "tty") this.#options.sink.event(event);
    else {
      this.#options.sink.show(`${bar(current)} ${describe(event)}`);
      this.#shown = true;
    }
  }

  /** Removes the status line (call before exiting). */
  stop(): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#shown) this.#options.sink.clear();
    this.#shown = false;
    this.#activeSince = undefined;
    this.#samples = [];
    this.#lastReport = 0;
  }

  #sum(): TransferProgress {
    const out = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
    for (const source of this.#sources) {
      const p = source();
      out.filesDone += p.filesDone;
      out.filesTotal += p.filesTotal;
      out.bytesDone += p.bytesDone;
      out.bytesTotal += p.bytesTotal;
    }
    return out;
  }
}

/**
 * The one status line a terminal shows at its bottom. Everything else printed on the terminal goes
 * through `around`, which lifts the line out of the way and puts it back, so lines never mix.
 */
export const terminalLine = {
  text: "",
  show(text: string): void {
    this.text = text;
    process.stderr.write(`\r\x1b[K${text}`);
  },
  clear(): void {
    if (this.text !== "") process.stderr.write("\r\x1b[K");
    this.text = "";
  },
  around(print: () => void): void {
    if (this.text === "") {
      print();
      return;
    }
    process.stderr.write("\r\x1b[K");
    print();
    process.stderr.write(this.text);
  },
};

/** `120/10000 files, 1.2 GiB/5.0 GiB, 118 MiB/s, 33 s left`. */
export function describe(p: ProgressEvent): string {
  const eta = p.etaSeconds === undefined ? "" : `, ${formatDuration(p.etaSeconds)} left`;
  return `${p.filesDone}/${p.filesTotal} files, ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}, ${formatBytes(p.bytesPerSecond)}/s${eta}`;
}

function bar(p: TransferProgress, width = 20): string {
  const fraction =
    p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 0;
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.floor(fraction * 100)}%`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${seconds % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
