import type { FileStat, WatchEvent, Watcher } from "../file-system.js";
import type { RelPath } from "../types.js";

/** Longer than chokidar's 50 ms per-path `change` throttle. */
const DEFAULT_DELAY_MS = 75;

/**
 * chokidar 5 throttles `change` events per path for 50 ms and drops what falls in that window
 * without a trailing event (chokidar `index.js`, `_throttle(EV.CHANGE, path, 50)`), so the final
 * write of a quick burst might never be reported. Every file event is therefore followed, `delayMs`
 * after the last one for that path, by a `stat`: if the file changed since, a `change` is sent.
 */
interface Pending {
  timer: ReturnType<typeof setTimeout>;
  /** The file as it was just after the latest event (filled in asynchronously). */
  seen: Promise<FileStat | undefined>;
}

export async function watchWithTrailingEvents(
  fs: {
    stat(path: RelPath): Promise<FileStat | undefined>;
    watch(listener: (event: WatchEvent) => void): Promise<Watcher>;
  },
  listener: (event: WatchEvent) => void,
  counter: { value: number },
  delayMs = DEFAULT_DELAY_MS,
): Promise<Watcher> {
  const pending = new Map<RelPath, Pending>();
  const count = (): void => {
    counter.value = pending.size;
  };
  let closed = false;
  const stat = (path: RelPath): Promise<FileStat | undefined> => fs.stat(path).catch(() => undefined);

  const recheck = async (path: RelPath, entry: Pending): Promise<void> => {
    const [before, now] = await Promise.all([entry.seen, stat(path)]);
    if (closed || pending.get(path) !== entry) return;
    pending.delete(path);
    count();
    if (now === undefined || now.kind !== "file") return;
    if (
      before &&
      before.size === now.size &&
      before.mtimeMs === now.mtimeMs &&
      before.executable === now.executable
    )
      return;
    listener({ type: "change", path, kind: "file" });
  };

  const watcher = await fs.watch((event) => {
    listener(event);
    if (closed || (event.type !== "add" && event.type !== "change") || event.kind !== "file") return;
    const path = event.path;
    const previous = pending.get(path);
    if (previous) clearTimeout(previous.timer);
    const entry: Pending = {
      seen: stat(path),
      timer: setTimeout(() => void recheck(path, entry), delayMs),
    };
    pending.set(path, entry);
    count();
  });

  return {
    async close() {
      closed = true;
      for (const entry of pending.values()) clearTimeout(entry.timer);
      pending.clear();
      count();
      await watcher.close();
    },
  };
}
