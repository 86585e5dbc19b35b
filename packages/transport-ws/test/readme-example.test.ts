import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = fileURLToPath(new URL(".", import.meta.url));
const packageDir = join(here, "..");
const readme = join(packageDir, "../../README.md");

describe("the README's library example", () => {
  it("type-checks against the real packages", async () => {
    const text = await readFile(readme, "utf8");
    const section = text.slice(text.indexOf("## As a library"));
    const match = /```ts\n([\s\S]*?)```/.exec(section);
    expect(match, "a ```ts block under 'As a library'").not.toBeNull();
    expect(match?.[1]).toContain("createClient(");
    // Inside this package, so @distsync/core and @distsync/transport-ws resolve as a user's app would.
    const dir = await mkdtemp(join(packageDir, "test/.readme-"));
    try {
      await writeFile(join(dir, "example.ts"), `${match?.[1]}\nexport {};\n`);
      await writeFile(
        join(dir, "tsconfig.json"),
        JSON.stringify({ extends: "../../../../tsconfig.base.json", include: ["example.ts"] }),
      );
      const tsc = join(packageDir, "../../node_modules/.bin/tsc");
      const result = await run(tsc, ["-p", join(dir, "tsconfig.json")]).catch((error) => error);
      expect(`${result.stdout ?? ""}${result.stderr ?? ""}`).toBe("");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
