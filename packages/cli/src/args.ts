import { parseArgs } from "node:util";
import { UsageError } from "./cli-error.js";
import { type ConfigFile, readConfigFile } from "./config-file.js";

export type CommandName = "serve" | "sync" | "status" | "wait";
export type ConflictPolicy = "lww" | "keep";

interface CommonOptions {
  /** One JSON object per line on stdout instead of readable lines. */
  json: boolean;
  /** Only errors (stderr); no event lines. */
  quiet: boolean;
  /** Engine and transport logs down to debug, on stderr. */
  verbose: boolean;
  /** The hub's token (flag, then `DISTSYNC_TOKEN`, then the config file). */
  token: string | undefined;
  /** Hub heartbeat interval (serve, or the embedded hub of sync). */
  heartbeatMs: number | undefined;
  /** Hub heartbeat timeout (serve, or the embedded hub of sync). */
  timeoutMs: number | undefined;
  /** The NATS server's auth token (flag, then `DISTSYNC_NATS_TOKEN`, then the config file); NATS hubs only. */
  natsToken: string | undefined;
  /** A NATS `.creds` file; NATS hubs only. */
  natsCreds: string | undefined;
  /** The NATS subject prefix of the hub; NATS hubs only. */
  subjectPrefix: string | undefined;
}

export interface ServeOptions extends CommonOptions {
  command: "serve";
  host: string;
  port: number;
  /** The NATS server URL(s) to run the hub on instead of WebSocket (`--nats`). */
  nats: string | undefined;
  /** With `--nats`: serve the status page and metrics on this port (WebSocket hubs use `port`). */
  httpPort: number | undefined;
  /** With `--http-port`: the interface for it. */
  httpHost: string;
  /** Where the hub keeps its index and content across restarts; `undefined` keeps the index in memory. */
  stateDir: string | undefined;
  /** Days a deletion is remembered. */
  tombstoneDays: number;
  /** Connections the hub holds at once; one more is refused with `too-many-connections`. */
  maxConnections: number;
  /** A PEM certificate (chain) file: with `tlsKey`, the listener serves wss:// and https://. */
  tlsCert: string | undefined;
  /** The PEM private key file of `tlsCert`. */
  tlsKey: string | undefined;
}

export interface SyncOptions extends CommonOptions {
  command: "sync";
  /** The directories, as given. */
  dirs: string[];
  /** The hub URL; `undefined` runs an embedded hub. */
  server: string | undefined;
  space: string;
  once: boolean;
  reconnect: boolean;
  name: string | undefined;
  conflicts: ConflictPolicy;
  /** When uploads are compressed (`--compression`). */
  compression: "auto" | "always" | "never";
  /** Send deletions even when most files vanish at once (the mass-deletion guard off). */
  allowMassDelete: boolean;
  /** This client's own ignore patterns (`--ignore`, repeatable), on top of `.distsyncignore`. */
  ignore: string[];
  settleMs: number | undefined;
  /** A PEM file of the CA (or self-signed certificate) to trust for `wss://`. */
  ca: string | undefined;
  /** Where the embedded hub listens on WebSocket, when `port` is set. */
  host: string;
  port: number | undefined;
}

/** `distsync status`: asks a running hub for its status over HTTP. */
export interface StatusOptions extends CommonOptions {
  command: "status";
  /** The hub: its client URL (`ws://`, `wss://`) or its HTTP address (`http://`, `https://`). */
  server: string;
  /** A PEM file of the CA (or self-signed certificate) to trust for `wss://` and `https://`. */
  ca: string | undefined;
}

/** `distsync wait <dir>`: blocks until the folder's running `sync` has delivered every change. */
export interface WaitOptions extends CommonOptions {
  command: "wait";
  dirs: string[];
  /** Give up (exit 1) after this many seconds; `undefined` waits as long as it takes. */
  timeoutS: number | undefined;
}

