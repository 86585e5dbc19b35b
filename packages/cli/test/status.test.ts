// `distsync status` and the hub's HTTP routes (/status.json, /metrics, the token), against a real
// `distsync serve` and real clients, over HTTP on 127.0.0.1.
import { mkdir, rename, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CliProcess,
  killAll,
  makeTempDir,
  removeTempDirs,
  spawnCli,
  startClient,
  startHub,
  stderrLines,
} from "./helpers/cli.js";
import { currentNatsServer, nats, TRANSPORTS } from "./helpers/transports.js";
import { waitUntil } from "./helpers/tree.js";

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

const TOKEN = "s3cret";
const NO_ENV_TOKEN = { DISTSYNC_TOKEN: undefined };

/** Runs `distsync status …` to the end; returns its exit code, stdout and stderr lines. */
async function runStatus(args: readonly string[]) {
  const proc = spawnCli(["status", ...args], { json: false, env: NO_ENV_TOKEN });
  const exit = await proc.waitForExit(20_000);
  return { code: exit.code, stdout: proc.stray.join("\n"), stderr: stderrLines(proc) };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, redirect: "manual" });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** A hub with a token and two clients, `alpha` (holding `a.txt`) and `beta`, converged. */
async function hubWithTwoClients() {
  const root = await makeTempDir();
  const a = nodePath.join(root, "a");
  const b = nodePath.join(root, "b");
  await mkdir(a);
  await mkdir(b);
  await writeFile(nodePath.join(a, "a.txt"), "hello from alpha\n");
  const { hub, url, port } = await startHub(["--token", TOKEN]);
  const opts = ["--token", TOKEN];
  const alpha = await startClient(a, url, [...opts, "--name", "alpha"], { env: NO_ENV_TOKEN });
  const beta = await startClient(b, url, [...opts, "--name", "beta"], { env: NO_ENV_TOKEN });
  await beta.waitForEvent((e) => e.event === "applied" && e.path === "a.txt", 15_000, "beta to get a.txt");
  return { hub, url, http: `http://127.0.0.1:${port}`, root, a, b, alpha, beta };
}

interface Snapshot {
  version: number;
  hub: { url: string };
  spaces: {
    name: string;
    files: number;
    bytes: number;
    changes: number;
    clients: { name: string; address: string; state: string; behind: number | null; lastSeen: number }[];
  }[];
  recentChanges: { path: string; op: string }[];
}

