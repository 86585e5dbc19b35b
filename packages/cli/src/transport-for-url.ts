import type { ClientTransport, HubTransport, Logger } from "@distsync/core";
import { createNatsClientTransport, createNatsHubTransport, redactUrl } from "@distsync/transport-nats";
import { createWebSocketClientTransport, createWebSocketHubTransport } from "@distsync/transport-ws";
import { UsageError } from "./cli-error.js";

/** Settings for a hub on NATS (`--nats-token`, `--nats-creds`, `--subject-prefix`). */
export interface NatsSettings {
  /** The NATS server's auth token (not DistSync's `--token`). */
  natsToken?: string | undefined;
  /** Path of a NATS `.creds` file. */
  natsCreds?: string | undefined;
  subjectPrefix?: string | undefined;
}

export interface TransportForUrlOptions extends NatsSettings {
  /** For `wss://`: PEM text of a CA, or of a self-signed hub certificate, to trust. */
  ca?: string;
  logger?: Logger;
}

/**
 * The client transport for a hub URL: `ws://` and `wss://` use @distsync/transport-ws, `nats://`
 * uses @distsync/transport-nats. Every transport choice lives in this file, so adding a scheme is a
 * change here only. A malformed URL or an unsupported scheme is a {@link UsageError}.
 */
export function transportForUrl(url: string, options: TransportForUrlOptions = {}): ClientTransport {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `invalid hub URL '${redactUrl(url)}': expected ws://host:port, wss://host:port or nats://host:port`,
    );
  }
  const logger = options.logger === undefined ? {} : { logger: options.logger };
  switch (parsed.protocol) {
    case "ws:":
    case "wss:":
      return usage(() =>
        createWebSocketClientTransport({
          url,
          ...(options.ca === undefined ? {} : { ca: options.ca }),
          ...logger,
        }),
      );
    case "nats:":
      if (options.ca !== undefined) {
        throw new UsageError("--ca applies to wss:// hubs only; a NATS server's TLS uses the system's CAs");
      }
      return usage(() => createNatsClientTransport({ url, ...natsOptions(options), ...logger }));
    default:
      throw new UsageError(
        `unsupported hub URL scheme '${parsed.protocol}' in '${redactUrl(url)}': use ws://, wss:// or nats://`,
      );
  }
}

/** A hub transport and what `serve` reports about it. */
export interface ServedHub {
  transport: HubTransport;
  /** The URL clients use (credentials redacted), known once the transport listens. */
  url(): string;
  /** Resolves when the transport is gone for good while the hub runs (NATS closed); never for WebSocket. */
  lost: Promise<Error>;
  /** Whether other machines can reach the hub without a token: a non-loopback host or NATS server. */
  exposed(): boolean;
  /** Where the hub is reachable, for the warning about a missing token. */
  where: string;
}

/** The hub transport for `serve`: NATS with `nats`, WebSocket on `host`:`port` otherwise. */
export function hubTransportFor(
  options: NatsSettings & { nats: string | undefined; host: string; port: number },
  logger: Logger,
): ServedHub {
  if (options.nats !== undefined) {
    const nats = options.nats;
    const transport = usage(() => createNatsHubTransport({ servers: nats, ...natsOptions(options), logger }));
    const hosts = nats.split(",").map((u) => hostOf(u.trim()));
    return {
      transport,
      url: () => transport.url,
      lost: transport.lost,
      exposed: () => hosts.some((h) => !isLoopback(h)),
      where: `the NATS server ${transport.url} (subjects ${transport.subjectPrefix}.>)`,
    };
  }
  const transport = createWebSocketHubTransport({ host: options.host, port: options.port, logger });
  return {
    transport,
    url: () => transport.url,
    lost: new Promise(() => {}),
    exposed: () => !isLoopback(options.host),
    where: options.host,
  };
}

function natsOptions(options: NatsSettings) {
  return {
    ...(options.natsToken === undefined ? {} : { token: options.natsToken }),
    ...(options.natsCreds === undefined ? {} : { credsFile: options.natsCreds }),
    ...(options.subjectPrefix === undefined ? {} : { subjectPrefix: options.subjectPrefix }),
  };
}

/** Runs a transport factory; what it throws for bad settings (URL, prefix) is a usage error. */
function usage<T>(create: () => T): T {
  try {
    return create();
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return url;
  }
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
