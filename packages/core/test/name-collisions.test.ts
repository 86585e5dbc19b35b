import { afterEach, describe, expect, it } from "vitest";
import type { DistSyncError } from "../src/errors.js";
import { NameError } from "../src/errors.js";
import { MemoryFileSystem, type MemoryFileSystemOptions } from "../src/memory/memory-file-system.js";
import { type ChangeInfo, type Client, type ClientOptions, createClient } from "../src/sync/client.js";
import { waitFor } from "../src/testing/wait-for.js";
import { Cluster, type Member } from "./helpers/cluster.js";
import type { TestFolder } from "./helpers/test-folder.js";

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A memory folder with the given behaviour (case-insensitive, Windows name rules…). */
function folder(options: MemoryFileSystemOptions = {}): TestFolder & { fs: MemoryFileSystem } {
  const fs = new MemoryFileSystem(options);
  return {
    kind: "memory",
    fs,
    put: async (path, content, attributes) => fs.put(path, content, attributes),
    delete: async (path) => fs.delete(path),
    mkdirp: async (path) => fs.mkdirp(path),
    readText: (path) => fs.readText(path),
    snapshot: async () => fs.snapshot() as Awaited<ReturnType<TestFolder["snapshot"]>>,
    removeRoot: async () => fs.removeRoot(),
    dispose: async () => {},
  };
}

interface Watched extends Member {
  fs: MemoryFileSystem;
  errors: DistSyncError[];
  sent: ChangeInfo[];
}

async function startCluster(): Promise<Cluster> {
  cluster = new Cluster();
  await cluster.start();
  return cluster;
}

/** Adds a client over `fs`, recording its errors and the changes it sends. */
async function add(
  c: Cluster,
  fs: TestFolder & { fs: MemoryFileSystem },
  options: Partial<Omit<ClientOptions, "transport" | "fs">> = {},
): Promise<Watched> {
  const client: Client = createClient({
    transport: c.network.clientTransport(),
    fs: fs.fs,
    settleMs: 5,
    deleteSettleMs: 20,
    ...options,
  });
  const watched: Watched = { client, dir: fs, fs: fs.fs, errors: [], sent: [] };
  client.on("error", (error) => watched.errors.push(error));
  client.on("change-sent", (change) => watched.sent.push(change));
  c.members.push(watched);
  return watched;
}

function files(fs: MemoryFileSystem): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, entry] of fs.snapshot()) {
    if (entry.kind === "file") out[path] = new TextDecoder().decode(entry.content);
  }
  return out;
}

function idle(member: Member): boolean {
  const status = member.client.status();
  return status.state === "live" && status.pending === 0;
}

