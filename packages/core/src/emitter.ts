/** A listener map keyed by event name (an interface of `name: (args) => void` members). */
// biome-ignore lint/suspicious/noExplicitAny: event maps are checked at the `on`/`emit` call sites
export type EventMap<T> = { [K in keyof T]: (...args: any[]) => void };

/** Subscribes a listener; call the returned function to unsubscribe. */
export type Unsubscribe = () => void;

/**
 * A tiny typed emitter, because core's root entry may not import Node's `events`. A listener that
 * throws does not stop the others; the error goes to `onListenerError`.
 */
export class Emitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): Unsubscribe {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  clear(): void {
    this.#listeners.clear();
  }
}
