import type { CloseReason } from "@distsync/core";

/** The process exit codes of `distsync` (documented in `--help` and the README). */
export const ExitCode = {
  /** Stopped by SIGINT/SIGTERM, or `--once` finished. */
  ok: 0,
  /** An unexpected error (a bug, a protocol error, a disk failure). */
  error: 1,
  /** A usage or configuration error. */
  usage: 2,
  /** The hub could not be reached, or was lost. */
  hubUnreachable: 3,
  /** A synced directory is missing or was removed. */
  directoryMissing: 4,
  /** The hub refused the token. */
  authRefused: 5,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for a client that stopped for `reason`. */
export function exitCodeFor(reason: CloseReason): ExitCode {
  switch (reason) {
    case "stopped":
      return ExitCode.ok;
    case "hub-unreachable":
    case "hub-lost":
      return ExitCode.hubUnreachable;
    case "directory-removed":
      return ExitCode.directoryMissing;
    case "auth-refused":
      return ExitCode.authRefused;
    case "protocol-error":
    case "error":
      return ExitCode.error;
  }
}