describe("distsync status", () => {
  it("prints spaces, clients, files and recent changes; --json prints the status object", async () => {
    const { url, a } = await hubWithTwoClients();
    await writeFile(nodePath.join(a, "second.txt"), "2\n");

    let snapshot: Snapshot | undefined;
    await waitUntil(
      async () => {
        const run = await runStatus(["--server", url, "--token", TOKEN, "--json"]);
        expect(run.code).toBe(0);
        expect(run.stderr).toEqual([]);
        snapshot = JSON.parse(run.stdout) as Snapshot;
        const space = snapshot.spaces[0];
        return space?.files === 2 && space.clients.every((c) => c.behind === 0);
      },
      20_000,
      "the status to show both files and both clients up to date",
      () => JSON.stringify(snapshot),
    );
    const space = snapshot!.spaces[0]!;
    expect(snapshot!.version).toBe(1);
    expect(snapshot!.hub.url).toBe(url);
    expect(space.name).toBe("default");
    expect(space.bytes).toBe("hello from alpha\n".length + 2);
    expect(space.changes).toBe(2);
    expect(space.clients.map((c) => c.name).sort()).toEqual(["alpha", "beta"]);
    for (const c of space.clients) {
      expect(c.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(c.state).toBe("live");
    }
    expect(snapshot!.recentChanges.map((c) => c.path)).toEqual(["a.txt", "second.txt"]);

    const human = await runStatus(["--server", url, "--token", TOKEN]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^hub ws:\/\/127\.0\.0\.1:\d+: up .*, 2 clients, 1 space$/m);
    expect(human.stdout).toMatch(/^space default: 2 files, 19 B, seq 2, 2 changes and 0 conflicts/m);
    expect(human.stdout).toMatch(
      /^ {2}alpha \(alpha-[0-9a-f]{8}\) from 127\.0\.0\.1:\d+: connected since .* last heartbeat .* ago, up to date$/m,
    );
    expect(human.stdout).toMatch(/^ {2}beta \(beta-/m);
    expect(human.stdout).toMatch(/^ {2}\S+ \S+ default second\.txt \(write, 2 B, seq 2, from alpha\)$/m);
    expect(human.stdout).toMatch(/^conflicts: none$/m);
  });

  it("exits 5 for a wrong or missing token, 3 when no hub listens, 2 for a NATS URL or an argument", async () => {
    const { url } = await hubWithTwoClients();
    const wrong = await runStatus(["--server", url, "--token", "nope"]);
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toEqual([
      expect.stringMatching(/^distsync: the hub at http:\/\/127\.0\.0\.1:\d+ refused the token/),
    ]);
    expect((await runStatus(["--server", url])).code).toBe(5);

    // A port nothing listens on: a hub that stopped.
    const { hub, url: goneUrl } = await startHub();
    hub.kill("SIGTERM");
    await hub.waitForExit();
    const gone = await runStatus(["--server", goneUrl]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toEqual([expect.stringMatching(/^distsync: cannot reach the hub at .*ECONNREFUSED/)]);

    const natsUrl = await runStatus(["--server", "nats://127.0.0.1:4222"]);
    expect(natsUrl.code).toBe(2);
    expect(natsUrl.stderr).toEqual([expect.stringMatching(/--http-port/)]);
    expect((await runStatus(["extra"])).code).toBe(2);
    expect((await runStatus(["--quiet"])).code).toBe(2);
  });
});

describe("the hub's HTTP routes", () => {
  it("need the token: 401 with a message without it, a Bearer header or a ?token= cookie with it", async () => {
    const { http } = await hubWithTwoClients();
    for (const path of ["/", "/status.json", "/metrics", "/events"]) {
      const denied = await get(`${http}${path}`);
      expect(denied.status, path).toBe(401);
      expect(denied.body).toMatch(/needs its token.*Authorization: Bearer.*\?token=/);
    }
    const wrong = await get(`${http}/status.json`, { authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatch(/Wrong token/);

    const ok = await get(`${http}/status.json`, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^application\/json/);

    // The browser way: ?token= once sets an HttpOnly cookie and drops the token from the URL.
    const login = await get(`${http}/?token=${TOKEN}`);
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/");
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    const withCookie = await get(`${http}/`, { cookie: cookie.split(";")[0]! });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get("content-type")).toMatch(/^text\/html/);
    expect(withCookie.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    // Self-contained: no external script, style, image or font.
    expect(withCookie.body).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect((await get(`${http}/status.json`, { cookie: "distsync_status=forged" })).status).toBe(401);

    expect((await get(`${http}/nope`, { authorization: `Bearer ${TOKEN}` })).status).toBe(404);
  });

  it("serves Prometheus metrics labelled by space: clients, files, changes, bytes, savings, latency", async () => {
    const { http, root, a, beta } = await hubWithTwoClients();
    // Written beside, then renamed in: one version each, however slow the disk (exact counts below).
    const put = async (name: string, data: string) => {
      await writeFile(nodePath.join(root, name), data);
      await rename(nodePath.join(root, name), nodePath.join(a, name));
    };
    // Compressible content over one chunk, then a copy of it: compression and dedupe both save.
    const text = "the same line again and again\n".repeat(40_000);
    await put("big.txt", text);
    await beta.waitForEvent((e) => e.event === "applied" && e.path === "big.txt", 20_000, "big.txt at beta");
    await put("copy.txt", text);
    await beta.waitForEvent(
      (e) => e.event === "applied" && e.path === "copy.txt",
      20_000,
      "copy.txt at beta",
    );

    const metrics = await get(`${http}/metrics`, { authorization: `Bearer ${TOKEN}` });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const lines = metrics.body.trimEnd().split("\n");
    const values = new Map<string, number>();
    for (const line of lines) {
      if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
      // name{labels} value — the exposition format's sample line.
      const match = /^([a-z_]+(?:\{[a-z_]+="[^"\\]*"(?:,[a-z_]+="[^"\\]*")*\})?) (-?[0-9.e+]+)$/.exec(line);
      expect(match, line).not.toBeNull();
      values.set(match![1]!, Number(match![2]));
    }
    const families = lines.filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]);
    expect(families).toEqual(
      expect.arrayContaining(["distsync_connected_clients", "distsync_propagation_seconds"]),
    );
    for (const family of families)
      expect(lines).toContain(lines.find((l) => l.startsWith(`# HELP ${family} `)));

    const d = 'space="default"';
    expect(values.get(`distsync_connected_clients{${d}}`)).toBe(2);
    expect(values.get(`distsync_files{${d}}`)).toBe(3);
    expect(values.get(`distsync_file_bytes{${d}}`)).toBe("hello from alpha\n".length + 2 * text.length);
    expect(values.get(`distsync_changes_committed_total{${d}}`)).toBe(3);
    expect(values.get(`distsync_conflicts_total{${d}}`)).toBe(0);
    // One queue-depth and one lag sample per client; both are small numbers once all is applied.
    for (const name of ["alpha", "beta"]) {
      expect(values.get(`distsync_client_queue_bytes{${d},client="${name}"}`)).toBeGreaterThanOrEqual(0);
      expect(values.get(`distsync_client_behind{${d},client="${name}"}`)).toBeGreaterThanOrEqual(0);
    }
    // The upload of big.txt went in, its delivery to beta went out, both compressed.
    expect(values.get(`distsync_received_bytes_total{${d}}`)).toBeGreaterThan(0);
    expect(values.get(`distsync_sent_bytes_total{${d}}`)).toBeGreaterThan(0);
    expect(values.get(`distsync_compression_saved_bytes_total{${d},direction="in"}`)).toBeGreaterThan(
      text.length / 2,
    );
    expect(values.get(`distsync_compression_saved_bytes_total{${d},direction="out"}`)).toBeGreaterThan(
      text.length / 2,
    );
    // copy.txt: the hub held its content already and did not ask for an upload.
    expect(values.get(`distsync_dedupe_saved_bytes_total{${d}}`)).toBe(text.length);
    // big.txt and copy.txt, relayed to beta as they happened, are one observation each (a.txt
    // reached beta in its join, which is not a propagation); buckets are cumulative up to +Inf.
    const count = values.get(`distsync_propagation_seconds_count{${d}}`)!;
    expect(count).toBe(2);
    expect(values.get(`distsync_propagation_seconds_bucket{${d},le="+Inf"}`)).toBe(count);
    expect(values.get(`distsync_propagation_seconds_bucket{${d},le="0.001"}`)).toBeLessThanOrEqual(count);
  });
});

async function waitForStatusPage(hub: CliProcess): Promise<string> {
  await waitUntil(() => /status page on http:\/\//.test(hub.stderr()), 10_000, "the status page line");
  return /status page on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
}

describe.runIf(TRANSPORTS.includes(nats))("a hub on NATS", () => {
  nats.useHooks();

  it("serves the status on --http-port, and status reads it through an http:// URL", async () => {
    const root = await makeTempDir();
    await writeFile(nodePath.join(root, "n.txt"), "over nats\n");
    const hub = spawnCli(["serve", "--nats", currentNatsServer().url, "--http-port", "0"]);
    const listening = await hub.waitForEvent((e) => e.event === "listening", 10_000, "the hub to listen");
    const page = await waitForStatusPage(hub);
    await startClient(root, String(listening.url), ["--name", "natty"], { env: NO_ENV_TOKEN });
    const run = await runStatus(["--server", page, "--json"]);
    expect(run.code).toBe(0);
    const snapshot = JSON.parse(run.stdout) as Snapshot;
    expect(snapshot.spaces[0]?.clients.map((c) => c.name)).toEqual(["natty"]);
    expect(snapshot.spaces[0]?.files).toBe(1);
  });
});

describe("--http-port", () => {
  it("is refused without --nats (the WebSocket port serves HTTP already)", async () => {
    const proc = spawnCli(["serve", "--port", "0", "--http-port", "0"]);
    expect((await proc.waitForExit()).code).toBe(2);
    expect(stderrLines(proc)).toEqual([expect.stringMatching(/--http-port .*needs --nats/)]);
  });
});
