import { describe, expect, it } from "vitest";
import { MemoryFileSystem } from "../src/memory/memory-file-system.js";
import { createMemoryNetwork } from "../src/memory/memory-network.js";
import { createClient } from "../src/sync/client.js";
import { createHub } from "../src/sync/hub.js";
import { IgnoreRules } from "../src/sync/ignore-rules.js";
import { waitFor } from "../src/testing/wait-for.js";

describe("IgnoreRules", () => {
  it("follows gitignore syntax: directories, globs, negation, and .git/ by default", () => {
    const rules = new IgnoreRules("node_modules/\n*.log\n!keep.log\n# a comment\n/build\n", ["*.tmp"]);
    expect(rules.ignores(".git", "directory")).toBe(true);
    expect(rules.ignores(".git/config")).toBe(true);
    expect(rules.ignores("a/node_modules/x.js")).toBe(true);
    expect(rules.ignores("node_modules", "directory")).toBe(true);
    expect(rules.ignores("x.log")).toBe(true);
    expect(rules.ignores("keep.log")).toBe(false);
    expect(rules.ignores("build")).toBe(true);
    expect(rules.ignores("src/build")).toBe(false);
    expect(rules.ignores("a.tmp")).toBe(true);
    expect(rules.ignores("src/a.ts")).toBe(false);
  });

  it("lets a rule re-include .git/, and never ignores the rules file itself", () => {
    expect(new IgnoreRules("!.git/\n").ignores(".git/config")).toBe(false);
    expect(new IgnoreRules("*\n").ignores(".distsyncignore")).toBe(false);
  });
});

async function space(ignores: (readonly string[] | undefined)[]) {
  const network = createMemoryNetwork();
  const hub = createHub({ transport: network.hubTransport() });
  await hub.start();
  const folders = ignores.map(() => new MemoryFileSystem());
  const clients = folders.map((fs, i) =>
    createClient({
      transport: network.clientTransport(),
      fs,
      settleMs: 3,
      deleteSettleMs: 10,
      ...(ignores[i] ? { ignore: ignores[i] } : {}),
    }),
  );
  return { hub, folders, clients };
}

describe("ignore rules in a space", () => {
  it("keep ignored paths out in both directions, and the shared .distsyncignore reaches every client", async () => {
    const { hub, folders, clients } = await space([undefined, undefined]);
    const [a, b] = folders as [MemoryFileSystem, MemoryFileSystem];
    a.put(".distsyncignore", "*.log\nbuild/\n");
    a.put("src/main.c", "int main;");
    a.put("debug.log", "noise");
    a.put("build/out.o", "binary");
    a.put(".git/HEAD", "ref: main");
    for (const c of clients) await c.start();
    await waitFor(
      () => b.readText("src/main.c") === "int main;" && b.readText(".distsyncignore") !== undefined,
    );
    // b follows the shared rules: its own log file stays here.
    b.put("b.log", "b's noise");
    b.put("notes.txt", "shared");
    await waitFor(() => a.readText("notes.txt") === "shared");
    expect([...a.snapshot().keys()].sort()).toEqual([
      ".distsyncignore",
      ".git",
      ".git/HEAD",
      "build",
      "build/out.o",
      "debug.log",
      "notes.txt",
      "src",
      "src/main.c",
    ]);
    expect([...b.snapshot().keys()].sort()).toEqual([
      ".distsyncignore",
      "b.log",
      "notes.txt",
      "src",
      "src/main.c",
    ]);
    expect(
      hub
        .entries()
        .map((e) => e.path)
        .sort(),
    ).toEqual([".distsyncignore", "notes.txt", "src", "src/main.c"]);
    // Deleting an ignored file is no deletion for the others.
    a.delete("debug.log");
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.entries().some((e) => e.path === "debug.log")).toBe(false);
    await Promise.all(clients.map((c) => c.stop()));
    await hub.stop();
  });

  it("take effect without a restart: a file the new rules let in is sent, one they leave out stays everywhere", async () => {
    const { hub, folders, clients } = await space([undefined, undefined]);
    const [a, b] = folders as [MemoryFileSystem, MemoryFileSystem];
    a.put(".distsyncignore", "*.log\n");
    a.put("app.log", "kept local");
    a.put("data.csv", "1,2");
    for (const c of clients) await c.start();
    await waitFor(() => b.readText("data.csv") === "1,2");
    expect(b.readText("app.log")).toBeUndefined();
    // Now logs are shared and CSVs are not.
    a.put(".distsyncignore", "*.csv\n");
    await waitFor(() => b.readText("app.log") === "kept local");
    a.put("data.csv", "1,2,3");
    b.put("b.log", "from b");
    await waitFor(() => a.readText("b.log") === "from b");
    expect(b.readText("data.csv")).toBe("1,2");
    // A change of rules never deletes: data.csv is still in the hub's index and in both folders.
    expect(hub.entries().find((e) => e.path === "data.csv")?.deleted).toBe(false);
    await Promise.all(clients.map((c) => c.stop()));
    await hub.stop();
  });

  it("a client's own patterns (--ignore) apply only to it", async () => {
    const { hub, folders, clients } = await space([["*.bak"], undefined]);
    const [a, b] = folders as [MemoryFileSystem, MemoryFileSystem];
    a.put("x.bak", "a's backup");
    b.put("y.bak", "b's backup");
    for (const c of clients) await c.start();
    await waitFor(() => hub.entries().some((e) => e.path === "y.bak"));
    await new Promise((r) => setTimeout(r, 50));
    expect(a.readText("y.bak")).toBeUndefined();
    expect(b.readText("x.bak")).toBeUndefined();
    await Promise.all(clients.map((c) => c.stop()));
    await hub.stop();
  });
});
