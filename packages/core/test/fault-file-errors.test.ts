import { createHash, randomBytes } from "node:crypto";
import * as nodeFs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type DistSyncError, FileSystemError } from "../src/errors.js";
import type { FileSystem, FileWriter } from "../src/file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { createNodeFileSystem, type NodeFileSystem } from "../src/node/node-file-system.js";
import { type Client, createClient } from "../src/sync/client.js";
import { createHub, type Hub } from "../src/sync/hub.js";
import { waitFor } from "../src/testing/wait-for.js";
import type { RelPath } from "../src/types.js";

/**
 * Faults a real disk cannot be made to produce on demand in every environment (as root, `chmod 000`
 * does not deny reads; a full disk needs a mount): a real `NodeFileSystem` on a real temp folder,
 * wrapped so that chosen calls fail the way the OS fails them.
 */
class FaultyFileSystem implements FileSystem {
  /** Paths whose reads fail with EACCES, as for a file without read permission. */
  readonly unreadable = new Set<string>();
  /** Bytes that still fit on the "disk"; writes beyond fail with ENOSPC. Infinity: no limit. */
  spaceLeft = Number.POSITIVE_INFINITY;
  /** Milliseconds each read waits first (a slow disk), so a read can be caught in the middle. */
  readDelayMs = 0;
  /** Called after each read of an open handle: which handle of the path (1, 2…) and how many reads. */
  onRead: (path: string, handle: number, reads: number) => void = () => {};
  readonly #opened = new Map<string, number>();
  /** SHA-256 of the content of every file this side committed, in order. */
  readonly commits: { path: string; sha: string }[] = [];
  readonly inner: NodeFileSystem;
  readonly capabilities;

  constructor(inner: NodeFileSystem) {
    this.inner = inner;
    this.capabilities = inner.capabilities;
  }
  rootExists = () => this.inner.rootExists();
  walk = () => this.inner.walk();
  stat = (path: RelPath) => this.inner.stat(path);
  setAttributes: FileSystem["setAttributes"] = (path, attributes) =>
    this.inner.setAttributes(path, attributes);
  remove = (path: RelPath) => this.inner.remove(path);
  mkdir: FileSystem["mkdir"] = (path, attributes) => this.inner.mkdir(path, attributes);
  rmdir = (path: RelPath) => this.inner.rmdir(path);
  watch: FileSystem["watch"] = (listener) => this.inner.watch(listener);
  loadState = (name: string) => this.inner.loadState(name);
  saveState = (name: string, data: Uint8Array) => this.inner.saveState(name, data);

  async openRead(path: RelPath) {
    if (this.unreadable.has(path)) {
      throw new FileSystemError(`open ${JSON.stringify(path)} failed: EACCES: permission denied`, {
        path,
        systemCode: "EACCES",
      });
    }
    const handle = await this.inner.openRead(path);
    if (handle === undefined) return undefined;
    const number = (this.#opened.get(path) ?? 0) + 1;
    this.#opened.set(path, number);
    let reads = 0;
    return {
      stat: handle.stat,
      read: async (length: number) => {
        if (this.readDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.readDelayMs));
        const data = await handle.read(length);
        this.onRead(path, number, ++reads);
        return data;
      },
      close: () => handle.close(),
    };
  }

  async createWriter(path: RelPath): Promise<FileWriter> {
    const writer = await this.inner.createWriter(path);
    const hash = createHash("sha256");
    return {
      write: async (chunk) => {
        if (chunk.length > this.spaceLeft) {
          await writer.abort(); // as NodeFileSystem does when the OS write fails
          throw new FileSystemError(`write ${JSON.stringify(path)} failed: ENOSPC: no space left on device`, {
            path,
            systemCode: "ENOSPC",
          });
        }
        this.spaceLeft -= chunk.length;
        hash.update(chunk);
        await writer.write(chunk);
      },
      commit: async (attributes) => {
        await writer.commit(attributes);
        this.commits.push({ path, sha: hash.digest("hex") });
      },
      abort: () => writer.abort(),
    };
  }
}

interface Side {
  root: string;
  fs: FaultyFileSystem;
  client: Client;
  errors: DistSyncError[];
  file(path: string): string;
}

const roots: string[] = [];
let hub: Hub | undefined;
let sides: Side[] = [];
let currentNetwork: ReturnType<typeof createMemoryNetwork> | undefined;
const network = () => currentNetwork as ReturnType<typeof createMemoryNetwork>;

afterEach(async () => {
  await Promise.all(sides.map((s) => s.client.stop()));
  await hub?.stop();
  await Promise.all(sides.map((s) => s.fs.inner.close()));
  await Promise.all(roots.splice(0).map((r) => nodeFs.rm(r, { recursive: true, force: true })));
  sides = [];
  hub = undefined;
});

