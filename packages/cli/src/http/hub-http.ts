import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Hub, Logger } from "@distsync/core";
import { createWebSocketHubTransport } from "@distsync/transport-ws";
import type { ServeOptions } from "../args.js";
import { atMost } from "../command-context.js";
import { hubTransportFor, isLoopback, type ServedHub } from "../transport-for-url.js";
import { HubMonitor } from "./hub-monitor.js";
import { listenHttp } from "./listen-http.js";
import { createStatusServer } from "./status-server.js";

/** What `serve` runs besides the hub: the transport it gives the hub, and the HTTP routes. */
export interface HubHttp {
  /** As from `hubTransportFor`, with a transport that counts every frame for the monitor. */
  served: ServedHub;
  /** The status page's URL when there is one (`http://HOST:PORT/`). */
  readonly pageUrl: string | undefined;
  /** Follows `hub` (call before `hub.start()`, so no event is missed). */
  attach(hub: Hub): void;
  /** Call once the hub listens: its client URL goes into the status. */
  started(): void;
  /** Ends the event streams and closes the HTTP server (after `hub.stop()`). */
  close(): Promise<void>;
}

/**
 * Sets up `serve`'s listener. On WebSocket, one `http.Server` on `--host`/`--port` carries both the
 * WebSocket hub (attached to it, so clients use the same URL as before) and the HTTP routes of
 * {@link createStatusServer}. A hub on NATS has no port of its own: it serves HTTP only with
 * `--http-port` (on `--http-host`).
 */
/** A certificate and its key, PEM, for serving wss:// and https:// (`serve --tls-cert/--tls-key`). */
export interface TlsFiles {
  cert: string;
  key: string;
}

export async function startHubHttp(options: ServeOptions, logger: Logger, tls?: TlsFiles): Promise<HubHttp> {
  const monitor = new HubMonitor();
  const status = createStatusServer({ monitor, token: options.token });
  let server: Server | undefined;
  let served: ServedHub;
  let pageUrl: string | undefined;
  if (options.nats === undefined) {
    // With a certificate the same port speaks TLS: wss:// for clients, https:// for the routes.
    server = tls === undefined ? createServer(status.handle) : createHttpsServer(tls, status.handle);
    const address = await listenHttp(server, options.host, options.port);
    const ws = createWebSocketHubTransport({ server, logger });
    served = {
      transport: ws,
      url: () => ws.url,
      lost: new Promise(() => {}),
      exposed: () => !isLoopback(options.host),
      where: options.host,
    };
    pageUrl = httpUrl(address.address, address.port, tls === undefined ? "http" : "https");
  } else {
    served = hubTransportFor(options, logger);
    if (options.httpPort !== undefined) {
      server = createServer(status.handle);
      const address = await listenHttp(server, options.httpHost, options.httpPort);
      pageUrl = httpUrl(address.address, address.port);
    }
  }
  const httpServer = server;
  return {
    served: { ...served, transport: monitor.instrument(served.transport) },
    pageUrl,
    attach: (hub) => monitor.attach(hub),
    started: () => monitor.setUrl(served.url()),
    async close() {
      status.close();
      if (httpServer?.listening) {
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeAllConnections();
        await atMost(closed, 2000);
      }
    },
  };
}

function httpUrl(host: string, port: number, scheme: "http" | "https" = "http"): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}
