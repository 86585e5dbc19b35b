import { afterEach, describe, expect, it } from "vitest";
import type { DistSyncError } from "../src/errors.js";
import type { FileSystem } from "../src/file-system.js";
import { linkTargetProblem } from "../src/link-target.js";
import type { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { MemoryFileSystem as MemoryFs } from "../src/memory/memory-file-system.js";
import { validateMessage } from "../src/protocol/validate-message.js";
import { decodeSavedIndex, encodeSavedIndex } from "../src/sync/saved-index.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { EntryMeta, RelPath } from "../src/types.js";
import { Cluster, type Member } from "./helpers/cluster.js";

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 10, 1, 12, 0, 0);

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const mem = (m: Member) => m.dir.fs as MemoryFileSystem;

function entryOf(m: Member, path: string) {
  return mem(m).snapshot().get(path);
}

async function started(...members: Member[]): Promise<void> {
  for (const m of members) await m.client.start();
}

describe("linkTargetProblem", () => {
  it.each([
    ["a/link", "b.txt"],
    ["a/link", "../b.txt"],
    ["a/b/link", "../../c/d"],
    ["link", "dir/sub/"],
    ["link", "./file"],
    ["a/up", ".."],
  ])("allows %s -> %s", (path, target) => {
    expect(linkTargetProblem(path, target)).toBeUndefined();
  });

  it.each([
    ["link", "/etc/passwd", /absolute/],
    ["link", "../outside", /outside the folder/],
    ["a/link", "../../outside", /outside the folder/],
    // `up` may be a link to the root: the kernel would climb out from there.
    ["a/esc", "up/..", /'\.\.' after a name/],
    ["a/esc", "up/../../x", /'\.\.' after a name/],
    ["link", "C:/Windows", /drive-letter/],
    ["link", "a\\..\\..\\x", /backslash/],
    ["link", "a\u0000b", /NUL/],
    ["link", "a\nb", /control character/],
    ["link", "", /empty/],
    ["link", "x".repeat(4096), /too long/],
    ["link", ".distsync/index-default", /DistSync file/],
    ["link", 42, /not a string/],
  ])("refuses %s -> %j", (path, target, reason) => {
    expect(linkTargetProblem(path, target)).toMatch(reason);
  });
});

describe("the protocol and the saved index carry links", () => {
  const link: EntryMeta = {
    kind: "symlink",
    deleted: false,
    size: 0,
    mtimeMs: BASE,
    hash: "",
    executable: false,
    target: "a.txt",
  };

  it("validates a link entry: a live link needs a string target, nothing else carries one", () => {
    const propose = (entry: unknown) => ({ type: "propose", items: [{ path: "l", base: 0, entry }] });
    expect(() => validateMessage(propose(link))).not.toThrow();
    expect(() => validateMessage(propose({ ...link, deleted: true, target: undefined }))).not.toThrow();
    expect(() => validateMessage(propose({ ...link, target: undefined }))).toThrow(
      /'target' must be a string/,
    );
    expect(() => validateMessage(propose({ ...link, target: 7 }))).toThrow(/'target' must be a string/);
    expect(() => validateMessage(propose({ ...link, hash: "0".repeat(64) }))).toThrow(/no hash or size/);
    expect(() => validateMessage(propose({ ...link, executable: true }))).toThrow(/no executable bit/);
    expect(() =>
      validateMessage(
        propose({
          kind: "file",
          deleted: true,
          size: 0,
          mtimeMs: 1,
          hash: "",
          executable: false,
          target: "x",
        }),
      ),
    ).toThrow(/only a live symbolic link carries a target/);
    expect(() => validateMessage(propose({ ...link, kind: "fifo" }))).toThrow(/kind must be/);
  });

  it("round-trips a link through the saved index", () => {
    const records = new Map([["l" as RelPath, { entry: link, seq: 3, disk: undefined }]]);
    const decoded = decodeSavedIndex("default", encodeSavedIndex("default", { epoch: "e", records }));
    expect(decoded?.records.get("l" as RelPath)?.entry).toEqual(link);
  });
});

