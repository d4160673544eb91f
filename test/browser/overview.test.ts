// The operators' overview page (public/workbench/overview.html) in a real browser: Debian's Chromium driven by
// playwright-core against `npm start`. Tenants created here with distinct scores must be listed worst first over one
// WebSocket, a live change must re-order a row, a tenant's token must be refused, and the page must work at 360 px
// and from the keyboard. Screenshots go to .evidence/ui/.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.mjs";
import { computeScore } from "../../src/domain/score";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";

const root = resolve(import.meta.dirname, "..", "..");
const evidence = join(root, ".evidence", "ui");
const RANK: Record<string, number> = { CRITICAL: 0, WARN: 1, HEALTHY: 2, UNKNOWN: 3 };

let service: RunningService;
let browser: Browser;
let context: BrowserContext;
let operatorToken: string;
const run = Date.now().toString(36);
/** The tenants this test creates, each with the values it sent. */
const tenants = new Map<string, number[]>();

beforeAllOrFail(async () => {
  const executablePath = ensureChromium();
  service = await startService();
  operatorToken = await mintToken("*", "coherence:read");
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

/** Sends `values` as signals of `tenant` (its own token, as a producer would). */
async function publish(tenant: string, values: number[]): Promise<void> {
  const token = await mintToken(tenant, "coherence:write");
  const base = tenants.get(tenant)?.length ?? 0;
  const res = await fetch(`${service.baseUrl}/v1/coherence/signals`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      signals: values.map((value, i) => ({
        tenantId: tenant,
        signalId: `ov-${base + i}`,
        type: "latency",
        source: "overview-test",
        value,
        ts: new Date(Date.now() - 30_000).toISOString(),
      })),
    }),
  });
  expect(res.status, await res.text()).toBe(202);
  tenants.set(tenant, [...(tenants.get(tenant) ?? []), ...values]);
}

/** A tenant's score and status computed here from what was sent (contract §4). */
function expected(tenantId: string): { tenantId: string; score: number; status: string } {
  const score = computeScore((tenants.get(tenantId) ?? []).map((v) => ({ v })));
  const status = score >= 0.75 ? "HEALTHY" : score >= 0.5 ? "WARN" : "CRITICAL";
  return { tenantId, score, status };
}

/** The test's tenants in worst-first order, computed here from what was sent. */
function expectedOrder(): string[] {
  return [...tenants.keys()]
    .map(expected)
    .sort(
      (a, b) =>
        (RANK[a.status] as number) - (RANK[b.status] as number) ||
        a.score - b.score ||
        a.tenantId.localeCompare(b.tenantId),
    )
    .map((r) => r.tenantId);
}

/** The tenants of this run as the table lists them, top to bottom. */
function listed(page: Page): Promise<string[]> {
  return page
    .locator("#rows tr")
    .evaluateAll(
      (trs, prefix) => trs.map((tr) => tr.getAttribute("data-tenant") ?? "").filter((t) => t.startsWith(prefix)),
      `ov-${run}-`,
    );
}

describe("the operator overview", () => {
  it("lists tenants created by the test in worst-first order, live, over one WebSocket", async () => {
    await publish(`ov-${run}-alpha`, [0.9, 0.95]);
    await publish(`ov-${run}-bravo`, [0.2, 0.3]);
    await publish(`ov-${run}-charlie`, [0.6, 0.65]);
    await publish(`ov-${run}-delta`, [0.8, 0.7, 0.9]);

    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));

    const res = await page.goto(`${service.baseUrl}/workbench/overview.html`);
    expect(res?.status()).toBe(200);
    expect(await page.getAttribute("#token", "type")).toBe("password");
    await page.fill("#token", operatorToken);
    await page.press("#token", "Enter");
    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("live");
    // The tenants' objects report to the directory within seconds of a change.
    await expect.poll(() => listed(page), { timeout: 20_000 }).toEqual(expectedOrder());

    // Each row shows what was sent: status, score, signals in the window, an age with the local time on hover.
    const worst = expectedOrder()[0] as string;
    const cells = await page.locator(`#rows tr[data-tenant="${worst}"] td`).allTextContents();
    const want = expected(worst);
    expect(cells.slice(1, 4)).toEqual([want.status, String(want.score), String(tenants.get(worst)?.length)]);
    expect(cells[4]).toMatch(/^\d+ (s|min) ago$/);
    expect(await page.locator(`#rows tr[data-tenant="${worst}"] td`).nth(4).getAttribute("title")).toBeTruthy();
    expect(await page.locator(`#rows tr[data-tenant="${worst}"] a`).getAttribute("title")).toBe(worst);

    // A live change: alpha, the healthiest, goes critical and moves to the top without a reload.
    await publish(`ov-${run}-alpha`, [0, 0, 0, 0, 0, 0, 0, 0]);
    expect(expectedOrder()[0]).toBe(`ov-${run}-alpha`);
    await expect.poll(() => listed(page), { timeout: 20_000 }).toEqual(expectedOrder());

    // One subscription for every tenant: exactly one WebSocket, on the operators' path.
    expect(sockets).toHaveLength(1);
    expect(new URL(sockets[0] as string).pathname).toBe("/v1/tenants/*/graphql");

    mkdirSync(evidence, { recursive: true });
    await page.screenshot({ path: join(evidence, "overview-1280.png"), fullPage: true });
    await page.setViewportSize({ width: 360, height: 800 });
    // Usable at 360 px: nothing wider than the viewport but the table's own scrolling box.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(evidence, "overview-360.png"), fullPage: true });

    expect(problems, "console errors or failed requests on the overview page").toEqual([]);

    // Keyboard: the first tenant's link is reachable with Tab, and Enter opens it in the workbench.
    await page.setViewportSize({ width: 1280, height: 900 });
    const first = await page.locator("#rows tr").first().getAttribute("data-tenant");
    await page.focus("#connect");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.closest("tr")?.getAttribute("data-tenant"))).toBe(first);
    await page.keyboard.press("Enter");
    await page.waitForURL((url) => url.pathname === "/workbench/");
    expect(new URL(page.url()).searchParams.get("tenant")).toBe(first);
    await page.close();
  });

  it("connects with a token handed over in sessionStorage (workbench.token), as a sign-in would", async () => {
    const page = await context.newPage();
    await page.addInitScript((token) => sessionStorage.setItem("workbench.token", token), operatorToken);
    await page.goto(`${service.baseUrl}/workbench/overview.html`);
    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("live");
    await expect.poll(() => listed(page), { timeout: 15_000 }).toEqual(expectedOrder());
    // The page reads the hand-over; it never writes a token anywhere.
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(operatorToken);
    await page.close();
  });

  it("refuses a tenant's token and shows no tenant", async () => {
    const page = await context.newPage();
    const tenantToken = await mintToken(`ov-${run}-bravo`, "coherence:read");
    await page.goto(`${service.baseUrl}/workbench/overview.html`);
    await page.fill("#token", tenantToken);
    await page.click("#connect");
    await expect.poll(() => page.getAttribute("#conn", "data-state"), { timeout: 15_000 }).toBe("error");
    expect(await page.textContent("#conn")).toContain("refused (403)");
    expect(await page.locator("#rows tr").count()).toBe(0);
    await page.screenshot({ path: join(evidence, "overview-refused.png") });
    await page.close();
  });
});
