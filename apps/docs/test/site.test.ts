// Checks the BUILT site (run `pnpm docs:build` first; this test builds nothing): every page the
// navigation links to exists, and in a real browser the nav, the CLI page and local search work.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nav, sidebar } from "../docs/.vitepress/navigation.js";

const DIST = fileURLToPath(new URL("../docs/.vitepress/dist/", import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const inCi = Boolean(process.env.CI);

const hasDist = existsSync(join(DIST, "index.html"));
const hasChromium = existsSync(CHROMIUM);

const DIST_MISSING = `the built docs site is missing (${DIST}): run 'pnpm docs:build' before the tests`;
const CHROMIUM_MISSING = `${CHROMIUM} is missing: install it with 'apt-get install chromium' (Debian)`;

// Missing prerequisites fail in CI and are skipped, with one line saying how to fix it, elsewhere.
if (!hasDist && !inCi) console.warn(`skipping the docs site tests: ${DIST_MISSING}`);
if (!hasChromium && !inCi) console.warn(`skipping the docs browser test: ${CHROMIUM_MISSING}`);

describe.runIf(inCi)("prerequisites of the docs site tests (CI)", () => {
  it("has the built site", () => {
    if (!hasDist) throw new Error(DIST_MISSING);
  });
  it("has Chromium for the browser test", () => {
    if (!hasChromium) throw new Error(`the docs browser test needs Chromium in CI: ${CHROMIUM_MISSING}`);
  });
});

/** Every internal page the nav and the sidebar link to, as `/guide/concepts`. */
const linkedPages = [
  ...new Set([...nav.map((l) => l.link), ...sidebar.flatMap((g) => g.items.map((i) => i.link))]),
];

/**
 * The file a clean URL is served from: `/` → index.html, `/guide/concepts` → guide/concepts.html,
 * `/api/` → api/index.html.
 */
function fileFor(pathname: string): string {
  const decoded = decodeURIComponent(pathname);
  const clean = decoded.replace(/\/+$/, "");
  if (clean === "") return "index.html";
  if (decoded.endsWith("/")) return `${clean.slice(1)}/index.html`;
  return extname(clean) === "" ? `${clean.slice(1)}.html` : clean.slice(1);
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Serves DIST on 127.0.0.1 (a free port), the way a host with clean URLs would. */
async function serveDist(): Promise<{ server: Server; base: string }> {
  const server = createServer((request, response) => {
    void (async () => {
      const { pathname } = new URL(request.url ?? "/", "http://localhost");
      const path = normalize(join(DIST, fileFor(pathname)));
      try {
        if (!path.startsWith(DIST.endsWith(sep) ? DIST : DIST + sep)) throw new Error("outside");
        const body = await readFile(path);
        response.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
        response.end(body);
      } catch {
        response.writeHead(404, { "content-type": "text/html; charset=utf-8" });
        response.end(await readFile(join(DIST, "404.html")).catch(() => "not found"));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}` };
}

describe.skipIf(!hasDist)("the built docs site", () => {
  it("has a page for every nav and sidebar link", async () => {
    expect(linkedPages.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const link of linkedPages) {
      expect(link, "an internal, clean link").toMatch(/^\/[a-z0-9/-]*$/);
      const file = join(DIST, fileFor(link));
      if (!(await stat(file).catch(() => undefined))?.isFile()) missing.push(`${link} → ${file}`);
    }
    expect(missing).toEqual([]);
  });

  it("has a target for every internal link with an anchor (VitePress checks pages, not anchors)", async () => {
    const pages = new Map<string, string>();
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.name.endsWith(".html"))
          pages.set(relative(DIST, path).split(sep).join("/"), await readFile(path, "utf8"));
      }
    };
    await walk(DIST);
    const broken: string[] = [];
    let checked = 0;
    for (const [file, html] of pages) {
      for (const [, rawPath = "", anchor = ""] of html.matchAll(/href="([^"#]*)#([^"]+)"/g)) {
        const path = rawPath.replaceAll("&amp;", "&");
        const href = `${path}#${anchor}`;
        if (/^[a-z]+:/.test(path)) continue; // external
        // Relative links (the generated API pages use them) resolve against the page's clean URL.
        const url = `/${file.replace(/(^|\/)index\.html$/, "$1").replace(/\.html$/, "")}`;
        const target = path === "" ? file : fileFor(new URL(path, `http://localhost${url}`).pathname);
        const page = pages.get(target);
        checked++;
        if (page === undefined || !page.includes(`id="${decodeURIComponent(anchor)}"`))
          broken.push(`${file}: ${href}`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect([...new Set(broken)]).toEqual([]);
  });

  it("has the API reference generated from TSDoc, with a page and a heading for createClient", async () => {
    const index = await readFile(join(DIST, "api/index.html"), "utf8");
    expect(index).toContain("API reference (generated)");
    for (const module of [
      "@distsync/core",
      "@distsync/core/node",
      "@distsync/core/testing",
      "@distsync/transport-ws",
    ])
      expect(index).toContain(`>${module}</a>`);
    const page = await readFile(join(DIST, "api/core/functions/createClient.html"), "utf8");
    expect(page).toMatch(/<h1[^>]*>Function: createClient\(\)/);
    // The TSDoc summary and a link to the options' own page.
    expect(page).toContain("Creates a client that keeps");
    expect(page).toContain('href="/api/core/interfaces/ClientOptions"');
    // The hand-written page links to the generated one.
    const api = await readFile(join(DIST, "reference/api.html"), "utf8");
    expect(api).toContain('href="/api/core/functions/createClient"');
  });

  it("shows the latest benchmark figures as a table and an SVG chart", async () => {
    // Without the scoped-style attributes Vue adds (` data-v-3d104e5b`).
    const html = (await readFile(join(DIST, "benchmarks.html"), "utf8")).replace(/ data-v-[0-9a-f]+/g, "");
    const latest = JSON.parse(
      await readFile(new URL("../docs/benchmarks/latest.json", import.meta.url), "utf8"),
    ) as { date: string; quick: boolean; scenarios: { S1: Record<string, { p50: number; p95: number }> } };
    expect(latest.quick, "latest.json comes from a full run").toBe(false);
    const table = html.match(/<table class="bench-table"[\s\S]*?<\/table>/)?.[0] ?? "";
    for (const op of ["create", "modify", "delete"]) {
      const figures = latest.scenarios.S1[op];
      expect(figures, `S1 ${op} in latest.json`).toBeDefined();
      expect(table).toContain(`<code>${op}</code>`);
      expect(table).toContain(`>${figures!.p50.toFixed(1)}</td>`);
      expect(table).toContain(`>${figures!.p95.toFixed(1)}</td>`);
    }
    const svg = html.match(/<svg[^>]*role="img"[\s\S]*?<\/svg>/)?.[0] ?? "";
    expect(svg).not.toBe("");
    // Two bars (p50, p95) per operation and the two target lines.
    expect(svg.match(/<rect /g)?.length).toBe(3 * 2 + 2 /* legend */);
    expect(svg).toContain("p50 target 20 ms");
    expect(svg).toContain("p95 target 60 ms");
    // The date of the run, the targets, and what is missing are on the page.
    expect(html).toContain(latest.date.slice(0, 10));
    expect(html).toContain("not met yet");
    // Each scenario is explained against its target.
    for (const scenario of ["S1", "S2", "S3", "S4", "S5", "S6"])
      expect(html).toContain(`<strong>${scenario} (`);
  });

  it("includes PROTOCOL.md in the protocol page", async () => {
    const html = await readFile(join(DIST, "protocol.html"), "utf8");
    expect(html).toContain("The DistSync protocol, version 1");
    expect(html).toContain("Rule 10 — liveness");
  });

  describe.skipIf(!hasChromium)("in Chromium", () => {
    let browser: Browser | undefined;
    let server: Server | undefined;
    let base = "";

    beforeAll(async () => {
      ({ server, base } = await serveDist());
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    });

    it("goes from the home page to the CLI reference through the nav, and finds 'heartbeat'", async () => {
      const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      const failed: string[] = [];
      page.on("pageerror", (error) => failed.push(`page error: ${error.message}`));
      page.on("response", (response) => {
        if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
      });
      try {
        await page.goto(`${base}/`, { waitUntil: "networkidle" });
        await expect(page.locator(".VPHero .name").first().textContent()).resolves.toContain("DistSync");

        // A click on the nav link, as a reader would.
        await page.locator(".VPNavBar").getByRole("link", { name: "CLI", exact: true }).click();
        await page.waitForURL(`${base}/reference/cli`);
        await expect(page.locator(".vp-doc h1").first().textContent()).resolves.toMatch(/^CLI reference/);
        // The sidebar marks the page as the current one.
        await expect(page.locator(".VPSidebar .is-active").first().textContent()).resolves.toContain(
          "CLI reference",
        );
        await mkdir(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOTS, "cli-reference.png") });

        // Local search: open the box, type, and expect a result.
        await page.locator(".VPNavBarSearch button").click();
        const input = page.locator("#localsearch-input");
        await input.waitFor({ state: "visible" });
        await input.fill("heartbeat");
        const results = page.locator(".VPLocalSearchBox .results .result");
        await results.first().waitFor({ state: "visible", timeout: 15_000 });
        expect(await results.count()).toBeGreaterThan(0);
        // Results list page titles and sections; heartbeats are explained under Concepts › Liveness.
        await expect(page.locator(".VPLocalSearchBox .results").textContent()).resolves.toContain("Liveness");
        expect(failed).toEqual([]);
      } finally {
        await page.close();
      }
    });
  });
});