describe("case-only collisions on a case-insensitive client", () => {
  it("skips the twin with one name-collision report, never overwrites, and applies it once the twin is gone", async () => {
    const c = await startCluster();
    const insensitive = await add(c, folder({ caseInsensitive: true }));
    const sensitive = await add(c, folder());
    await insensitive.fs.put("a.txt", "lower");
    await insensitive.client.start();
    await sensitive.fs.put("A.txt", "UPPER");
    await sensitive.client.start();

    await waitFor(() => Object.keys(files(sensitive.fs)).length === 2, {
      message: "both files on the sensitive client",
    });
    await waitFor(() => insensitive.errors.some((e) => e.code === "name-collision"), {
      message: "the name-collision report",
    });
    await waitFor(() => idle(insensitive) && idle(sensitive), { message: "both idle" });
    // Give any wrong deletion or overwrite time to travel.
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(files(sensitive.fs)).toEqual({ "A.txt": "UPPER", "a.txt": "lower" });
    expect(files(insensitive.fs)).toEqual({ "a.txt": "lower" });
    const reports = insensitive.errors.filter((e) => e.code === "name-collision");
    expect(reports).toHaveLength(1);
    const report = reports[0] as NameError;
    expect(NameError.isInstance(report)).toBe(true);
    expect(report.path).toBe("A.txt");
    expect(report.other).toBe("a.txt");
    expect(report.message).toContain('"A.txt"');
    expect(report.message).toContain('"a.txt"');
    expect(insensitive.sent.filter((change) => change.op === "delete")).toEqual([]);
    expect(sensitive.errors).toEqual([]);

    // A newer version of the skipped path is skipped too, without a second report.
    await sensitive.fs.put("A.txt", "UPPER 2");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(files(insensitive.fs)).toEqual({ "a.txt": "lower" });
    expect(insensitive.errors.filter((e) => e.code === "name-collision")).toHaveLength(1);

    // The twin goes away: the skipped version is applied.
    await sensitive.fs.delete("a.txt");
    await waitFor(() => files(insensitive.fs)["A.txt"] === "UPPER 2", {
      message: "the skipped version applied after the twin's deletion",
    });
    expect(files(insensitive.fs)).toEqual({ "A.txt": "UPPER 2" });
    await waitFor(() => idle(insensitive) && idle(sensitive), { message: "both idle again" });
    expect(files(sensitive.fs)).toEqual({ "A.txt": "UPPER 2" });
  });

  it("skips a path whose parent differs only in case (Dir/x next to dir/y)", async () => {
    const c = await startCluster();
    const insensitive = await add(c, folder({ caseInsensitive: true }));
    const sensitive = await add(c, folder());
    await insensitive.fs.put("dir/y.txt", "y");
    await insensitive.client.start();
    await sensitive.fs.put("Dir/x.txt", "x");
    await sensitive.fs.put("other.txt", "other");
    await sensitive.client.start();

    await waitFor(() => files(insensitive.fs)["other.txt"] === "other", { message: "other.txt synced" });
    await waitFor(() => insensitive.errors.length >= 2, { message: "the reports for Dir and Dir/x.txt" });
    await waitFor(() => idle(insensitive) && idle(sensitive), { message: "both idle" });
    expect(files(insensitive.fs)).toEqual({ "dir/y.txt": "y", "other.txt": "other" });
    expect(files(sensitive.fs)).toEqual({ "Dir/x.txt": "x", "dir/y.txt": "y", "other.txt": "other" });
    const paths = insensitive.errors.map((e) => (e as NameError).path).sort();
    expect(paths).toEqual(["Dir", "Dir/x.txt"]);
    expect(insensitive.errors.every((e) => e.code === "name-collision")).toBe(true);
    expect(insensitive.errors.find((e) => (e as NameError).path === "Dir/x.txt")?.message).toMatch(
      /its parent "Dir" differs from "dir"/,
    );
    expect(insensitive.sent.filter((change) => change.op === "delete")).toEqual([]);
  });

  it("finds a twin that is on disk but not in the index yet (a local file not scanned)", async () => {
    const c = await startCluster();
    // Local changes wait a minute before they are read: Build/out.txt stays out of the index.
    const insensitive = await add(c, folder({ caseInsensitive: true }), { settleMs: 60_000 });
    const sensitive = await add(c, folder());
    await insensitive.client.start();
    await insensitive.fs.put("Build/out.txt", "local build output");
    await sensitive.fs.put("build/out.txt", "theirs");
    await sensitive.fs.put("other.txt", "other");
    await sensitive.client.start();

    await waitFor(() => files(insensitive.fs)["other.txt"] === "other", { message: "other.txt synced" });
    await waitFor(() => insensitive.errors.length >= 2, { message: "the name-collision reports" });
    await waitFor(() => idle(sensitive), { message: "sensitive idle" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(files(insensitive.fs)).toEqual({ "Build/out.txt": "local build output", "other.txt": "other" });
    const reports = insensitive.errors as NameError[];
    expect(reports.every((e) => e.code === "name-collision")).toBe(true);
    expect(reports.map((e) => [e.path, e.other]).sort()).toEqual([
      ["build", "Build"],
      ["build/out.txt", "Build/out.txt"],
    ]);
    expect(files(sensitive.fs)).toEqual({ "build/out.txt": "theirs", "other.txt": "other" });
  });

  it("a case-sensitive client with the same history keeps both (the guard is inactive)", async () => {
    const c = await startCluster();
    const one = await add(c, folder());
    const two = await add(c, folder());
    await one.fs.put("a.txt", "lower");
    await one.client.start();
    await two.fs.put("A.txt", "UPPER");
    await two.client.start();
    await waitFor(() => Object.keys(files(one.fs)).length === 2 && Object.keys(files(two.fs)).length === 2, {
      message: "both files everywhere",
    });
    expect(one.errors).toEqual([]);
    expect(two.errors).toEqual([]);
  });
});

describe("names the receiving OS cannot hold", () => {
  it("a win32 client skips CON.txt and names with ':' with one report each; others still sync", async () => {
    const c = await startCluster();
    const windows = await add(c, folder({ platform: "win32" }));
    const linux = await add(c, folder({ platform: "linux" }));
    const source = await add(c, folder());
    await windows.client.start();
    await linux.client.start();
    await source.fs.put("CON.txt", "device");
    await source.fs.put("time 10:30.txt", "colon");
    await source.fs.put("docs/aux/readme.md", "below a device name");
    await source.fs.put("ok.txt", "fine");
    await source.client.start();

    const all = {
      "CON.txt": "device",
      "docs/aux/readme.md": "below a device name",
      "ok.txt": "fine",
      "time 10:30.txt": "colon",
    };
    await waitFor(() => JSON.stringify(files(linux.fs)) === JSON.stringify(all), {
      message: "linux has all",
    });
    await waitFor(() => files(windows.fs)["ok.txt"] === "fine", { message: "windows has ok.txt" });
    await waitFor(() => idle(windows) && idle(linux) && idle(source), { message: "all idle" });
    expect(files(windows.fs)).toEqual({ "ok.txt": "fine" });
    const reports = windows.errors.filter((e) => e.code === "name-not-supported") as NameError[];
    expect(reports.map((e) => e.path).sort()).toEqual([
      "CON.txt",
      "docs/aux",
      "docs/aux/readme.md",
      "time 10:30.txt",
    ]);
    expect(reports.find((e) => e.path === "CON.txt")?.message).toBe(
      'skipped "CON.txt": this file system cannot hold the name (CON is a device name reserved by Windows)',
    );
    expect(reports.find((e) => e.path === "time 10:30.txt")?.reason).toBe(
      'Windows does not allow ":" in a name',
    );
    expect(windows.errors.length).toBe(reports.length);

    // A new version: still skipped, not reported again. A deletion: nothing to do, nothing sent.
    await source.fs.put("CON.txt", "device 2");
    await source.fs.delete("time 10:30.txt");
    await waitFor(
      () => files(linux.fs)["CON.txt"] === "device 2" && files(linux.fs)["time 10:30.txt"] === undefined,
      {
        message: "linux follows",
      },
    );
    await waitFor(() => idle(windows), { message: "windows idle" });
    expect(files(windows.fs)).toEqual({ "ok.txt": "fine" });
    expect(windows.errors.length).toBe(reports.length);
    expect(windows.sent).toEqual([]);
    expect(files(source.fs)["CON.txt"]).toBe("device 2");
  });
});
