import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));

describe("the README's example", () => {
  it("type-checks against the real packages", async () => {
    const text = await readFile(join(packageDir, "README.md"), "utf8");
    const section = text.slice(text.indexOf("## Example"));
    const match = /```ts\n([\s\S]*?)```/.exec(section);
    expect(match, "a ```ts block under 'Example'").not.toBeNull();
    expect(match?.[1]).toContain("createNatsHubTransport(");
    // Inside this package, so @distsync/core and @distsync/transport-nats resolve as a user's app would.
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
