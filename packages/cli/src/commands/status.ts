import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import * as nodePath from "node:path";
import type { StatusOptions } from "../args.js";
import { CliError, UsageError } from "../cli-error.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";
import type { ClientStatus, StatusSnapshot } from "../http/hub-monitor.js";
import { formatBytes, shortOrigin } from "../output.js";
import { displayPath, displayText, jsonLine } from "../terminal-text.js";

const TIMEOUT_MS = 10_000;

/**
 * `distsync status`: reads the hub's `/status.json` over HTTP (the hub serves it on its WebSocket
 * port) and returns the text to print: readable lines, or with `--json` the object on one line.
 * An unreachable hub is exit code 3 and a refused token 5, as for `sync`.
 */
export async function status(options: StatusOptions, context: CommandContext): Promise<string> {
  const url = statusUrl(options.server);
  const ca = options.ca === undefined ? undefined : await readCa(options.ca, context.cwd);
  const snapshot = await fetchStatus(url, options.token, ca, context.signal);
  return options.json ? `${jsonLine(snapshot)}\n` : formatStatus(snapshot);
}

/** `ws://h:p/x` → `http://h:p/x/status.json`, `wss://` → `https://`; `http(s)://` as given. */
export function statusUrl(server: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(server);
  } catch {
    throw new UsageError(`invalid hub URL '${server}': expected ws://host:port or http://host:port`);
  }
  switch (parsed.protocol) {
    case "ws:":
    case "http:":
      parsed.protocol = "http:";
      break;
    case "wss:":
    case "https:":
      parsed.protocol = "https:";
      break;
    case "nats:":
      throw new UsageError(
        "a hub on NATS has no HTTP address of its own: start it with 'distsync serve --nats URL --http-port N' and run 'distsync status --server http://HOST:N'",
      );
    default:
      throw new UsageError(
        `unsupported hub URL scheme '${parsed.protocol}': use ws://, wss://, http:// or https://`,
      );
  }
  parsed.username = "";
  parsed.password = "";
  parsed.search = "";
  parsed.hash = "";
  if (!parsed.pathname.endsWith("/")) parsed.pathname += "/";
  return new URL("status.json", parsed);
}

async function readCa(file: string, cwd: string): Promise<string> {
  try {
    return await readFile(nodePath.resolve(cwd, file), "utf8");
  } catch (error) {
    throw new UsageError(`cannot read the --ca file ${file}: ${(error as Error).message}`);
  }
}

/** GET with node:http(s) rather than fetch: `--ca` needs the `ca` option. */
function fetchStatus(
  url: URL,
  token: string | undefined,
  ca: string | undefined,
  signal: AbortSignal,
): Promise<StatusSnapshot> {
  const where = url.origin;
  const get = url.protocol === "https:" ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const request = get(
      url,
      {
        headers: {
          accept: "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        timeout: TIMEOUT_MS,
        signal,
        ...(ca === undefined ? {} : { ca }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => reject(unreachable(where, error)));
        response.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const code = response.statusCode ?? 0;
          if (code === 401) {
            reject(
              new CliError(
                ExitCode.authRefused,
                `the hub at ${where} refused the token: wrong or missing token (--token or DISTSYNC_TOKEN)`,
              ),
            );
            return;
          }
          if (code !== 200) {
            reject(
              new CliError(
                ExitCode.error,
                `the hub at ${where} answered HTTP ${code} for ${url.pathname}: is it a distsync hub of this version?`,
              ),
            );
            return;
          }
          try {
            const parsed = JSON.parse(body) as StatusSnapshot;
            if (parsed?.version !== 1 || !Array.isArray(parsed.spaces))
              throw new Error("not a status object");
            resolve(parsed);
          } catch (error) {
            reject(
              new CliError(ExitCode.error, `unexpected answer from ${where}: ${(error as Error).message}`),
            );
          }
        });
      },
    );
    request.on("timeout", () => {
      request.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS} ms`), { code: "ETIMEDOUT" }));
    });
    request.on("error", (error) => reject(unreachable(where, error)));
  });
}

function unreachable(where: string, error: NodeJS.ErrnoException): CliError {
  const reason =
    error.code === "ECONNREFUSED"
      ? "connection refused (ECONNREFUSED)"
      : error.code === "ENOTFOUND" || error.code === "EAI_AGAIN"
        ? `host not found (${error.code})`
        : error.code === undefined
          ? error.message
          : `${error.message} (${error.code})`;
  return new CliError(ExitCode.hubUnreachable, `cannot reach the hub at ${where}: ${reason}`, {
    cause: error,
  });
}

/** The readable report. Every name and path comes from remote clients: all go through displayPath. */
export function formatStatus(s: StatusSnapshot): string {
  const now = s.hub.now;
  const lines: string[] = [];
  const clients = s.spaces.reduce((n, sp) => n + sp.clients.length, 0);
  // Changes name their origin by client id: show a connected client's name instead.
  const names = new Map(s.spaces.flatMap((sp) => sp.clients.map((c) => [c.clientId, c.name] as const)));
  const who = (origin: string) => displayPath(names.get(origin) ?? shortOrigin(origin));
  lines.push(
    `hub ${displayText(s.hub.url)}: up ${duration(now - s.hub.startedAt)}, ${plural(clients, "client")}, ${plural(s.spaces.length, "space")}`,
  );
  if (s.spaces.length === 0) lines.push("no space yet: no client has joined");
  for (const space of s.spaces) {
    lines.push(
      `space ${displayPath(space.name)}: ${plural(space.files, "file")}, ${formatBytes(space.bytes)}, seq ${space.seq}, ${plural(space.changes, "change")} and ${plural(space.conflicts, "conflict")} since the hub started`,
    );
    if (space.clients.length === 0) lines.push("  no client connected");
    for (const client of space.clients) lines.push(`  ${clientLine(client, now)}`);
  }
  lines.push(s.recentChanges.length === 0 ? "recent changes: none" : "recent changes (newest last):");
  for (const c of s.recentChanges) {
    const what = c.op === "write" ? `write, ${formatBytes(c.size)}` : c.op;
    lines.push(
      `  ${time(c.time)} ${displayPath(c.space)} ${displayPath(c.path)} (${what}, seq ${c.seq}, from ${who(c.origin)})`,
    );
  }
  lines.push(s.recentConflicts.length === 0 ? "conflicts: none" : "conflicts (newest last):");
  for (const c of s.recentConflicts) {
    lines.push(
      `  ${time(c.time)} ${displayPath(c.space)} ${displayPath(c.path)}: ${who(c.winner.origin)}'s version (${time(c.winner.mtimeMs)}) beat ${who(c.loser.origin)}'s (${time(c.loser.mtimeMs)})`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function clientLine(c: ClientStatus, now: number): string {
  const name = displayPath(c.name ?? shortOrigin(c.clientId));
  const from = c.address === null ? "" : ` from ${displayText(c.address)}`;
  const state =
    c.state === "joining"
      ? "joining"
      : c.behind === null || c.behind === 0
        ? "up to date"
        : `${plural(c.behind, "change")} behind`;
  return `${name} (${displayPath(c.clientId)})${from}: connected since ${time(c.connectedAt)} (${duration(now - c.connectedAt)} ago), last heartbeat ${duration(now - c.lastSeen)} ago, ${state}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

function time(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime())
    ? String(ms)
    : d
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}
