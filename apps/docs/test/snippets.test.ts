import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const docs = fileURLToPath(new URL("../docs", import.meta.url));

async function pages(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "api") continue; // api/ is generated from TSDoc
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await pages(full)));
    else if (entry.name.endsWith(".md")) out.push(full);
  }
  return out;
}

describe("code samples", () => {
  it("no page writes TypeScript inline: samples come from examples/ (type-checked) or package READMEs (tested)", async () => {
    const inline: string[] = [];
    for (const page of await pages(docs)) {
      if ((await readFile(page, "utf8")).includes("```ts")) inline.push(page.slice(docs.length + 1));
    }
    expect(inline).toEqual([]);
  });
});
