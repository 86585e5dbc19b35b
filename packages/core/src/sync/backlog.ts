import type { Connection } from "../transport.js";

/** Above this many bytes of frames received and not yet handled, reading pauses. */
export const BACKLOG_HIGH_BYTES = 8 * 1024 * 1024;
/** Reading resumes once the backlog is down to this. */
export const BACKLOG_LOW_BYTES = 2 * 1024 * 1024;

/**
 * Counts the bytes of frames a side has received but not handled yet, and pauses the connection
 * (when its transport can) while that backlog is large: a peer that sends faster than this side
 * stores or writes is slowed by its own send backpressure instead of filling this side's memory.
 */
export class Backlog {
  readonly #connection: Connection;
  #bytes = 0;
  #paused = false;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  add(bytes: number): void {
    this.#bytes += bytes;
    if (!this.#paused && this.#bytes > BACKLOG_HIGH_BYTES) {
      this.#paused = true;
      this.#connection.pause?.();
    }
  }

  remove(bytes: number): void {
    this.#bytes -= bytes;
    if (this.#paused && this.#bytes <= BACKLOG_LOW_BYTES) {
      this.#paused = false;
      this.#connection.resume?.();
    }
  }
}
