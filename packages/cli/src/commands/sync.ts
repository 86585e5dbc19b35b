import { randomBytes } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import * as nodePath from "node:path";
import {
  type Client,
  type ClientClosed,
  type ClientTransport,
  createClient,
  createHub,
  createMemoryNetwork,
  type Hub,
  type HubTransport,
  type Logger,
} from "@distsync/core";
import { createCompressionPool, createNodeFileSystem, type NodeFileSystem } from "@distsync/core/node";
import { redactUrl } from "@distsync/transport-nats";
import { createWebSocketHubTransport, type WebSocketHubTransport } from "@distsync/transport-ws";
import type { SyncOptions } from "../args.js";
import { CliError, UsageError } from "../cli-error.js";
import { combineHubTransports } from "../combined-hub-transport.js";
import { aborted, atMost, type CommandContext, type Outcome } from "../command-context.js";
import { ExitCode, exitCodeFor } from "../exit-codes.js";
import { createCliLogger } from "../logger.js";
import type { Output } from "../output.js";
import { ProgressReporter, terminalLine } from "../progress.js";
import { startStatusFiles } from "../status-file.js";
import { transportForUrl } from "../transport-for-url.js";
import { reportHubEvents } from "./serve.js";

/** `--once`: how long every client must stay idle, with no change anywhere, before we stop. */
const ONCE_QUIET_MS = 150;
const ONCE_POLL_MS = 20;

interface Directory {
  /** As given on the command line (used in every event). */
  label: string;
  /** Absolute. */
  root: string;
}

interface Member {
  dir: Directory;
  fs: NodeFileSystem;
  /** Watch events still to be double-checked (see `withTrailingWatchEvents`). */
  watched: { readonly pendingChecks: number };
  transport: ClientTransport;
  client: Client;
}

/**
 * `distsync sync <dir>...`: one client per directory, against `--server` or an embedded hub, until
 * SIGINT/SIGTERM, `--once` is done, or a client stops for good.
 */
