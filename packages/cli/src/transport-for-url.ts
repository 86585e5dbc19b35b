import type { ClientTransport, Logger } from "@distsync/core";
import { createWebSocketClientTransport } from "@distsync/transport-ws";
import { UsageError } from "./cli-error.js";

export interface TransportForUrlOptions {
  /** For `wss://`: PEM text of a CA, or of a self-signed hub certificate, to trust. */
  ca?: string;
  logger?: Logger;
}

/**
 * The client transport for a hub URL: `ws://` and `wss://` use @distsync/transport-ws. Every
 * transport choice lives here, so adding a scheme is a change to this file only. A malformed URL or
 * an unsupported scheme is a {@link UsageError}.
 */
export function transportForUrl(url: string, options: TransportForUrlOptions = {}): ClientTransport {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid hub URL '${url}': expected ws://host:port or wss://host:port`);
  }
  switch (parsed.protocol) {
    case "ws:":
    case "wss:":
      try {
        return createWebSocketClientTransport({
          url,
          ...(options.ca === undefined ? {} : { ca: options.ca }),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        });
      } catch (error) {
        throw new UsageError((error as Error).message, { cause: error });
      }
    case "nats:":
      throw new UsageError("the NATS transport is not available in this version");
    default:
      throw new UsageError(
        `unsupported hub URL scheme '${parsed.protocol}' in '${url}': use ws:// or wss://`,
      );
  }
}
