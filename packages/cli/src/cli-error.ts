import { ExitCode } from "./exit-codes.js";

/** A failure that ends the process with a given exit code and one line on stderr. */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A bad command line or configuration file: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.usage, message, options);
    this.name = "UsageError";
  }
}