export type CliCommand =
  | ServeOptions
  | SyncOptions
  | StatusOptions
  | WaitOptions
  | { command: "help"; topic: CommandName | undefined }
  | { command: "version" };

export interface ParseContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
}

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 7420;
export const DEFAULT_SPACE = "default";
export const DEFAULT_TOMBSTONE_DAYS = 30;
/** Connections a hub holds at once (`serve --max-connections`). */
export const DEFAULT_MAX_CONNECTIONS = 1000;

/** `list`: a string flag that may be repeated (in a config file: a string or an array of strings). */
type Kind = "string" | "boolean" | "integer" | "list";

interface OptionSpec {
  kind: Kind;
  commands: readonly CommandName[];
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** For `sync`: only meaningful for the embedded hub, so not allowed with `--server`. */
  embeddedHubOnly?: boolean;
  /** For `serve`: only meaningful for the WebSocket listener, so not allowed with `--nats`. */
  webSocketOnly?: boolean;
  /** Only meaningful for a hub on NATS (`serve --nats`, `sync --server nats://…`). */
  natsOnly?: boolean;
}

const BOTH: readonly CommandName[] = ["serve", "sync"];
const SYNC: readonly CommandName[] = ["sync"];
const SERVE: readonly CommandName[] = ["serve"];
const ALL: readonly CommandName[] = ["serve", "sync", "status"];
const SYNC_STATUS: readonly CommandName[] = ["sync", "status"];
const WAIT: readonly CommandName[] = ["wait"];

/** Every option that a flag or a config key can set. Names are the long flags. */
const SPECS = {
  host: { kind: "string", commands: BOTH, embeddedHubOnly: true, webSocketOnly: true },
  port: { kind: "integer", commands: BOTH, min: 0, max: 65535, embeddedHubOnly: true, webSocketOnly: true },
  token: { kind: "string", commands: ALL },
  "heartbeat-ms": { kind: "integer", commands: BOTH, min: 10, max: 3_600_000, embeddedHubOnly: true },
  "timeout-ms": { kind: "integer", commands: BOTH, min: 20, max: 86_400_000, embeddedHubOnly: true },
  json: { kind: "boolean", commands: [...ALL, "wait"] },
  quiet: { kind: "boolean", commands: ["serve", "sync", "wait"] },
  verbose: { kind: "boolean", commands: BOTH },
  server: { kind: "string", commands: SYNC_STATUS },
  space: { kind: "string", commands: SYNC },
  once: { kind: "boolean", commands: SYNC },
  reconnect: { kind: "boolean", commands: SYNC },
  name: { kind: "string", commands: SYNC },
  conflicts: { kind: "string", commands: SYNC, choices: ["lww", "keep"] },
  compression: { kind: "string", commands: SYNC, choices: ["auto", "always", "never"] },
  "settle-ms": { kind: "integer", commands: SYNC, min: 0, max: 60_000 },
  "allow-mass-delete": { kind: "boolean", commands: SYNC },
  ignore: { kind: "list", commands: SYNC },
  timeout: { kind: "integer", commands: WAIT, min: 0, max: 86_400 },
  ca: { kind: "string", commands: SYNC_STATUS },
  nats: { kind: "string", commands: SERVE },
  "state-dir": { kind: "string", commands: SERVE },
  "tombstone-days": { kind: "integer", commands: SERVE, min: 1, max: 36_500 },
  "max-connections": { kind: "integer", commands: SERVE, min: 1, max: 1_000_000 },
  "tls-cert": { kind: "string", commands: SERVE, webSocketOnly: true },
  "tls-key": { kind: "string", commands: SERVE, webSocketOnly: true },
  "nats-token": { kind: "string", commands: BOTH, natsOnly: true },
  "nats-creds": { kind: "string", commands: BOTH, natsOnly: true },
  "subject-prefix": { kind: "string", commands: BOTH, natsOnly: true },
  "http-port": { kind: "integer", commands: SERVE, min: 0, max: 65535, natsOnly: true },
  "http-host": { kind: "string", commands: SERVE, natsOnly: true },
} as const satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof SPECS;
type Value = string | number | boolean;

