/**
 * Runs tasks one after another. A failing task does not stop the ones behind it; its error goes
 * to the caller who awaits it.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(task, task);
    this.#tail = result.then(
      () => {
        this.#pending--;
      },
      () => {
        this.#pending--;
      },
    );
    return result;
  }

  get pending(): number {
    return this.#pending;
  }

  /** Resolves when every task queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}

/** One {@link SerialQueue} per key, dropped when its last task ends. */
export class KeyedQueue<K> {
  readonly #queues = new Map<K, SerialQueue>();

  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = new SerialQueue();
      this.#queues.set(key, queue);
    }
    const q = queue;
    return q.run(task).finally(() => {
      if (q.pending === 0 && this.#queues.get(key) === q) this.#queues.delete(key);
    });
  }

  get busy(): number {
    return this.#queues.size;
  }
}
