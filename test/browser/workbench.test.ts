// The workbench page (public/workbench/) in a real browser: Debian's Chromium driven by playwright-core against
// `npm start`. Signals go in over HTTP as a producer would send them; the test checks what a person sees (score,
// status colour, rows), then drops the connection by restarting the service and checks that the page resumes
// with `after` = its last cursor: every signal published meanwhile shows up once.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { ensureChromium } from "../../scripts/lib/chromium.mjs";
import { computeScore } from "../../src/domain/score";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";

const root = resolve(import.meta.dirname, "..", "..");
/** Debian's flags for a headless Chromium on a machine without internet (see the env doc). */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The page's status colours (public/workbench/style.css), as getComputedStyle reports them. */
const COLOURS = { HEALTHY: "rgb(26, 127, 55)", WARN: "rgb(178, 107, 0)", CRITICAL: "rgb(198, 40, 40)" };

interface Sent {
  signalId: string;
  value: number;
  weight: number;
}

let service: RunningService;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let tenantId: string;
let token: string;
/** Every text frame the page sent on any of its WebSockets, in order. */
const framesSent: Array<{ at: number; frame: Record<string, unknown> }> = [];
const published: Sent[] = [];

beforeAllOrFail(async () => {
  const executablePath = ensureChromium();
  service = await startService();
  tenantId = `wb-${Date.now().toString(36)}`;
  token = await mintToken(tenantId, "coherence:read coherence:write");
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  page = await context.newPage();
  page.on("websocket", (ws) => {
    ws.on("framesent", ({ payload }) => {
      if (typeof payload === "string") framesSent.push({ at: Date.now(), frame: JSON.parse(payload) });
    });
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

/** Publishes signals for the test tenant over `POST /v1/coherence/signals` and remembers them. */
async function publish(batch: Array<[id: string, value: number, weight: number]>): Promise<void> {
  const ts = new Date(Date.now() - 60_000).toISOString();
  const signals = batch.map(([signalId, value, weight]) => ({
    tenantId,
    signalId,
    type: "latency",
    source: "browser-test",
    value,
    weight,
    ts,
  }));
  const res = await fetch(`${service.baseUrl}/v1/coherence/signals`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ signals }),
  });
  expect(res.status, await res.text()).toBe(202);
  published.push(...batch.map(([signalId, value, weight]) => ({ signalId, value, weight })));
}

/** The signal ids in the table, top to bottom. */
function tableIds(): Promise<string[]> {
  return page.locator("#signals tr td:first-child").allTextContents();
}

/** Waits until the page shows `computeScore` of everything published, and checks status text and colour. */
async function expectScoreOfPublished(status: keyof typeof COLOURS): Promise<void> {
  const want = computeScore(published.map((s) => ({ v: s.value, w: s.weight })));
  await expect.poll(async () => Number(await page.textContent("#score")), { timeout: 15_000 }).toBe(want);
  expect(await page.textContent("#status")).toBe(status);
  expect(await page.getAttribute("#score", "class")).toBe(`status-${status}`);
  expect(await page.locator("#score").evaluate((e) => getComputedStyle(e).color)).toBe(COLOURS[status]);
}

describe("workbench page", () => {
  it("shows the live score with its status colour and new signals newest first", async () => {
    const res = await page.goto(`${service.baseUrl}/workbench`);
    expect(res?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/workbench/");
    expect(await page.getAttribute("#token", "type")).toBe("password");

    await page.fill("#tenant", tenantId);
    await page.fill("#token", token);
    await page.click("#connect");
    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("live");
    // A new tenant: the score subscription answers once on subscribe, with nothing in the window.
    await expect.poll(() => page.textContent("#status")).toBe("UNKNOWN");

    await publish([
      ["wb-1", 0.9, 2],
      ["wb-2", 0.4, 1],
      ["wb-3", 0.6, 1],
    ]);
    await expectScoreOfPublished("WARN");
    await expect.poll(tableIds, { timeout: 15_000 }).toEqual(["wb-3", "wb-2", "wb-1"]);
    const firstRow = await page.locator("#signals tr").first().locator("td").allTextContents();
    expect(firstRow.slice(1, 5)).toEqual(["latency", "0.6", "1", "browser-test"]);

    // The tenant is remembered for the next visit; the token never is.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    expect(stored).toContain(tenantId);
    expect(stored).not.toContain(token);
  });

  it("resumes after a dropped connection with `after` and shows what was missed exactly once", async () => {
    const lastCursor = await page.locator("#signals tr").first().getAttribute("data-cursor");
    expect(lastCursor).toBeTruthy();

    // Drop: stop the service; the page notices and starts retrying.
    const { port, stateDir } = service;
    await service.stop();
    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("reconnecting");

    // Keep the page away while the service comes back and more signals are accepted, so that they can only
    // reach it through replay.
    await context.setOffline(true);
    const offlineSince = Date.now();
    service = await startService({ port, stateDir });
    await publish([
      ["wb-4", 1, 4],
      ["wb-5", 0.95, 1],
      ["wb-6", 0.85, 1],
    ]);
    const initsWhileOffline = framesSent.filter((f) => f.at >= offlineSince && f.frame.type === "connection_init");
    expect(initsWhileOffline).toEqual([]);
    const resumedFrom = framesSent.length;
    await context.setOffline(false);

    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 30_000 }).toBe("live");
    await expectScoreOfPublished("HEALTHY");
    await expect.poll(tableIds, { timeout: 15_000 }).toEqual(["wb-6", "wb-5", "wb-4", "wb-3", "wb-2", "wb-1"]);

    // The page resubscribed with the cursor of the last row it had shown.
    const resubscribe = framesSent
      .slice(resumedFrom)
      .map((f) => f.frame as { type?: string; payload?: { id?: string; variables?: Record<string, unknown> } })
      .find((f) => f.type === "subscribe" && f.payload?.id === "pq_coherence_events_v1");
    expect(resubscribe?.payload?.variables).toEqual({ tenantId, after: lastCursor });

    const shot = join(root, ".tmp", "workbench.png");
    mkdirSync(join(root, ".tmp"), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
  });

  it("answers the server's flow-control ping with a pong echoing its payload", async () => {
    // The server pings every 250 events (src/realtime/coalesce.ts): a burst of 260 brings one.
    const before = framesSent.length;
    await publish(Array.from({ length: 260 }, (_, i) => [`wb-burst-${i}`, 0.5, 1] as [string, number, number]));
    await expect
      .poll(() => framesSent.slice(before).find((f) => f.frame.type === "pong")?.frame, { timeout: 15_000 })
      .toMatchObject({ type: "pong", payload: { n: expect.any(Number) } });
  });

  it("says why and stops retrying when the token is refused (its realtime ticket request answers 401)", async () => {
    const other = await context.newPage();
    try {
      await other.goto(`${service.baseUrl}/workbench/`);
      expect(await other.inputValue("#tenant")).toBe(tenantId); // remembered from the first visit
      expect(await other.inputValue("#token")).toBe("");
      await other.fill("#token", `${token}x`);
      await other.click("#connect");
      await expect.poll(() => other.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("error");
      expect(await other.textContent("#conn")).toContain("refused (401)");
      expect(await other.textContent("#connect")).toBe("Connect");
    } finally {
      await other.close();
    }
  });
});