describe("symbolic links between clients (memory file system)", () => {
  it("a link to a file and a link to a directory arrive as links; nothing below a link is synced twice", async () => {
    cluster = new Cluster();
    await cluster.start();
    const a = await cluster.add();
    const b = await cluster.add();
    mem(a).put("docs/a.txt", "hello", { mtimeMs: BASE });
    mem(a).symlink("docs/link", "a.txt", { mtimeMs: BASE + 1000 });
    mem(a).symlink("top", "docs");
    await started(a, b);
    await waitFor(() => entryOf(b, "top")?.kind === "symlink", { message: "the links on b" });
    expect(entryOf(b, "docs/link")).toMatchObject({ kind: "symlink", target: "a.txt", mtimeMs: BASE + 1000 });
    expect(entryOf(b, "top")).toMatchObject({ kind: "symlink", target: "docs" });
    expect(mem(b).readText("docs/a.txt")).toBe("hello");
    const hubPaths = cluster.hub
      .entries()
      .map((e) => e.path)
      .sort();
    expect(hubPaths).toEqual(["docs", "docs/a.txt", "docs/link", "top"]);
    expect(cluster.hub.entries().find((e) => e.path === "top")).toMatchObject({
      kind: "symlink",
      target: "docs",
    });
  });

  it("a link replaces a file and a file replaces a link; deleting a link keeps its target", async () => {
    cluster = new Cluster();
    await cluster.start();
    const a = await cluster.add();
    const b = await cluster.add();
    mem(a).put("target.txt", "the target");
    mem(a).put("x", "a file first");
    await started(a, b);
    await waitFor(() => mem(b).readText("x") === "a file first", { message: "x as a file on b" });

    mem(a).symlink("x", "target.txt");
    await waitFor(() => entryOf(b, "x")?.kind === "symlink", { message: "x as a link on b" });
    expect(entryOf(b, "x")?.target).toBe("target.txt");
    // Pointed elsewhere (`ln -sfn`): the new target travels.
    mem(a).symlink("x", "elsewhere/target.txt");
    await waitFor(() => entryOf(b, "x")?.target === "elsewhere/target.txt", { message: "x retargeted on b" });

    mem(a).put("x", "a file again");
    await waitFor(() => mem(b).readText("x") === "a file again", { message: "x as a file again on b" });

    mem(b).symlink("x", "target.txt");
    await waitFor(() => entryOf(a, "x")?.kind === "symlink", { message: "x as a link on a, from b" });

    mem(a).delete("x");
    await waitFor(() => entryOf(b, "x") === undefined, { message: "the link deleted on b" });
    expect(mem(b).readText("target.txt")).toBe("the target");
    expect(mem(a).readText("target.txt")).toBe("the target");
    expect(cluster.hub.entries().find((e) => e.path === "x")).toMatchObject({
      kind: "symlink",
      deleted: true,
    });
    expect(cluster.hub.entries().find((e) => e.path === "x")?.target).toBeUndefined();
  });

  it.each([
    ["the newer link beats an older file", "symlink", "file"],
    ["the newer file beats an older link", "file", "symlink"],
  ] as const)("last writer wins between a link and a file: %s", async (_name, newer, older) => {
    cluster = new Cluster();
    await cluster.start();
    const a = await cluster.add();
    const b = await cluster.add();
    const make = (m: Member, kind: "file" | "symlink", mtimeMs: number) =>
      kind === "file"
        ? mem(m).put("p", `file of ${mtimeMs}`, { mtimeMs })
        : mem(m).symlink("p", "elsewhere", { mtimeMs });
    make(a, older, BASE);
    make(b, newer, BASE + HOUR);
    await started(a, b);
    await waitFor(() => entryOf(a, "p")?.kind === newer, { message: `p as a ${newer} on a` });
    expect(entryOf(b, "p")?.kind).toBe(newer);
    expect(cluster.hub.entries().find((e) => e.path === "p")).toMatchObject({
      kind: newer,
      mtimeMs: BASE + HOUR,
    });
    // The same the other way round: b (the newer) joins first.
    const c = await cluster.add();
    make(c, older, BASE - HOUR);
    await started(c);
    await waitFor(() => entryOf(c, "p")?.kind === newer, { message: `p as a ${newer} on a late joiner` });
  });

  it("a link whose target leaves the folder is skipped with one warning, however often it is scanned", async () => {
    cluster = new Cluster();
    await cluster.start();
    const a = await cluster.add();
    const b = await cluster.add();
    const errors: DistSyncError[] = [];
    a.client.on("error", (e) => errors.push(e));
    mem(a).put("f.txt", "f");
    mem(a).symlink("escape", "../outside");
    mem(a).symlink("sub/abs", "/etc/passwd");
    await started(a, b);
    // Touch the links again: each touch makes the client look at the path once more.
    for (let i = 0; i < 3; i++) {
      mem(a).symlink("escape", "../outside");
      mem(a).symlink("sub/abs", "/etc/passwd");
      await new Promise((r) => setTimeout(r, 30));
    }
    mem(a).put("after.txt", "after");
    await waitFor(() => mem(b).readText("after.txt") === "after", { message: "a later file on b" });
    expect(entryOf(b, "escape")).toBeUndefined();
    expect(entryOf(b, "sub/abs")).toBeUndefined();
    expect(cluster.hub.entries().some((e) => e.kind === "symlink")).toBe(false);
    const warnings = errors.filter((e) => e.code === "link-not-allowed").map((e) => e.message);
    expect(warnings).toHaveLength(2);
    expect(warnings.some((m) => m.includes('"escape"'))).toBe(true);
    expect(warnings.some((m) => m.includes('"sub/abs"'))).toBe(true);
  });

  it("a client whose file system holds no links skips a received link once and applies the rest", async () => {
    cluster = new Cluster();
    await cluster.start();
    const a = await cluster.add();
    const inner = new MemoryFs();
    const noLinks: FileSystem = {
      capabilities: inner.capabilities,
      rootExists: () => inner.rootExists(),
      walk: () => inner.walk(),
      stat: (p) => inner.stat(p),
      openRead: (p) => inner.openRead(p),
      createWriter: (p) => inner.createWriter(p),
      setAttributes: (p, x) => inner.setAttributes(p, x),
      remove: (p) => inner.remove(p),
      mkdir: (p, x) => inner.mkdir(p, x),
      rmdir: (p) => inner.rmdir(p),
      watch: (l) => inner.watch(l),
    };
    const b = await cluster.add({ fs: noLinks } as Parameters<Cluster["add"]>[0]);
    const errors: DistSyncError[] = [];
    b.client.on("error", (e) => errors.push(e));
    mem(a).put("f.txt", "f");
    mem(a).symlink("l", "f.txt");
    await started(a, b);
    await waitFor(() => inner.readText("f.txt") === "f", { message: "the file on b" });
    await waitFor(() => errors.length > 0, { message: "the warning" });
    expect(inner.snapshot().has("l")).toBe(false);
    expect(errors.map((e) => e.code)).toEqual(["link-not-allowed"]);
    expect(errors[0]?.message).toMatch(/does not hold symbolic links/);
    // Nothing flows back: the link stays at the hub as a.
    expect(cluster.hub.entries().find((e) => e.path === "l")).toMatchObject({
      kind: "symlink",
      deleted: false,
    });
  });
});
