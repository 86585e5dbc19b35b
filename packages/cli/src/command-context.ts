import type { Output } from "./output.js";

/** What a command gets from the entry point. */
export interface CommandContext {
  output: Output;
  /** The working directory relative paths are resolved against. */
  cwd: string;
  /** Aborted on SIGINT or SIGTERM: the command stops cleanly and returns. */
  signal: AbortSignal;
}

/** How a command ended; the entry point prints `stopped` (and the stderr line) and exits. */
export interface Outcome {
  exitCode: number;
  /** `signal`, `once`, or the close reason of the client that ended the run. */
  reason: string;
  /** For a non-zero exit: the one line for stderr. */
  message?: string;
}

/** Resolves when `signal` is aborted. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/** Waits for `promise`, but no longer than `ms` (cleanup must not hang the exit). */
export async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
