// The `distsync` command. The shebang comes from tsup's banner.
import pkg from "../package.json" with { type: "json" };
import { type CliCommand, parseCommandLine } from "./args.js";
import { CliError, UsageError } from "./cli-error.js";
import type { CommandContext, Outcome } from "./command-context.js";
import { serve } from "./commands/serve.js";
import { status } from "./commands/status.js";
import { sync } from "./commands/sync.js";
import { waitCommand } from "./commands/wait.js";
import { ExitCode } from "./exit-codes.js";
import { helpText } from "./help.js";
import { createOutput, type Output } from "./output.js";
import { terminalLine } from "./progress.js";
import { displayText } from "./terminal-text.js";

const write = (stream: NodeJS.WriteStream) => (text: string) => {
  terminalLine.around(() => stream.write(text));
};

// A reader that went away (`distsync sync … | head`) must not crash a running sync.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

async function main(argv: readonly string[]): Promise<number> {
  // Until the options are known, errors are printed the human way.
  let output: Output = createOutput({
    json: false,
    quiet: false,
    showDir: false,
    stdout: write(process.stdout),
    stderr: write(process.stderr),
  });
  let verbose = false;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      controller.abort(signal);
      return;
    }
    output.fatal(`${signal} again: exiting without a clean stop`);
    process.exit(ExitCode.error);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const command: CliCommand = await parseCommandLine(argv, { cwd: process.cwd(), env: process.env });
    if (command.command === "version") {
      process.stdout.write(`${pkg.version}\n`);
      return ExitCode.ok;
    }
    if (command.command === "help") {
      process.stdout.write(helpText(command.topic));
      return ExitCode.ok;
    }
    verbose = command.verbose;
    output = createOutput({
      json: command.json,
      quiet: command.quiet,
      showDir: command.command === "sync" && command.dirs.length > 1,
      stdout: write(process.stdout),
      stderr: write(process.stderr),
    });
    const context: CommandContext = { output, cwd: process.cwd(), signal: controller.signal };
    if (command.command === "wait") {
      process.stdout.write(await waitCommand(command, context));
      return ExitCode.ok;
    }
    if (command.command === "status") {
      // A one-shot query: its report is the output (no event lines, no "stopped").
      process.stdout.write(await status(command, context));
      return ExitCode.ok;
    }
    const outcome: Outcome =
      command.command === "serve" ? await serve(command, context) : await sync(command, context);
    if (outcome.exitCode === ExitCode.ok || output.json) {
      output.event({ event: "stopped", reason: outcome.reason, exitCode: outcome.exitCode });
    }
    if (outcome.exitCode !== ExitCode.ok) output.fatal(outcome.message ?? outcome.reason);
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CliError) {
      output.fatal(error instanceof UsageError ? `${error.message} (see 'distsync --help')` : error.message);
      return error.exitCode;
    }
    reportUnexpected(output, error, verbose);
    return ExitCode.error;
  }
}

function reportUnexpected(output: Output, error: unknown, verbose: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  output.fatal(`unexpected error: ${message}`);
  if (verbose && error instanceof Error && error.stack) output.note(displayText(error.stack));
}

/** Exits once stdout and stderr have taken everything written so far. */
async function exit(code: number): Promise<never> {
  const drain = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (stream.destroyed || !stream.writable) resolve();
      else stream.write("", () => resolve());
    });
  await Promise.race([
    Promise.all([drain(process.stdout), drain(process.stderr)]),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
  process.exit(code);
}

process.on("uncaughtException", (error) => {
  process.stderr.write(`distsync: unexpected error: ${displayText(error.message)}\n`);
  if (process.argv.includes("--verbose") && error.stack)
    process.stderr.write(`${displayText(error.stack)}\n`);
  void exit(ExitCode.error);
});
process.on("unhandledRejection", (reason) => {
  const message = reason instanceof Error ? reason.message : String(reason);
  process.stderr.write(`distsync: unexpected error: ${displayText(message)}\n`);
  void exit(ExitCode.error);
});

void main(process.argv.slice(2)).then(exit);