const OPTION_NAMES = Object.keys(SPECS) as OptionName[];

/** `heartbeat-ms` → `heartbeatMs`: config files may use either spelling. */
function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

const CONFIG_KEYS = new Map<string, OptionName>();
for (const name of OPTION_NAMES) {
  CONFIG_KEYS.set(name, name);
  CONFIG_KEYS.set(camel(name), name);
}

/**
 * Parses the command line, merges the config file and `DISTSYNC_TOKEN`, and validates the result.
 * Command-line flags win over the environment, which wins over the file, which wins over defaults.
 * Throws a {@link UsageError} for anything wrong.
 */
export async function parseCommandLine(argv: readonly string[], context: ParseContext): Promise<CliCommand> {
  const parsed = parseFlags(argv);
  const { values, positionals } = parsed;
  if (values.version === true) return { command: "version" };

  const [first, ...rest] = positionals;
  if (first === "help") {
    const topic = rest[0];
    if (topic !== undefined && !isCommand(topic))
      throw new UsageError(`no help for unknown command '${topic}'`);
    return { command: "help", topic };
  }
  if (values.help === true) {
    return { command: "help", topic: first !== undefined && isCommand(first) ? first : undefined };
  }
  if (first === undefined)
    throw new UsageError("missing command: use 'distsync serve' or 'distsync sync <dir>...'");
  if (!isCommand(first)) throw new UsageError(`unknown command '${first}'`);
  const command = first;

  const flags = new Map<OptionName, Value>();
  for (const name of OPTION_NAMES) {
    const raw = values[name];
    if (raw === undefined) continue;
    const spec: OptionSpec = SPECS[name];
    if (!spec.commands.includes(command)) throw new UsageError(`--${name} is not an option of '${command}'`);
    flags.set(name, fromFlag(name, raw));
  }

  const configPath = typeof values.config === "string" ? values.config : undefined;
  const config = await readConfigFile(configPath, context.cwd);
  const fromFile = config ? fromConfig(config, command) : new Map<OptionName, Value>();

  const merged = new Map<OptionName, Value>([...fromFile, ...flags]);
  const envToken = context.env.DISTSYNC_TOKEN;
  if (!flags.has("token") && envToken !== undefined && envToken !== "") merged.set("token", envToken);
  const envNatsToken = context.env.DISTSYNC_NATS_TOKEN;
  if (!flags.has("nats-token") && envNatsToken !== undefined && envNatsToken !== "") {
    merged.set("nats-token", envNatsToken);
  }

  const str = (name: OptionName): string | undefined => {
    const v = merged.get(name);
    return typeof v === "string" ? v : undefined;
  };
  const int = (name: OptionName): number | undefined => {
    const v = merged.get(name);
    return typeof v === "number" ? v : undefined;
  };
  const bool = (name: OptionName): boolean => merged.get(name) === true;

  const common: CommonOptions = {
    json: bool("json"),
    quiet: bool("quiet"),
    verbose: bool("verbose"),
    token: str("token"),
    heartbeatMs: int("heartbeat-ms"),
    timeoutMs: int("timeout-ms"),
    natsToken: str("nats-token"),
    natsCreds: str("nats-creds"),
    subjectPrefix: str("subject-prefix"),
  };
  if (common.quiet && common.verbose) throw new UsageError("--quiet and --verbose cannot be used together");
  const interval = common.heartbeatMs ?? 1000;
  if (common.timeoutMs !== undefined && common.timeoutMs <= interval) {
    throw new UsageError(
      `--timeout-ms (${common.timeoutMs}) must be greater than the heartbeat interval (${interval} ms)`,
    );
  }

  if (command === "serve") {
    if (rest.length > 0) throw new UsageError(`'serve' takes no arguments (got '${rest[0]}')`);
    const nats = str("nats");
    // As for `sync --server`, only flags conflict: a shared config file may hold both setups.
    if (nats !== undefined) rejectFlags(flags, "webSocketOnly", "sets up the WebSocket listener", "--nats");
    else rejectFlags(flags, "natsOnly", "applies to a hub on NATS", "--nats URL", "needs");
    return {
      command,
      ...common,
      host: str("host") ?? DEFAULT_HOST,
      port: int("port") ?? DEFAULT_PORT,
      nats,
      httpPort: int("http-port"),
      httpHost: str("http-host") ?? DEFAULT_HOST,
      stateDir: str("state-dir"),
      tombstoneDays: int("tombstone-days") ?? DEFAULT_TOMBSTONE_DAYS,
      maxConnections: int("max-connections") ?? DEFAULT_MAX_CONNECTIONS,
      ...tlsFiles(str("tls-cert"), str("tls-key")),
    };
  }

  if (command === "status") {
    if (rest.length > 0) throw new UsageError(`'status' takes no arguments (got '${rest[0]}')`);
    return {
      command,
      ...common,
      server: str("server") ?? `ws://${DEFAULT_HOST}:${DEFAULT_PORT}`,
      ca: str("ca"),
    };
  }

  if (command === "wait") {
    if (rest.length === 0)
      throw new UsageError("'wait' needs at least one directory: distsync wait <dir>...");
    return { command, ...common, dirs: rest, timeoutS: int("timeout") };
  }

  if (rest.length === 0) throw new UsageError("'sync' needs at least one directory: distsync sync <dir>...");
  const server = str("server");
  if (server !== undefined) {
    // Only flags conflict: a shared config file may well hold the hub settings of `serve`.
    rejectFlags(flags, "embeddedHubOnly", "sets up the embedded hub", "--server");
    common.heartbeatMs = undefined;
    common.timeoutMs = undefined;
  }
  if (server === undefined || !server.trim().toLowerCase().startsWith("nats:")) {
    rejectFlags(flags, "natsOnly", "applies to a hub on NATS", "--server nats://…", "needs");
  }
  return {
    command,
    ...common,
    dirs: rest,
    server,
    space: str("space") ?? DEFAULT_SPACE,
    once: bool("once"),
    reconnect: bool("reconnect"),
    name: str("name"),
    conflicts: str("conflicts") === "keep" ? "keep" : "lww",
    compression: (str("compression") ?? "auto") as SyncOptions["compression"],
    settleMs: int("settle-ms"),
    allowMassDelete: bool("allow-mass-delete") ?? false,
    ignore:
      str("ignore")
        ?.split("\n")
        .filter((p) => p.trim() !== "") ?? [],
    ca: str("ca"),
    host: server === undefined ? (str("host") ?? DEFAULT_HOST) : DEFAULT_HOST,
    port: server === undefined ? int("port") : undefined,
  };
}

