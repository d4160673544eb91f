// The workbench page (public/workbench/) in a real browser: Debian's Chromium driven by playwright-core against
// `npm start`. Signals go in over HTTP as a producer would send them; the test checks what a person sees (score,
// status colour, rows), then drops the connection by restarting the service and checks that the page resumes
// with `after` = its last cursor: every signal published meanwhile shows up once.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.mjs";
import { computeScore } from "../../src/domain/score";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";

const root = resolve(import.meta.dirname, "..", "..");
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

    await page.click("#advanced summary");
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
      await other.click("#advanced summary");
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

describe("workbench: why the score moves", () => {
  type Sig = { source: string; type: string; value: number; weight: number };
  /** The breakdown by `key` computed here from the signals as sent: the table's text, worst pull first. */
  function expectedRows(sent: Sig[], key: "source" | "type"): string[][] {
    const totalW = sent.reduce((a, s) => a + s.weight, 0);
    const mean = sent.reduce((a, s) => a + s.value * s.weight, 0) / totalW;
    const fmt = (n: number) => String(Number(n.toFixed(4)));
    return [...new Set(sent.map((s) => s[key]))]
      .map((name) => {
        const own = sent.filter((s) => s[key] === name);
        const w = own.reduce((a, s) => a + s.weight, 0);
        const pull = (w / totalW) * (own.reduce((a, s) => a + s.value * s.weight, 0) / w - mean);
        const shown = Number(pull.toFixed(4)) || 0;
        return {
          pull,
          row: [
            name,
            String(own.length),
            `${((w / totalW) * 100).toFixed(1)} %`,
            fmt(computeScore(own.map((s) => ({ v: s.value, w: s.weight })))),
            `${shown > 0 ? "+" : ""}${fmt(shown)}`,
          ],
        };
      })
      .sort((a, b) => a.pull - b.pull)
      .map((x) => x.row);
  }

  it("explains the score by source and type, filters signals by source, and marks a status change", async () => {
    const tenant = `wb-why-${Date.now().toString(36)}`;
    const tenantToken = await mintToken(tenant, "coherence:read coherence:write");
    const why = await context.newPage();
    const consoleErrors: string[] = [];
    why.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    why.on("pageerror", (e) => consoleErrors.push(String(e)));
    try {
      await why.setViewportSize({ width: 1280, height: 1100 });
      await why.goto(`${service.baseUrl}/workbench/`);
      await why.click("#advanced summary");
      await why.fill("#tenant", tenant);
      await why.fill("#token", tenantToken);
      await why.click("#connect");
      await expect.poll(() => why.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("live");

      const sent: Sig[] = [];
      const send = async (batch: Sig[]) => {
        const base = sent.length;
        const res = await fetch(`${service.baseUrl}/v1/coherence/signals`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${tenantToken}` },
          body: JSON.stringify({
            signals: batch.map((s, i) => ({
              tenantId: tenant,
              signalId: `why-${base + i}`,
              ts: new Date(Date.now() - 30_000).toISOString(),
              ...s,
            })),
          }),
        });
        expect(res.status, await res.text()).toBe(202);
        sent.push(...batch);
      };
      // Healthy first …
      await send([
        { source: "edge-eu", type: "latency", value: 0.95, weight: 2 },
        { source: "edge-us", type: "latency", value: 0.9, weight: 1 },
        { source: "db-primary", type: "errors", value: 0.8, weight: 1 },
      ]);
      await expect.poll(() => why.textContent("#status"), { timeout: 15_000 }).toBe("HEALTHY");
      // … then the database goes bad and drags the score to CRITICAL.
      await send([
        { source: "db-primary", type: "errors", value: 0.05, weight: 6 },
        { source: "db-primary", type: "saturation", value: 0.1, weight: 3 },
      ]);
      await expect.poll(() => why.textContent("#status"), { timeout: 15_000 }).toBe("CRITICAL");

      const rows = (id: string) =>
        why
          .locator(`#${id} tr`)
          .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? "")));
      await expect.poll(() => rows("by-source"), { timeout: 15_000 }).toEqual(expectedRows(sent, "source"));
      expect(await rows("by-type")).toEqual(expectedRows(sent, "type"));
      expect((await rows("by-source"))[0]?.[0]).toBe("db-primary");

      // The status change is marked (and listed, the chart's text alternative).
      await expect
        .poll(() => why.locator("#status-changes li").allTextContents(), { timeout: 15_000 })
        .toContainEqual(expect.stringContaining("HEALTHY → CRITICAL"));

      // Clicking a source (keyboard works too) shows only its signals; again shows all.
      await why.locator("#by-source button", { hasText: "db-primary" }).focus();
      await why.keyboard.press("Enter");
      const visible = () => why.locator("#signals tr:not([hidden]) td:nth-child(5)").allTextContents();
      await expect.poll(visible).toEqual(["db-primary", "db-primary", "db-primary"]);
      expect(await why.isVisible("#filter")).toBe(true);
      await why.click("#filter button");
      await expect.poll(async () => (await visible()).length).toBe(sent.length);

      mkdirSync(join(root, ".tmp"), { recursive: true });
      await why.screenshot({ path: join(root, ".tmp", "workbench-1280.png"), fullPage: true });
      await why.setViewportSize({ width: 360, height: 900 });
      // Usable at 360 px: nothing wider than the viewport but the tables' own scrolling boxes.
      const overflow = await why.evaluate(() => document.documentElement.scrollWidth);
      expect(overflow).toBeLessThanOrEqual(360);
      await why.screenshot({ path: join(root, ".tmp", "workbench-360.png"), fullPage: true });
      expect(consoleErrors).toEqual([]);
    } finally {
      await why.close();
    }
  });
});
