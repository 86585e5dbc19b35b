// Telling failures apart: `start()` rejects with a DistSyncError subclass, and `closed` resolves
// with the reason a client stopped. The docs test runs both functions (test/handle-errors.test.ts).
import { AuthError, type Client, type ClientClosed, ConnectionError, DistSyncError } from "@distsync/core";

/** Starts `client`; resolves with `undefined` once it is in sync, or with one line saying why not. */
export async function startOrExplain(client: Client): Promise<string | undefined> {
  try {
    await client.start();
    return undefined;
  } catch (error) {
    // isInstance() rather than instanceof: it also holds across duplicate installs of the package.
    if (AuthError.isInstance(error)) return "the hub refused the token (check DISTSYNC_TOKEN)";
    if (ConnectionError.isInstance(error)) return `cannot reach the hub: ${error.message}`;
    if (DistSyncError.isInstance(error)) return `${error.code}: ${error.message}`;
    throw error; // not DistSync's: a bug
  }
}

/** The exit code the `distsync` command uses for a client that stopped (see the CLI reference). */
export function exitCodeFor(closed: ClientClosed): number {
  switch (closed.reason) {
    case "stopped":
      return 0;
    case "hub-unreachable":
    case "hub-lost":
      return 3;
    case "directory-removed":
      return 4;
    case "auth-refused":
      return 5;
    case "protocol-error":
    case "error":
      return 1;
  }
}