/** `--tls-cert` and `--tls-key` come together or not at all. */
function tlsFiles(
  tlsCert: string | undefined,
  tlsKey: string | undefined,
): { tlsCert: string | undefined; tlsKey: string | undefined } {
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError(
      tlsCert === undefined
        ? "--tls-key needs --tls-cert (the certificate)"
        : "--tls-cert needs --tls-key (the private key)",
    );
  }
  return { tlsCert, tlsKey };
}

/** Throws a usage error for the first flag given whose spec has `property`. */
function rejectFlags(
  flags: ReadonlyMap<OptionName, Value>,
  property: "embeddedHubOnly" | "webSocketOnly" | "natsOnly",
  what: string,
  other: string,
  relation: "cannot be used with" | "needs" = "cannot be used with",
): void {
  for (const name of OPTION_NAMES) {
    const spec: OptionSpec = SPECS[name];
    if (spec[property] && flags.has(name)) {
      throw new UsageError(
        relation === "needs"
          ? `--${name} ${what}: it needs ${other}`
          : `--${name} ${what} and ${relation} ${other}`,
      );
    }
  }
}

function isCommand(word: string): word is CommandName {
  return word === "serve" || word === "sync" || word === "status" || word === "wait";
}

type ParseArgsOptions = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

function parseFlags(argv: readonly string[]) {
  const options: ParseArgsOptions = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean" },
    config: { type: "string" },
  };
  for (const name of OPTION_NAMES)
    options[name] = {
      type: SPECS[name].kind === "boolean" ? "boolean" : "string",
      multiple: SPECS[name].kind === "list",
    };
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    // node's messages are one line, but some append advice we do not need.
    const message = (error as Error).message.split("\n")[0] ?? "invalid arguments";
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ""));
  }
}

