import type { FileStat, WatchEvent, Watcher } from "../file-system.js";
import type { RelPath } from "../types.js";

/** Default time between two scans when the watcher had to fall back to scanning. */
export const DEFAULT_SCAN_INTERVAL_MS = 2000;

type Seen = Pick<FileStat, "kind" | "size" | "mtimeMs" | "executable">;

export interface ScanWatcherInit {
  /** Every entry below the root, parents first (`NodeFileSystem.walk`). */
  walk: () => AsyncIterable<FileStat>;
  rootExists: () => Promise<boolean>;
  /** Receives the differences between two scans as ordinary watch events. */
  emit: (event: WatchEvent) => void;
  intervalMs: number;
  /**
   * Report every entry of the first scan as changed: for a fallback that starts after changes may
   * already have been missed (the engine re-reads each path and finds most unchanged).
   */
  announceBaseline: boolean;
}

/**
 * The watcher of last resort, for when the OS cannot watch the folder (the inotify limits): walks
 * the whole tree every `intervalMs` and reports what differs from the walk before (size, mtime or
 * executable bit of a file, size or mtime of a link; entries that appeared or vanished). Resolves
 * after the first walk.
 */
export async function startScanWatcher(init: ScanWatcherInit): Promise<Watcher> {
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  const scan = async (): Promise<Map<RelPath, Seen> | undefined> => {
    const now = new Map<RelPath, Seen>();
    try {
      for await (const stat of init.walk()) {
        if (closed) return undefined;
        now.set(stat.path, {
          kind: stat.kind,
          size: stat.size,
          mtimeMs: stat.mtimeMs,
          executable: stat.executable,
        });
      }
    } catch {
      if (!closed && !(await init.rootExists())) {
        closed = true;
        init.emit({ type: "root-removed" });
      }
      return undefined; // a directory raced away mid-walk, or the root is gone: try again next time
    }
    return now;
  };

  let previous = (await scan()) ?? new Map<RelPath, Seen>();
  if (init.announceBaseline) {
    for (const [path, seen] of previous) {
      init.emit({ type: seen.kind === "directory" ? "add" : "change", path, kind: seen.kind });
    }
  }

  const tick = async (): Promise<void> => {
    const now = await scan();
    if (closed || now === undefined) return;
    // Removals deepest first, so a directory is reported after what it held.
    const removed = [...previous.keys()].filter((path) => !now.has(path)).reverse();
    for (const path of removed) {
      const before = previous.get(path) as Seen;
      init.emit({ type: "remove", path, kind: before.kind });
    }
    for (const [path, seen] of now) {
      const before = previous.get(path);
      if (before === undefined) {
        init.emit({ type: "add", path, kind: seen.kind });
      } else if (before.kind !== seen.kind) {
        init.emit({ type: "remove", path, kind: before.kind });
        init.emit({ type: "add", path, kind: seen.kind });
      } else if (
        seen.kind !== "directory" &&
        (before.size !== seen.size ||
          before.mtimeMs !== seen.mtimeMs ||
          before.executable !== seen.executable)
      ) {
        // A file edited, or a link replaced (its own mtime and size change; it is never followed).
        init.emit({ type: "change", path, kind: seen.kind });
      }
    }
    previous = now;
  };

  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, init.intervalMs);
  };
  schedule();

  return {
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await running.catch(() => {});
    },
  };
}
