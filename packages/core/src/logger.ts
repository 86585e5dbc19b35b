/** Structured fields attached to a log line. Never file contents: paths, sizes and hashes only. */
export type LogFields = Record<string, unknown>;

/**
 * The logger the engines and adapters write to. Only the CLI picks a sink; libraries default to
 * {@link noopLogger}. `child` adds a namespace such as `distsync:hub`.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(namespace: string): Logger;
}

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};
