import { readFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { createSecureContext } from "node:tls";
import { ConnectionError, createHub, type Hub, type Logger } from "@distsync/core";
import type { ServeOptions } from "../args.js";
import { CliError, UsageError } from "../cli-error.js";
import { aborted, atMost, type CommandContext, type Outcome } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";
import { startHubHttp, type TlsFiles } from "../http/hub-http.js";
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
  const tls = await readTlsFiles(options, context.cwd);
  const storage = await openHubStorage(options.stateDir, context.cwd);
  // The listener, and the HTTP routes (/, /status.json, /events, /metrics) on the same port.
  const web = await startHubHttp(options, logger, tls).catch(async (error: unknown) => {
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
    maxConnections: options.maxConnections,
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
  // A hub that can no longer record its index must not go on as if it could: exit 1, saying why.
  const stateFailed = new Promise<Error>((resolve) => {
    hub.on("error", (error) => {
      if (error.code === "state-write-failed") resolve(error);
    });
  });
  const lost = await Promise.race([
    aborted(context.signal).then(() => undefined),
    served.lost,
    stateFailed.then((error) => ({ stateFailed: error })),
  ]);
  await atMost(hub.stop(), 5000);
  await web.close();
  await storage.close();
  if (lost !== undefined && "stateFailed" in lost) {
    return { exitCode: ExitCode.error, reason: "state-write-failed", message: lost.stateFailed.message };
  }
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

/** Reads `--tls-cert`/`--tls-key` and checks they make a usable pair; any problem is a usage error. */
async function readTlsFiles(options: ServeOptions, cwd: string): Promise<TlsFiles | undefined> {
  if (options.tlsCert === undefined || options.tlsKey === undefined) return undefined;
  const read = async (flag: string, file: string): Promise<string> => {
    try {
      return await readFile(nodePath.resolve(cwd, file), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(`cannot read the ${flag} file ${file}${code === undefined ? "" : ` (${code})`}`);
    }
  };
  const files = {
    cert: await read("--tls-cert", options.tlsCert),
    key: await read("--tls-key", options.tlsKey),
  };
  try {
    createSecureContext(files);
  } catch (error) {
    throw new UsageError(
      `--tls-cert ${options.tlsCert} and --tls-key ${options.tlsKey} are not a usable PEM certificate and key: ${(error as Error).message}`,
    );
  }
  return files;
}

function warnOpen(logger: Logger, where: string): void {
  logger
    .child("distsync:cli")
    .warn(
      `listening on ${where} without a token: anyone who can connect can read and change the synced files (set --token or DISTSYNC_TOKEN)`,
    );
}