async function cluster(count: number): Promise<Side[]> {
  currentNetwork = createMemoryNetwork();
  hub = createHub({ transport: network().hubTransport() });
  await hub.start();
  for (let i = 0; i < count; i++) {
    const root = await nodeFs.mkdtemp(join(tmpdir(), "distsync-fault-"));
    roots.push(root);
    const fs = new FaultyFileSystem(await createNodeFileSystem(root, { durable: false }));
    const client = createClient({
      transport: network().clientTransport(),
      fs,
      settleMs: 5,
      deleteSettleMs: 20,
    });
    const errors: DistSyncError[] = [];
    client.on("error", (e) => errors.push(e));
    sides.push({ root, fs, client, errors, file: (path) => join(root, ...path.split("/")) });
  }
  await Promise.all(sides.map((s) => s.client.start()));
  return sides;
}

const readOr = (path: string) => nodeFs.readFile(path).catch(() => undefined);
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function arrives(side: Side, path: string, content: Uint8Array | string, what: string): Promise<void> {
  const want = sha(typeof content === "string" ? Buffer.from(content) : content);
  await waitFor(
    async () => {
      const now = await readOr(side.file(path));
      return now !== undefined && sha(now) === want;
    },
    { timeoutMs: 10_000, message: what },
  );
}

describe("a file that cannot be read (permission denied)", () => {
  it("is reported once by name, never taken for a deletion, and synced once it can be read", async () => {
    const [sender, receiver] = (await cluster(2)) as [Side, Side];
    await nodeFs.writeFile(sender.file("secret.txt"), "version 1\n");
    await arrives(receiver, "secret.txt", "version 1\n", "version 1 on the receiver");

    // The file becomes unreadable, then changes.
    sender.fs.unreadable.add("secret.txt");
    await nodeFs.writeFile(sender.file("secret.txt"), "version 2, not readable yet\n");
    await waitFor(() => sender.errors.some((e) => /secret\.txt/.test(e.message)), {
      timeoutMs: 5000,
      message: "the permission error",
    });
    const error = sender.errors.find((e) => /secret\.txt/.test(e.message)) as FileSystemError;
    expect(FileSystemError.isInstance(error)).toBe(true);
    expect(error.systemCode).toBe("EACCES");
    expect(error.path).toBe("secret.txt");

    // Other changes flow meanwhile; the unreadable file is no deletion, and is not re-reported in a loop.
    await nodeFs.writeFile(sender.file("later.txt"), "later\n");
    await arrives(receiver, "later.txt", "later\n", "later.txt on the receiver");
    await nodeFs.rm(sender.file("later.txt"));
    await waitFor(async () => (await readOr(receiver.file("later.txt"))) === undefined, {
      timeoutMs: 5000,
      message: "the deletion of later.txt on the receiver",
    });
    expect((await readOr(receiver.file("secret.txt")))?.toString()).toBe("version 1\n");
    expect(sender.errors.filter((e) => /secret\.txt/.test(e.message))).toHaveLength(1);

    // Readable again, with no new event from the watcher: a retry picks it up.
    sender.fs.unreadable.delete("secret.txt");
    await arrives(receiver, "secret.txt", "version 2, not readable yet\n", "version 2 once readable");
    expect(receiver.errors).toEqual([]);
  });

  it("a file unreadable when the client starts is not offered, and not deleted elsewhere", async () => {
    const [first, second] = (await cluster(2)) as [Side, Side];
    await nodeFs.writeFile(first.file("kept.txt"), "kept\n");
    await arrives(second, "kept.txt", "kept\n", "kept.txt on the second client");
    // The second client stops, its copy becomes unreadable, and it starts again.
    await second.client.stop();
    second.fs.unreadable.add("kept.txt");
    const restarted = createClient({ transport: network().clientTransport(), fs: second.fs, settleMs: 5 });
    const errors: DistSyncError[] = [];
    restarted.on("error", (e) => errors.push(e));
    sides.push({ ...second, client: restarted, errors });
    await restarted.start();
    expect(errors.map((e) => (e as FileSystemError).path)).toContain("kept.txt");
    await nodeFs.writeFile(first.file("after.txt"), "after\n");
    await arrives(second, "after.txt", "after\n", "after.txt on the restarted client");
    expect((await readOr(first.file("kept.txt")))?.toString()).toBe("kept\n");
    expect(first.errors).toEqual([]);
  });
});

