export interface WaitForOptions {
  /** How long to keep polling before rejecting. Default: 5000 ms. */
  timeoutMs?: number;
  /** What is awaited, for the timeout error (e.g. "the hub's close event"). Default: "condition". */
  message?: string;
}

// Captured at load so that a test that switched to fake timers still gets a wait that times out
// instead of one that hangs.
const realSetTimeout = globalThis.setTimeout;
const realNow = Date.now;

const POLL_MS = 5;

/**
 * Resolves once `condition` returns true, checking it now and then every 5 ms on real timers.
 * Rejects with an `Error` naming `message` after `timeoutMs`, or with whatever `condition` throws.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = realNow() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (realNow() >= deadline) {
      throw new Error(
        `waitFor: timed out after ${timeoutMs} ms waiting for ${options.message ?? "condition"}`,
      );
    }
    await new Promise<void>((resolve) => realSetTimeout(resolve, POLL_MS));
  }
}