export async function sync(options: SyncOptions, context: CommandContext): Promise<Outcome> {
  const { output } = context;
  const logger = createCliLogger({ output, verbose: options.verbose });
  const ca = options.ca === undefined ? undefined : await readCa(options.ca, context.cwd);
  const server = options.server;
  const makeTransport = (log: Logger): ClientTransport =>
    transportForUrl(server as string, {
      logger: log,
      natsToken: options.natsToken,
      natsCreds: options.natsCreds,
      subjectPrefix: options.subjectPrefix,
      ...(ca === undefined ? {} : { ca }),
    });
  // A bad URL is a usage error, found before anything starts.
  if (server !== undefined) await makeTransport(logger).close?.();

  const dirs = await resolveDirectories(options.dirs, context.cwd);
  const members: Member[] = [];
  let hub: Hub | undefined;
  let lastChange = Date.now();
  let statusFiles: { stop(): Promise<void> } | undefined;
  // Never the password or token of a `nats://user:pass@…` URL in a message.
  let hubUrl = server === undefined ? "the embedded hub" : redactUrl(server);
  // Compression of large uploads, and the chunking and hashing of large files, run in worker
  // threads: the event loop stays free for heartbeats and other changes.
  const compressor = createCompressionPool();
  try {
    let local: (() => ClientTransport) | undefined;
    if (server === undefined) {
      const embedded = await startEmbeddedHub(options, output, logger, (id) =>
        members.some((m) => m.client.clientId === id),
      );
      hub = embedded.hub;
      local = embedded.clientTransport;
      if (embedded.ws) {
        hubUrl = embedded.ws.url;
        output.event({ event: "listening", url: embedded.ws.url });
      }
    }
    for (const dir of dirs) {
      const clientLog = createCliLogger({ output, verbose: options.verbose, context: { dir: dir.label } });
      const skipped = new Set<string>();
      const fs = await openDirectory(dir, (path, reason) => {
        if (skipped.has(path)) return;
        skipped.add(path);
        output.event({ event: "skipped", dir: dir.label, path, reason });
      });
      const transport = local ? local() : makeTransport(clientLog);
      const name = clientName(options.name, dir, dirs.length);
      const watched = {
        get pendingChecks() {
          return fs.pendingWatchChecks;
        },
      };
      const client = createClient({
        transport,
        fs,
        space: options.space,
        name,
        clientId: `${name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "client"}-${randomBytes(4).toString("hex")}`,
        conflicts: options.conflicts,
        compression: options.compression,
        reconnect: options.reconnect,
        logger: clientLog,
        encodeChunk: compressor.encode,
        chunkBlocks: compressor.chunkBlocks,
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
        ...(options.allowMassDelete ? { massDeletionGuard: false as const } : {}),
        ...(options.ignore.length > 0 ? { ignore: options.ignore } : {}),
      });
      members.push({ dir, fs, watched, transport, client });
      reportClientEvents(client, dir, name, output, () => {
        lastChange = Date.now();
      });
    }

    let settle!: (outcome: Outcome) => void;
    let settled = false;
    const finished = new Promise<Outcome>((resolve) => {
      settle = (outcome) => {
        settled = true;
        resolve(outcome);
      };
    });
    void aborted(context.signal).then(() => settle({ exitCode: ExitCode.ok, reason: "signal" }));
    /** The first client that stops on its own ends the run; the others are stopped cleanly. */
    const fail = (member: Member, closed: ClientClosed): void => {
      if (settled) return;
      const message = describeClose(member.dir, closed, hubUrl);
      // People get the stderr line at exit; scripts get the event too.
      if (output.json) {
        const generic = closed.reason === "error" || closed.reason === "protocol-error";
        const code = generic ? (closed.error?.code ?? closed.reason) : closed.reason;
        output.event({ event: "error", code, message, dir: member.dir.label });
      }
      output.event({ event: "closed", dir: member.dir.label, reason: closed.reason });
      settle({ exitCode: exitCodeFor(closed.reason), reason: closed.reason, message });
    };
    let open = members.length;
    for (const member of members) {
      void member.client.closed.then((closed) => {
        open--;
        if (closed.reason !== "stopped") fail(member, closed);
        else if (open === 0 && !settled) settle({ exitCode: ExitCode.ok, reason: "stopped" });
      });
    }
    const started = Promise.all(members.map((m) => m.client.start()));
    started.catch(() => {}); // a client that fails to start reports through `closed`
    // For `distsync wait <dir>`: how far each folder is, rewritten several times a second.
    statusFiles = startStatusFiles(
      members.map((m) => ({ root: m.dir.root, client: m.client, watched: m.watched })),
    );
    const progress = new ProgressReporter(
      members.map((m) => () => m.client.status().transfer),
      {
        mode: options.quiet ? "off" : output.json ? "json" : process.stderr.isTTY ? "tty" : "lines",
        sink: {
          show: (line) => terminalLine.show(line),
          clear: () => terminalLine.clear(),
          event: (event) => output.event(event),
        },
      },
    );
    const progressTimer = setInterval(() => progress.tick(), 100);
    if (options.once) {
      void started
        .then(() => waitQuiet(members, () => lastChange, context.signal))
        .then(
          () => settle({ exitCode: ExitCode.ok, reason: "once" }),
          () => {},
        );
    }
    const outcome = await finished;
    clearInterval(progressTimer);
    progress.stop();
    await statusFiles.stop();
    // A lost hub will not answer a goodbye, and transport-ws's close() waits up to 5 s for the close
    // handshake of a connection to a frozen hub: do not wait for that.
    await atMost(shutdown(members, hub), outcome.exitCode === ExitCode.hubUnreachable ? 250 : 10_000);
    await compressor.close();
    return outcome;
  } catch (error) {
    await statusFiles?.stop();
    await atMost(shutdown(members, hub), 10_000);
    await compressor.close();
    throw error;
  }
}