describe("a full disk on the receiving side (ENOSPC)", () => {
  it("reports the error, keeps the old version, leaves no temp file, syncs small files, and retries", async () => {
    const [sender, receiver] = (await cluster(2)) as [Side, Side];
    const oldVersion = randomBytes(200_000);
    await nodeFs.writeFile(sender.file("big.bin"), oldVersion);
    await arrives(receiver, "big.bin", oldVersion, "the old version");

    receiver.fs.spaceLeft = 1_000_000;
    const newVersion = randomBytes(3_000_000);
    await nodeFs.writeFile(sender.file("big.bin"), newVersion);
    await waitFor(() => receiver.errors.some((e) => /big\.bin/.test(e.message)), {
      timeoutMs: 10_000,
      message: "the disk-full error",
    });
    const error = receiver.errors.find((e) => /big\.bin/.test(e.message)) as FileSystemError;
    expect(error.systemCode).toBe("ENOSPC");
    expect(error.message).toMatch(/no space left/);
    expect((await nodeFs.readFile(receiver.file("big.bin"))).equals(oldVersion)).toBe(true);
    expect((await nodeFs.readdir(receiver.root)).filter((n) => n.endsWith(".tmp"))).toEqual([]);

    await nodeFs.writeFile(sender.file("small.txt"), "small\n");
    await arrives(receiver, "small.txt", "small\n", "a small file while the disk is full");
    expect((await nodeFs.readFile(receiver.file("big.bin"))).equals(oldVersion)).toBe(true);

    receiver.fs.spaceLeft = Number.POSITIVE_INFINITY;
    await arrives(receiver, "big.bin", newVersion, "the new version once space is free");
    expect((await nodeFs.readdir(receiver.root)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});

describe("a file that changes while it is read", () => {
  it("discards the upload and sends the new version: receivers only ever commit versions the sender wrote", async () => {
    const [sender, receiver, third] = (await cluster(3)) as [Side, Side, Side];
    const size = 6 * 1024 * 1024;
    const versions = [randomBytes(size), randomBytes(size), randomBytes(size)];
    const written = new Set(versions.map(sha));
    // 6 reads of 1 MiB at 40 ms each: every read of the file takes a quarter of a second.
    sender.fs.readDelayMs = 40;
    let rewrites = 0;
    let rewriting: Promise<void> = Promise.resolve();
    let interrupted = 0;
    sender.fs.onRead = (path, handle, reads) => {
      // Each version is first hashed (one handle), then uploaded (the next): rewrite the file in
      // place, same size, half-way through the upload of the first two versions.
      if (path !== "big.bin" || reads !== 3 || handle % 2 !== 0 || rewrites >= 2) return;
      rewrites++;
      interrupted++;
      const next = versions[rewrites] as Buffer;
      rewriting = rewriting.then(async () => {
        const file = await nodeFs.open(sender.file("big.bin"), "r+");
        try {
          await file.write(next, 0, next.length, 0);
          // A distinct mtime, as a later write would have on a coarse clock.
          await file.utimes(new Date(), new Date(Date.now() + rewrites * 1000));
        } finally {
          await file.close();
        }
      });
    };
    await nodeFs.writeFile(sender.file("big.bin"), versions[0] as Buffer);
    const last = versions[2] as Buffer;
    await arrives(receiver, "big.bin", last, "the last version on the receiver");
    await arrives(third, "big.bin", last, "the last version on the third client");
    await rewriting;
    expect(interrupted).toBe(2);
    for (const side of [receiver, third]) {
      const commits = side.fs.commits.filter((c) => c.path === "big.bin");
      expect(commits.length).toBeGreaterThan(0);
      for (const commit of commits) expect(written.has(commit.sha)).toBe(true);
      expect(commits.at(-1)?.sha).toBe(sha(last));
    }
    expect(sha(await nodeFs.readFile(sender.file("big.bin")))).toBe(sha(last));
  });
});

describe("temp files left by a crash", () => {
  it("walk removes stale ones (write and state temps), never a live writer's nor a look-alike", async () => {
    const root = await nodeFs.mkdtemp(join(tmpdir(), "distsync-stale-"));
    roots.push(root);
    await nodeFs.mkdir(join(root, "sub/deeper"), { recursive: true });
    await nodeFs.mkdir(join(root, ".distsync"));
    const stale = [
      ".distsync-0123456789abcdef.tmp",
      "sub/deeper/.distsync-fedcba9876543210.tmp",
      ".distsync/index-default.0123456789ab.tmp",
    ];
    const kept = [".distsync-notours.tmp", "sub/.distsync-0123.tmp", ".distsync/index-default"];
    for (const path of [...stale, ...kept]) await nodeFs.writeFile(join(root, path), "left over");
    const fs = await createNodeFileSystem(root, { durable: false });
    try {
      const writer = await fs.createWriter("sub/live.txt" as RelPath);
      await writer.write(new TextEncoder().encode("in progress"));
      expect(await fs.loadState("default")).toBeUndefined(); // at start: cleans the state folder
      const walked: string[] = [];
      for await (const stat of fs.walk()) walked.push(stat.path);
      expect(walked).toEqual(["sub", "sub/deeper"]);
      for (const path of stale)
        await expect(nodeFs.stat(join(root, path))).rejects.toMatchObject({ code: "ENOENT" });
      for (const path of kept) expect((await nodeFs.stat(join(root, path))).isFile()).toBe(true);
      // The live writer's temp file survived the walk: its commit still works.
      await writer.commit({ mtimeMs: Date.now(), executable: false });
      expect(await nodeFs.readFile(join(root, "sub/live.txt"), "utf8")).toBe("in progress");
    } finally {
      await fs.close();
    }
  });
});
