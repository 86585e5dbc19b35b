import type { CommandName } from "./args.js";

const GENERAL = `distsync — keep directories on many machines identical

Usage:
  distsync serve [--host 127.0.0.1] [--port 7420] [--token T] [--json]
  distsync serve --nats nats://HOST:4222 [--token T] [--json]
  distsync sync <dir>... [--server URL] [--space NAME] [--token T] [--once] [--reconnect] [--json]
  distsync status [--server URL] [--token T] [--json]
  distsync wait <dir>... [--timeout S] [--json]
  distsync help [serve|sync|status|wait]
  distsync --version

Commands:
  serve   Run a hub, on WebSocket or (--nats) on a NATS server. Clients connect to it; it relays
          each change to the other clients of the same space.
  sync    Keep each <dir> in sync through a hub (--server URL), or, without --server, keep the
          given directories in sync with each other through a hub embedded in this process.
  status  Ask a running hub (serve) for its spaces, clients, files, conflicts and recent changes.
  wait    Block until the running 'sync' of each <dir> has delivered every local change: acknowledged
          by the hub and applied by every other connected client (distsync wait ./src && make test).

  A hub keeps its index in memory unless started with --state-dir (see distsync help serve).

Options for every command:
  --token T         The hub's token (prefer the DISTSYNC_TOKEN environment variable: a flag is
                    visible to other users in the process list).
  --json            One JSON object per line on stdout for every event, for scripts.
  --quiet           Leave out per-file and connection events; keep listening, ready, conflicts,
                    errors.
  --verbose         Also print engine and transport logs (debug level) on stderr.
  --config FILE     Read options from FILE instead of ./distsync.config.json.
  -h, --help        Show help (distsync help sync, distsync sync --help).
  --version         Print the version.

Configuration:
  Options are also read from distsync.config.json in the working directory, or from --config FILE:
  a JSON object whose keys are the long option names ("server", "space", "token", "host", "port",
  "once", "reconnect", "json", "quiet", "verbose", "conflicts", "compression", "name", "ca",
  "settle-ms", "heartbeat-ms", "timeout-ms", "nats", "nats-token", "nats-creds", "subject-prefix",
  "http-port", "http-host", "state-dir", "tombstone-days", "max-connections", "tls-cert",
  "tls-key", "allow-mass-delete", "ignore"; camelCase like "settleMs" works too). Keys of other commands are ignored (status reads "server", "token" and "ca"); an
  unknown key or a wrong type is an error. Command-line flags win over DISTSYNC_TOKEN (and DISTSYNC_NATS_TOKEN), which
  win over the file, which wins over the defaults. So {"server": "nats://hub.lan:4222"} in the
  file moves every client to NATS with no other change.

Exit codes:
  0  stopped by SIGINT/SIGTERM, or --once done (status: printed)
  1  unexpected error
  2  usage or configuration error
  3  hub unreachable or lost (serve --nats: the NATS server unreachable, or gone for good)
  4  directory missing or removed
  5  authentication refused (wrong or missing token)
  Every non-zero exit prints one line on stderr.

Run 'distsync help serve', 'distsync help sync' or 'distsync help status' for the options of each command.
`;

