// Polls `condition` until it holds; fails on timeout, or at once if one of `processes` has exited
// (a crashed engine must end the wait, not run out the clock).
export async function waitUntil(condition, { timeoutMs, describe, processes = [] }) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    const dead = processes.find((p) => p.exited);
    if (dead) {
      throw new Error(`${dead.exitReason()}; by then ${describe()}`);
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
