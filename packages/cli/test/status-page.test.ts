// The live hub page in headless Chromium (loopback only): a real `distsync serve` with a token and
// two `distsync sync` clients; the page shows them, shows a new change without a reload, and never
// turns a client's name into markup.
import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { killAll, makeTempDir, removeTempDirs, startClient, startHub } from "./helpers/cli.js";

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
const hasChromium = existsSync(CHROMIUM);
const MISSING = `${CHROMIUM} is missing: install it with 'apt-get install chromium' (Debian)`;
if (!hasChromium && !inCi) console.warn(`skipping the hub page browser test: ${MISSING}`);

const TOKEN = "s3cret";
const NO_ENV_TOKEN = { DISTSYNC_TOKEN: undefined };
/** A name that would run script if the page ever used it as HTML. */
const EVIL = `<img src=x onerror="window.pwned=1">`;

afterEach(async () => {
  await killAll();
  await removeTempDirs();
});

describe.runIf(inCi && !hasChromium)("prerequisites of the hub page test (CI)", () => {
  it("has Chromium", () => {
    throw new Error(MISSING);
  });
});

describe.runIf(hasChromium)("the live hub page", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("shows the clients and a new change live, escapes names, and needs the token", async () => {
    const root = await makeTempDir();
    const a = nodePath.join(root, "a");
    const b = nodePath.join(root, "b");
    await mkdir(a);
    await mkdir(b);
    await writeFile(nodePath.join(a, "first.txt"), "1\n");
    const { port } = await startHub(["--token", TOKEN]);
    const url = `ws://127.0.0.1:${port}`;
    const opts = ["--token", TOKEN];
    await startClient(a, url, [...opts, "--name", "alpha"], { env: NO_ENV_TOKEN });
    const beta = await startClient(b, url, [...opts, "--name", EVIL], { env: NO_ENV_TOKEN });
    const base = `http://127.0.0.1:${port}`;

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      // Only this hub: nothing else may be fetched.
      const requested: string[] = [];
      page.on("request", (request) => requested.push(request.url()));

      // Without the token: a clear 401.
      const denied = await page.goto(`${base}/`);
      expect(denied?.status()).toBe(401);
      await expect(page.locator("body").textContent()).resolves.toMatch(/needs its token/);

      // ?token= once: redirected to / with a cookie; the page goes live.
      const response = await page.goto(`${base}/?token=${TOKEN}`);
      expect(response?.status()).toBe(200);
      expect(new URL(page.url()).search).toBe("");
      await page.locator("#state", { hasText: "live" }).waitFor({ timeout: 15_000 });
      const clients = page.locator("tr.client");
      await expect
        .poll(async () => (await clients.allTextContents()).join("\n"), { timeout: 15_000 })
        .toMatch(/alpha[\s\S]*127\.0\.0\.1:\d+/);
      const all = (await clients.allTextContents()).join("\n");
      expect(all).toContain(EVIL); // shown as text …
      expect(await page.locator("img").count()).toBe(0); // … never as markup
      expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
      await expect(page.locator("tr.change").first().textContent()).resolves.toContain("first.txt");

      // A change written to a folder shows up without a reload.
      await writeFile(nodePath.join(a, "live-change.txt"), "seen live\n");
      await beta.waitForEvent((e) => e.event === "applied" && e.path === "live-change.txt", 15_000);
      await page.locator("tr.change", { hasText: "live-change.txt" }).waitFor({ timeout: 15_000 });
      expect(await page.locator("svg polyline.in").count()).toBe(1);

      const shot = nodePath.join(root, "hub-page.png");
      await page.screenshot({ path: shot, fullPage: true });
      const png = await readFile(shot);
      expect((await stat(shot)).size).toBeGreaterThan(1000);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

      expect(errors).toEqual([]);
      expect(requested.every((r) => r.startsWith(`${base}/`))).toBe(true);
    } finally {
      await context.close();
    }
  });
});