const SERVE = `Usage: distsync serve [options]
       distsync serve --nats nats://HOST:4222 [options]

Runs a hub on WebSocket until SIGINT or SIGTERM. When it is ready it prints
"listening on ws://HOST:PORT" (json: {"event":"listening","url":…}): the URL clients use.
With --tls-cert and --tls-key it speaks TLS and prints "listening on wss://HOST:PORT".

With --nats the hub runs on a NATS server instead and prints "listening on nats://HOST:PORT"
(credentials shown as ***); clients use that URL as --server. It survives a restart of the NATS
server (clients reconnect with --reconnect) and exits 3 only if the NATS connection ends for good.

Without --state-dir the hub keeps its index in memory (content goes to a temporary directory
that is removed when it stops): a restarted hub starts empty and the clients re-seed it from
their directories when they join. With --state-dir the index, the deletions and the content are
kept on disk (crash-safe: no change the hub acknowledged is lost, even to kill -9), and clients
re-join a restarted hub where they left off.

Options:
  --host HOST          Interface to listen on. Default 127.0.0.1 (this machine only); use
                       0.0.0.0 or :: to let other machines connect (then set a token).
  --port N             TCP port, 0 picks a free one. Default 7420.
  --token T            Clients must present this token. Default: none. Also DISTSYNC_TOKEN.
  --nats URL           Run on this NATS server (nats://[user:pass@]host:port; several, comma-
                       separated, for a cluster) instead of listening on --host/--port.
  --nats-token T       The NATS server's auth token (not DistSync's --token). Also
                       DISTSYNC_NATS_TOKEN.
  --nats-creds FILE    A NATS .creds file (JWT and NKey seed) to authenticate with.
  --subject-prefix P   The NATS subjects to use: P.hub.connect, P.hub.c.*, P.client.*.
                       Default "distsync". Clients must use the same.
  --http-port N        With --nats: serve the status page, /status.json and /metrics on this
                       port (0 picks a free one). On WebSocket they are on --port already.
  --http-host HOST     With --http-port: the interface for it. Default 127.0.0.1.
  --state-dir DIR      Keep the index, deletions and content in DIR across restarts (one hub
                       per directory). Default: the index in memory.
  --tombstone-days N   How long a deletion is remembered; a client offline for longer may bring
                       a deleted file back. Default 30.
  --max-connections N  Connections held at once, joined or not; one more is refused with
                       too-many-connections (a client with --reconnect retries). Default 1000.
  --tls-cert FILE      Serve wss:// (and https:// for the routes below) with this PEM
                       certificate (chain); needs --tls-key. Clients of a private or self-signed
                       certificate pass it to 'sync --ca FILE'. Not with --nats.
  --tls-key FILE       The PEM private key of --tls-cert.
  --heartbeat-ms N     How often hub and clients ping each other. Default 1000.
  --timeout-ms N       Silence after which a peer counts as lost. Default 5000. Must be greater
                       than the heartbeat interval.
  --json, --quiet, --verbose, --config FILE   As for every command (distsync --help).

Events (--json): listening, joined, left, change, conflict, error, log, stopped.

HTTP on the same port (ws://HOST:PORT is also http://HOST:PORT; wss:// is https://):
  /              A live status page: spaces, clients, files, conflicts, recent changes and a
                 throughput chart (no external assets).
  /status.json   The same status as JSON (what 'distsync status' reads); /events streams it
                 (server-sent events).
  /metrics       Prometheus metrics: clients, files, changes, conflicts, bytes in and out,
                 compression and dedupe savings, propagation latency, all labelled by space.
  With --token every route needs it: 'Authorization: Bearer T', or open /?token=T once in a
  browser (it sets an HttpOnly cookie). Without it: HTTP 401.
  A hub on NATS has no port: --http-port N [--http-host HOST] serves these routes there
  (default host 127.0.0.1; the page's URL is printed on stderr).
`;

const STATUS = `Usage: distsync status [--server URL] [--token T] [--json]

Asks a running hub for its status over HTTP (GET /status.json on the hub's port) and prints its
spaces; the connected clients (name, address, connected since, last heartbeat, and how many
committed changes the hub has not yet sent them); file counts and bytes; conflicts; and the
recent changes. Exits 0 after printing.

Options:
  --server URL         The hub: ws://host:port or wss://host:port (the URL clients use; status
                       asks http:// or https:// on the same port), or http(s)://host:port of a
                       hub on NATS started with --http-port. Default ws://127.0.0.1:7420. A
                       nats:// URL is a usage error: status needs the hub's HTTP port.
  --token T            The hub's token. Also DISTSYNC_TOKEN.
  --ca FILE            For wss:// and https://: a PEM file with the CA to trust.
  --json               Print the status object (the JSON of /status.json) on one line.
  --config FILE        As for every command ("server", "token" and "ca" are read from it).

Exit codes: 0 printed, 2 usage, 3 hub unreachable, 5 token refused, 1 anything else.
`;