async function readCa(file: string, cwd: string): Promise<string> {
  try {
    return await readFile(nodePath.resolve(cwd, file), "utf8");
  } catch (error) {
    throw new UsageError(`cannot read the --ca file ${file}: ${(error as Error).message}`);
  }
}

/** Checks every directory before anything starts: missing → exit 4; the same or nested twice → 2. */
async function resolveDirectories(given: readonly string[], cwd: string): Promise<Directory[]> {
  const out: (Directory & { real: string })[] = [];
  for (const label of given) {
    const root = nodePath.resolve(cwd, label);
    let real: string;
    try {
      const stats = await stat(root);
      if (!stats.isDirectory()) throw new CliError(ExitCode.directoryMissing, `not a directory: ${label}`);
      real = await realpath(root);
    } catch (error) {
      if (error instanceof CliError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        throw new CliError(ExitCode.directoryMissing, `directory not found: ${label}`);
      }
      throw new CliError(
        ExitCode.directoryMissing,
        `cannot open the directory ${label}: ${(error as Error).message}`,
      );
    }
    for (const other of out) {
      if (other.real === real) throw new UsageError(`'${other.label}' and '${label}' are the same directory`);
      const [inner, outer] = isInside(real, other.real)
        ? [label, other.label]
        : isInside(other.real, real)
          ? [other.label, label]
          : [undefined, undefined];
      if (inner !== undefined) {
        throw new UsageError(`'${inner}' is inside '${outer}': the directories must not nest`);
      }
    }
    out.push({ label, root, real });
  }
  return out.map(({ label, root }) => ({ label, root }));
}

function isInside(child: string, parent: string): boolean {
  const rel = nodePath.relative(parent, child);
  return rel !== "" && !rel.startsWith("..") && !nodePath.isAbsolute(rel);
}

async function openDirectory(
  dir: Directory,
  onSkip: (path: string, reason: string) => void,
): Promise<NodeFileSystem> {
  try {
    // Test-only and undocumented for users: `DISTSYNC_TEST_NAME_RULES=win32` makes the client skip
    // received names Windows cannot hold (CON.txt, a:b…) on any OS, for end-to-end tests.
    const platform = process.env.DISTSYNC_TEST_NAME_RULES;
    return await createNodeFileSystem(dir.root, { onSkip, ...(platform ? { platform } : {}) });
  } catch (error) {
    throw new CliError(ExitCode.directoryMissing, `directory not found: ${dir.label}`, { cause: error });
  }
}

function clientName(name: string | undefined, dir: Directory, count: number): string {
  const base = nodePath.basename(dir.root) || "root";
  if (name === undefined) return base;
  return count > 1 ? `${name}-${base}` : name;
}

async function startEmbeddedHub(
  options: SyncOptions,
  output: Output,
  logger: Logger,
  isOwnClient: (clientId: string) => boolean,
): Promise<{ hub: Hub; clientTransport: () => ClientTransport; ws: WebSocketHubTransport | undefined }> {
  const network = createMemoryNetwork();
  const parts: HubTransport[] = [network.hubTransport()];
  const ws =
    options.port === undefined
      ? undefined
      : createWebSocketHubTransport({ host: options.host, port: options.port, logger });
  if (ws) parts.push(ws);
  const hub = createHub({
    transport: combineHubTransports(parts),
    logger,
    ...(options.token === undefined ? {} : { token: options.token }),
    heartbeat: { intervalMs: options.heartbeatMs, timeoutMs: options.timeoutMs },
  });
  reportHubEvents(hub, output, { changes: false, conflicts: false, skip: isOwnClient });
  try {
    await hub.start();
  } catch (error) {
    await atMost(hub.stop(), 2000);
    throw new CliError(ExitCode.error, (error as Error).message, { cause: error });
  }
  return { hub, clientTransport: () => network.clientTransport(), ws };
}

