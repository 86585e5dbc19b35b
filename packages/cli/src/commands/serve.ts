import { ConnectionError, createHub, type Hub, type Logger } from "@distsync/core";
import type { ServeOptions } from "../args.js";
import { CliError } from "../cli-error.js";
import { aborted, atMost, type CommandContext, type Outcome } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";
import { startHubHttp } from "../http/hub-http.js";
import { openHubStorage } from "../hub-storage.js";
import { createCliLogger } from "../logger.js";
import type { Output } from "../output.js";

/**
 * `distsync serve`: a hub on WebSocket, or on a NATS server with `--nats`, until SIGINT/SIGTERM (or,
 * on NATS, until the NATS connection is gone for good: exit 3).
 */
export async function serve(options: ServeOptions, context: CommandContext): Promise<Outcome> {
  const { output } = context;
  const logger = createCliLogger({ output, verbose: options.verbose });
  const storage = await openHubStorage(options.stateDir, context.cwd);
  // The listener, and the HTTP routes (/, /status.json, /events, /metrics) on the same port.
  const web = await startHubHttp(options, logger).catch(async (error: unknown) => {
    await storage.close();
    throw error;
  });
  const { served } = web;
  const { transport } = served;
  const hub = createHub({
    transport,
    logger,
    store: storage.store,
    ...(storage.journal === undefined ? {} : { journal: storage.journal }),
    tombstoneRetentionMs: options.tombstoneDays * 24 * 3600 * 1000,
    ...(options.token === undefined ? {} : { token: options.token }),
    heartbeat: { intervalMs: options.heartbeatMs, timeoutMs: options.timeoutMs },
  });
  reportHubEvents(hub, output, { changes: true, conflicts: true, skip: () => false });
  web.attach(hub);
  try {
    await hub.start();
  } catch (error) {
    await atMost(hub.stop(), 2000);
    await web.close();
    await storage.close();
    // A NATS server that cannot be reached is the hub's "unreachable" (3); a port in use is not.
    const unreachable = options.nats !== undefined && ConnectionError.isInstance(error);
    throw new CliError(unreachable ? ExitCode.hubUnreachable : ExitCode.error, (error as Error).message, {
      cause: error,
    });
  }
  if (options.token === undefined && served.exposed()) warnOpen(logger, served.where);
  web.started();
  output.event({ event: "listening", url: served.url() });
  // A hub on NATS has no URL of its own for the page (--http-port): say where it is.
  if (options.nats !== undefined && web.pageUrl !== undefined) output.note(`status page on ${web.pageUrl}`);
  const lost = await Promise.race([aborted(context.signal).then(() => undefined), served.lost]);
  await atMost(hub.stop(), 5000);
  await web.close();
  await storage.close();
  if (lost !== undefined) {
    return { exitCode: ExitCode.hubUnreachable, reason: "nats-lost", message: lost.message };
  }
  return { exitCode: ExitCode.ok, reason: "signal" };
}

export interface HubReportOptions {
  /** Report every committed change (serve) or not (sync: its clients report their own). */
  changes: boolean;
  conflicts: boolean;
  /** Leave out joins and leaves of these client ids (sync's own clients). */
  skip: (clientId: string) => boolean;
}

/** Turns a hub's events into CLI events. */
export function reportHubEvents(hub: Hub, output: Output, options: HubReportOptions): void {
  hub.on("client-joined", (client) => {
    if (options.skip(client.clientId)) return;
    output.event({
      event: "joined",
      space: client.space,
      client: client.clientId,
      ...(client.name === undefined ? {} : { name: client.name }),
      ...(client.address === undefined ? {} : { address: client.address }),
    });
  });
  hub.on("client-left", (client, reason) => {
    if (options.skip(client.clientId)) return;
    output.event({
      event: "left",
      space: client.space,
      client: client.clientId,
      ...(client.name === undefined ? {} : { name: client.name }),
      reason,
    });
  });
  if (options.changes) {
    hub.on("change", (space, entry) => {
      output.event({
        event: "change",
        space,
        path: entry.path,
        op: entry.deleted ? "delete" : entry.kind === "directory" ? "mkdir" : "write",
        size: entry.size,
        seq: entry.seq,
        origin: entry.origin,
      });
    });
  }
  if (options.conflicts) {
    hub.on("conflict", (conflict) => {
      output.event({
        event: "conflict",
        space: conflict.space,
        path: conflict.path,
        winner: { origin: conflict.winner.origin, mtimeMs: conflict.winner.mtimeMs },
        loser: { origin: conflict.loser.origin, mtimeMs: conflict.loser.mtimeMs },
      });
    });
  }
  hub.on("error", (error) => output.event({ event: "error", code: error.code, message: error.message }));
}

function warnOpen(logger: Logger, where: string): void {
  logger
    .child("distsync:cli")
    .warn(
      `listening on ${where} without a token: anyone who can connect can read and change the synced files (set --token or DISTSYNC_TOKEN)`,
    );
}