const SYNC = `Usage: distsync sync <dir>... [options]

Keeps each <dir> in sync with the other clients of a space. After the first reconciliation of a
directory it prints "ready <dir> (N files)" (json: {"event":"ready","dir":…}).

Without --server, a hub runs inside this process and the given directories are kept in sync with
each other through it (in memory); with --port it also listens on WebSocket so that other machines
can join (it prints the listening line then). The embedded hub keeps its state in memory only
(for a persistent hub, run 'distsync serve --state-dir DIR').

Each client keeps the index it agreed with the hub in <dir>/.distsync/ (never synced), so changes
made while it was stopped, deletions included, are sent at its next start. While many files or
large ones move, it shows progress: a status line on a terminal, a "progress" line every 2 s
otherwise, a {"event":"progress",…} object every second with --json, nothing with --quiet.

Options:
  --server URL         The hub: ws://host:port, wss://host:port, or nats://host:port for a hub
                       on a NATS server (serve --nats). Default: an embedded hub.
  --space NAME         The sync space to join. Default "default".
  --token T            The hub's token. Also DISTSYNC_TOKEN.
  --once               Reconcile once, wait until nothing is pending, then exit 0.
  --reconnect          Survive the loss of the hub: reconnect with backoff and join again.
                       Without it, losing the hub exits with code 3.
  --name NAME          This client's name in logs, at the hub, and in conflict file names.
                       Default: the directory's base name (with several directories, NAME-base).
  --conflicts lww|keep lww (default): a losing version is overwritten by the newer one. keep: the
                       losing version is first saved as name.conflict-<client>-<time>.ext.
  --compression auto|always|never
                       auto (default): deflate uploaded content (in worker threads) unless a
                       sample shows it does not compress. always: deflate whatever saves 5 %.
                       never: send raw bytes (a fast link where the CPU is the bottleneck).
  --settle-ms N        Quiet time a changed file needs before it is read and sent. Default 5
                       (a file above 64 KiB, or empty, modified in the last 50 ms waits for 50
                       quiet ms).
  --ignore PATTERN     Leave paths matching PATTERN (gitignore syntax) alone in this folder only;
                       repeat for several. Rules every client shares go in .distsyncignore at the
                       top of the folder (it syncs; a change applies at once). .git/ is ignored
                       by default ("!.git/" in .distsyncignore syncs it).
  --allow-mass-delete  Send deletions even when most files vanish at once. By default, when 20 or
                       more files and over half of the folder disappear together (emptied,
                       unmounted), the deletions are held and an error says so; files that
                       come back simply sync again.
  --ca FILE            For wss://: a PEM file with the CA (or self-signed certificate) to trust.
  --nats-token T, --nats-creds FILE, --subject-prefix P
                       For nats:// only, as for 'serve' (DISTSYNC_NATS_TOKEN too).
  --host HOST, --port N, --heartbeat-ms N, --timeout-ms N
                       For the embedded hub only (not with --server), as for 'serve'. Without
                       --port the embedded hub listens on nothing but memory.
  --json, --quiet, --verbose, --config FILE   As for every command (distsync --help).

Events (--json): listening, ready, sent, applied, conflict, error, skipped, connected,
disconnected, reconnecting, closed, joined, left, log, stopped. For example
  {"event":"sent","dir":"./a","path":"docs/a.txt","op":"write","size":1234,"seq":7}
  {"event":"applied","dir":"./a","path":"b.txt","op":"delete","size":0,"seq":8,"origin":"laptop-1f2e3d4c","cause":"change"}

Examples:
  distsync sync ./a ./b                                  two local directories
  distsync serve --host 0.0.0.0 --token s3cret           on the hub machine
  DISTSYNC_TOKEN=s3cret distsync sync ~/notes --server ws://hub.lan:7420 --reconnect
  distsync serve --nats nats://nats.lan:4222 --token s3cret       a hub on NATS
  distsync sync ~/notes --server nats://nats.lan:4222 --token s3cret --reconnect
`;

const WAIT = `Usage: distsync wait <dir>... [--timeout S] [--json] [--quiet]

Blocks until the 'distsync sync' running for each <dir> has nothing pending and the hub reports that
every other connected client has applied the folder's latest change; then prints "synced <dir>"
(json: {"event":"synced","dir":…}) and exits 0. Changes made up to the moment 'wait' starts are
included. It reads the status the running 'sync' keeps in <dir>/.distsync/status.json.

Options:
  --timeout S          Give up after S seconds with exit code 1. Default: wait as long as it takes.
  --json, --quiet      As for every command.

Exit codes: 0 synced · 1 timed out or interrupted · 2 no 'distsync sync' running for <dir> ·
4 <dir> missing.
`;

/** The help text for `topic` (or the general one). */
export function helpText(topic: CommandName | undefined): string {
  if (topic === "serve") return SERVE;
  if (topic === "sync") return SYNC;
  if (topic === "status") return STATUS;
  if (topic === "wait") return WAIT;
  return GENERAL;
}