function reportClientEvents(
  client: Client,
  dir: Directory,
  name: string,
  output: Output,
  onChange: () => void,
): void {
  const label = dir.label;
  client.on("ready", ({ files }) => {
    output.event({ event: "ready", dir: label, root: dir.root, name, files });
  });
  client.on("change-sent", (change) => {
    onChange();
    output.event({
      event: "sent",
      dir: label,
      path: change.path,
      op: change.op,
      size: change.size,
      seq: change.seq,
    });
  });
  client.on("change-applied", (change) => {
    onChange();
    output.event({
      event: "applied",
      dir: label,
      path: change.path,
      op: change.op,
      size: change.size,
      seq: change.seq,
      origin: change.origin ?? "",
      cause: change.cause ?? "change",
    });
  });
  client.on("conflict", (conflict) => {
    onChange();
    output.event({
      event: "conflict",
      dir: label,
      path: conflict.path,
      winner: conflict.winner,
      loser: conflict.loser,
      ...(conflict.keptAs === undefined ? {} : { keptAs: conflict.keptAs }),
    });
  });
  client.on("error", (error) =>
    output.event({ event: "error", code: error.code, message: error.message, dir: label }),
  );
  client.on("connected", () => output.event({ event: "connected", dir: label }));
  client.on("disconnected", (reason) => output.event({ event: "disconnected", dir: label, reason }));
  client.on("reconnecting", ({ attempt, delayMs }) =>
    output.event({ event: "reconnecting", dir: label, attempt, delayMs }),
  );
}

/**
 * `--once`: resolves when every client has been idle (nothing pending, live) through a quiet
 * window with no change anywhere. Rejects when the run is aborted meanwhile.
 */
async function waitQuiet(
  members: readonly Member[],
  lastChange: () => number,
  signal: AbortSignal,
): Promise<void> {
  let quietSince: number | undefined;
  for (;;) {
    if (signal.aborted) throw new Error("aborted");
    const busy = members.some((m) => {
      const status = m.client.status();
      return status.state !== "live" || status.pending > 0 || m.watched.pendingChecks > 0;
    });
    const now = Date.now();
    if (busy) quietSince = undefined;
    else {
      quietSince ??= now;
      if (now - Math.max(quietSince, lastChange()) >= ONCE_QUIET_MS) return;
    }
    await new Promise((resolve) => setTimeout(resolve, ONCE_POLL_MS));
  }
}

/** A one-line explanation of why a client stopped, for stderr. */
function describeClose(dir: Directory, closed: ClientClosed, hubUrl: string): string {
  const detail = closed.error?.message;
  switch (closed.reason) {
    case "hub-unreachable":
      return detail ? `cannot reach the hub: ${detail}` : `cannot reach the hub at ${hubUrl}`;
    case "hub-lost":
      return `lost the hub at ${hubUrl}${detail ? `: ${detail.replace(/^hub lost: /, "")}` : ""}`;
    case "directory-removed":
      return `directory removed: ${dir.label} (stopped without sending deletions)`;
    case "auth-refused":
      return `authentication refused by the hub at ${hubUrl}: wrong or missing token (--token or DISTSYNC_TOKEN)`;
    case "protocol-error":
      return `protocol error with the hub at ${hubUrl}${detail ? `: ${detail}` : ""}`;
    default:
      return `${dir.label}: ${detail ?? closed.reason}`;
  }
}

/** Stops every client (they say bye), then the transports and the hub, and releases the directories. */
async function shutdown(members: readonly Member[], hub: Hub | undefined): Promise<void> {
  await Promise.allSettled(members.map((m) => m.client.stop()));
  await Promise.allSettled([
    ...members.map((m) => m.transport.close?.()),
    ...members.map((m) => m.fs.close()),
    hub && atMost(hub.stop(), 5000),
  ]);
}
