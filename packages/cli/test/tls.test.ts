import { execFileSync } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import https from "node:https";
import * as nodePath from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  killAll,
  makeTempDir,
  removeTempDirs,
  spawnCli,
  startClient,
  startHub,
  stderrLines,
} from "./helpers/cli.js";

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl binary.
let certDir: string;
let cert: string;
let key: string;

beforeAll(async () => {
  certDir = await makeTempDir("distsync-tls-");
  cert = nodePath.join(certDir, "hub.crt");
  key = nodePath.join(certDir, "hub.key");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=distsync test hub"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ],
    { stdio: "ignore" },
  );
});

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await removeTempDirs();
});

function getJson(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, ca === undefined ? {} : { ca }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
  });
}

describe("serve --tls-cert/--tls-key", () => {
  it("serves wss:// (and https:// routes); clients with --ca sync a file over it", async () => {
    const { url } = await startHub(["--tls-cert", cert, "--tls-key", key]);
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const root = await makeTempDir();
    const [a, b] = [nodePath.join(root, "a"), nodePath.join(root, "b")];
    await mkdir(a);
    await mkdir(b);
    await writeFile(nodePath.join(a, "secret.txt"), "over TLS\n");
    await startClient(a, url, ["--ca", cert]);
    const clientB = await startClient(b, url, ["--ca", cert]);
    await clientB.waitForEvent(
      (e) => e.event === "applied" && e.path === "secret.txt",
      10_000,
      "the file on b",
    );
    expect(await readFile(nodePath.join(b, "secret.txt"), "utf8")).toBe("over TLS\n");

    // The HTTP routes share the port, over https, verified against the same certificate.
    const httpsUrl = url.replace(/^wss:/, "https:");
    const status = await getJson(`${httpsUrl}/status.json`, await readFile(cert, "utf8"));
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ spaces: [expect.objectContaining({ name: "default" })] });
    expect((await getJson(`${httpsUrl}/metrics`, await readFile(cert, "utf8"))).body).toMatch(/^# HELP/m);
    // Plain HTTP on a TLS port is not served.
    await expect(getJson(`${httpsUrl}/status.json`)).rejects.toThrow(/self-signed|certificate/i);

    // 'distsync status' reads it too, given the CA.
    const statusCli = spawnCli(["status", "--server", url, "--ca", cert]);
    expect((await statusCli.waitForExit()).code).toBe(0);
    expect(statusCli.events.length + statusCli.stray.length).toBeGreaterThan(0);
  });

  it("a client without --ca fails with exit 3 and one stderr line about the certificate", async () => {
    const { url } = await startHub(["--tls-cert", cert, "--tls-key", key]);
    const dir = await makeTempDir();
    const client = spawnCli(["sync", dir, "--server", url]);
    const exit = await client.waitForExit(15_000);
    expect(exit.code).toBe(3);
    const lines = stderrLines(client);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^distsync: .*TLS handshake failed: wss:\/\/127\.0\.0\.1:\d+ .*self-signed certificate/,
    );
  });

  it.each([
    ["--tls-cert without --tls-key", () => ["--port", "0", "--tls-cert", cert], /--tls-cert needs --tls-key/],
    ["--tls-key without --tls-cert", () => ["--port", "0", "--tls-key", key], /--tls-key needs --tls-cert/],
    [
      "a key file that does not exist",
      () => ["--port", "0", "--tls-cert", cert, "--tls-key", nodePath.join(certDir, "missing.key")],
      /cannot read the --tls-key file .*missing\.key \(ENOENT\)/,
    ],
    [
      "a key file that cannot be read (a directory)",
      () => ["--port", "0", "--tls-cert", cert, "--tls-key", certDir],
      /cannot read the --tls-key file .* \(EISDIR\)/,
    ],
    [
      "a key file that is not a key",
      () => ["--port", "0", "--tls-cert", cert, "--tls-key", cert],
      /not a usable PEM certificate and key/,
    ],
    [
      "--tls-cert with --nats",
      () => ["--nats", "nats://127.0.0.1:1", "--tls-cert", cert, "--tls-key", key],
      /--tls-cert sets up the WebSocket listener and cannot be used with --nats/,
    ],
  ])("%s is a usage error: exit 2 and one clear line", async (_name, args, message) => {
    const hub = spawnCli(["serve", ...args()]);
    const exit = await hub.waitForExit();
    expect(exit.code).toBe(2);
    const lines = stderrLines(hub);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(hub.events.some((e) => e.event === "listening")).toBe(false);
  });

  // root reads a file of mode 000 anyway: the directory case above covers it there.
  it.skipIf(process.getuid?.() === 0)(
    "a key file without read permission is exit 2 with a clear line",
    async () => {
      const locked = nodePath.join(certDir, "locked.key");
      await writeFile(locked, await readFile(key));
      await chmod(locked, 0o000);
      const hub = spawnCli(["serve", "--port", "0", "--tls-cert", cert, "--tls-key", locked]);
      expect((await hub.waitForExit()).code).toBe(2);
      const lines = stderrLines(hub);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/cannot read the --tls-key file .*locked\.key \(EACCES\)/);
    },
  );
});