/** Checks a flag's text and converts it to the option's type. */
function fromFlag(name: OptionName, raw: string | boolean | (string | boolean)[]): Value {
  const spec: OptionSpec = SPECS[name];
  // Patterns cannot hold a newline (gitignore is line-based), so a list travels joined by one.
  if (spec.kind === "list") return (Array.isArray(raw) ? raw : [raw]).map(String).join("\n");
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (value === undefined) throw new UsageError(`--${name} needs a value`);
  if (spec.kind === "boolean") return value === true;
  const text = String(value);
  if (spec.kind === "integer") {
    if (!/^\d+$/.test(text))
      throw new UsageError(`--${name} must be ${describeInteger(spec)}, got '${text}'`);
    return checkValue(`--${name}`, spec, Number(text));
  }
  return checkValue(`--${name}`, spec, text);
}

/** Checks the config file's keys and types; keys for the other command are ignored. */
function fromConfig(config: ConfigFile, command: CommandName): Map<OptionName, Value> {
  const out = new Map<OptionName, Value>();
  const seen = new Map<OptionName, string>();
  for (const [key, value] of Object.entries(config.values)) {
    if (key === "$schema") continue;
    const name = CONFIG_KEYS.get(key);
    if (name === undefined) throw new UsageError(`${config.label}: unknown key "${key}"`);
    const other = seen.get(name);
    if (other !== undefined)
      throw new UsageError(`${config.label}: "${other}" and "${key}" set the same option`);
    seen.set(name, key);
    const spec: OptionSpec = SPECS[name];
    const where = `${config.label}: "${key}"`;
    const ok =
      spec.kind === "boolean"
        ? typeof value === "boolean"
        : spec.kind === "integer"
          ? typeof value === "number" && Number.isInteger(value)
          : spec.kind === "list"
            ? typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"))
            : typeof value === "string";
    if (!ok) throw new UsageError(`${where} must be ${describe(spec)}, got ${JSON.stringify(value)}`);
    if (!spec.commands.includes(command)) continue;
    if (spec.kind === "list") {
      out.set(name, (Array.isArray(value) ? value : [value]).join("\n"));
      continue;
    }
    out.set(name, checkValue(where, spec, value as Value));
  }
  return out;
}

function checkValue(where: string, spec: OptionSpec, value: Value): Value {
  if (typeof value === "number") {
    if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
      throw new UsageError(`${where} must be ${describeInteger(spec)}, got ${value}`);
    }
  } else if (typeof value === "string") {
    if (value === "") throw new UsageError(`${where} must not be empty`);
    if (spec.choices !== undefined && !spec.choices.includes(value)) {
      throw new UsageError(`${where} must be one of ${spec.choices.join(", ")}, got '${value}'`);
    }
  }
  return value;
}

function describe(spec: OptionSpec): string {
  if (spec.kind === "boolean") return "true or false";
  if (spec.kind === "integer") return describeInteger(spec);
  if (spec.kind === "list") return "a string or an array of strings";
  return spec.choices ? `one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}` : "a string";
}

function describeInteger(spec: OptionSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return `an integer from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return `an integer of at least ${spec.min}`;
  return "an integer";
}
