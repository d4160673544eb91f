// The operators' overview benchmark (`node bench/overview.mjs`; also at the end of `npm run bench` unless
// BENCH_OVERVIEW=0): 1,000 tenants with signals, then Debian's Chromium (playwright-core) loads
// /workbench/overview.html with an operator token and we measure, per page load, the time from navigation start to
// the first paint of the complete table (the page's `overview:first-paint` mark, set one frame after it rendered
// every row of the first snapshot), check that it holds all the tenants, that it stays live (a change to tenant #n
// reaches its row) and that the page opened exactly one WebSocket.
//
// Baseline, measured in the same run with the same browser and flags: the platform's hello-world Worker
// (bench/hello-world, `new Response("ok")`, nothing of ours) loaded the same way — its first contentful paint
// after navigation start, under the same wrangler, Node and flags. Timings never fail the bench: it exits 0 unless
// a service or the browser cannot be driven, or a service printed error lines (the log guard).
//
// Settings (environment): OV_TENANTS (1000), OV_LOADS page loads per side (5), OV_SIGNALS per tenant (3).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { importPKCS8, SignJWT } from "jose";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, ensureChromium } from "../scripts/lib/chromium.mjs";
import { devKeys } from "../scripts/lib/dev-jwt.mjs";
import { mintToken, startService, startWorker } from "../test/support/harness.ts";
import { dropScratch, gitRevision, hostInfo, loadText, packageVersion, percentile, runFailed, sleep } from "./lib.mjs";

const root = resolve(import.meta.dirname, "..");
const TENANTS = positiveInt(process.env.OV_TENANTS, 1000);
const LOADS = positiveInt(process.env.OV_LOADS, 5);
const SIGNALS = positiveInt(process.env.OV_SIGNALS, 3);
const CONCURRENCY = 16;
const TARGET_MS = 1000;
const STARTUP_TIMEOUT_MS = 90_000;

function positiveInt(raw, fallback) {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}

const log = (message) => process.stderr.write(`[bench:overview] ${message}\n`);
const median = (xs) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const ms = (x) => (x === null || x === undefined ? "–" : `${Math.round(x)} ms`);

/** Tenant tokens signed here with the dev key `npm start` trusts (a thousand `npm run token` runs would take minutes). */
async function tokenSigner() {
  const key = await importPKCS8((await devKeys()).privatePem, "ES256");
  return (tenant, scope) =>
    new SignJWT({ tenant, scope }).setProtectedHeader({ alg: "ES256" }).setIssuedAt().setExpirationTime("1h").sign(key);
}

/** `id` of tenant `i`, zero-padded so that ids sort like their numbers. */
const tenantId = (run, i) => `ovb-${run}-${String(i).padStart(5, "0")}`;

/** Signals for tenant `i`: values spread over every status, so the order is worth checking. */
function signalsFor(tenant, i, ts) {
  return Array.from({ length: SIGNALS }, (_, k) => ({
    tenantId: tenant,
    signalId: `s-${k}`,
    type: "latency",
    source: "bench-overview",
    value: ((i * 37 + k * 11) % 101) / 100,
    ts,
  }));
}

async function ingest(baseUrl, token, signals) {
  const res = await fetch(`${baseUrl}/v1/coherence/signals`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ signals }),
  });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

/** Creates `TENANTS` tenants, `CONCURRENCY` requests at a time. */
async function seed(baseUrl, sign, run) {
  const ts = new Date(Date.now() - 60_000).toISOString();
  let next = 0;
  const worker = async () => {
    while (next < TENANTS) {
      const i = next++;
      const tenant = tenantId(run, i);
      await ingest(baseUrl, await sign(tenant, "coherence:write"), signalsFor(tenant, i, ts));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Waits until the directory lists every tenant of the run (the tenants' objects report within ~2 s). */
async function awaitDirectory(baseUrl, operatorToken) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await fetch(`${baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${operatorToken}` },
      body: JSON.stringify({ id: "pq_tenants_overview_v1", variables: { first: 1 } }),
    });
    const total = (await res.json())?.data?.tenantsOverview?.total ?? 0;
    if (total >= TENANTS) return total;
    if (Date.now() > deadline) throw new Error(`the directory lists ${total} of ${TENANTS} tenants after 120 s`);
    await sleep(500);
  }
}

/** One load of the overview page in a fresh browser context: navigation start → complete table painted. */
async function loadOverview(browser, baseUrl, operatorToken, keepOpen = false) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript((t) => sessionStorage.setItem("workbench.token", t), operatorToken);
  const page = await context.newPage();
  const sockets = [];
  const problems = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${baseUrl}/workbench/overview.html`);
  await page.waitForFunction(() => performance.getEntriesByName("overview:first-paint").length > 0, null, {
    timeout: 30_000,
  });
  const result = await page.evaluate(() => {
    const mark = performance.getEntriesByName("overview:first-paint")[0];
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    return {
      firstPaintMs: mark?.startTime ?? null,
      rowsAtMark: mark?.detail ?? null,
      rowsInDom: document.querySelectorAll("#rows tr").length,
      shellFcpMs: fcp?.startTime ?? null,
    };
  });
  if (!keepOpen) await context.close();
  return { ...result, sockets, problems, page, context };
}

/** One load of the hello-world Worker in a fresh context: navigation start → first contentful paint. */
async function loadBaseline(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, {
    timeout: 30_000,
  });
  const fcp = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null);
  await context.close();
  return fcp;
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), "coherence-bench-overview-"));
  const run = Date.now().toString(36);
  let service;
  let hello;
  let browser;
  try {
    const executablePath = ensureChromium();
    log("starting the hello-world Worker (baseline) and the service");
    hello = await startWorker({
      cwd: join(root, "bench", "hello-world"),
      logLevel: "warn",
      args: ["--test-scheduled"],
      logFile: join(scratch, "hello.log"),
      timeoutMs: STARTUP_TIMEOUT_MS,
    });
    service = await startService({
      defaults: { RPS_MAX: "1000000", WRANGLER_LOG: "warn", LOG_LEVEL: "warn" },
      stateDir: join(scratch, "state"),
      logFile: join(scratch, "service.log"),
      timeoutMs: STARTUP_TIMEOUT_MS,
    });
    const sign = await tokenSigner();
    const operatorToken = await mintToken("*", "coherence:read");

    log(`creating ${TENANTS} tenants with ${SIGNALS} signals each`);
    const seedStart = performance.now();
    await seed(service.baseUrl, sign, run);
    const seedMs = performance.now() - seedStart;
    const listed = await awaitDirectory(service.baseUrl, operatorToken);
    log(`seeded in ${ms(seedMs)}; the directory lists ${listed} tenants`);

    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    // One warm-up load per side (the isolates' first requests, Chromium's first process), then LOADS each,
    // alternating so that drift of the machine hits both alike.
    await loadBaseline(browser, hello.baseUrl);
    await loadOverview(browser, service.baseUrl, operatorToken);
    const overview = [];
    const baseline = [];
    for (let i = 0; i < LOADS; i++) {
      baseline.push(await loadBaseline(browser, hello.baseUrl));
      const o = await loadOverview(browser, service.baseUrl, operatorToken);
      overview.push(o);
      log(`load ${i + 1}: overview ${ms(o.firstPaintMs)} (${o.rowsInDom} rows), hello-world ${ms(baseline.at(-1))}`);
    }

    // Live: one page stays open; tenant #n changes; time from its ingest's 202 to its row showing the new score.
    const live = await loadOverview(browser, service.baseUrl, operatorToken, true);
    const n = Math.floor(TENANTS / 2);
    const target = tenantId(run, n);
    const ingestStart = performance.now();
    await ingest(service.baseUrl, await sign(target, "coherence:write"), [
      { tenantId: target, signalId: "live-1", type: "latency", source: "bench-overview", value: 0, weight: 1000 },
    ]);
    const acceptedAt = performance.now();
    await live.page.waitForFunction(
      (id) =>
        document.querySelector(`#rows tr[data-tenant="${id}"]`)?.getAttribute("data-status") === "CRITICAL" &&
        document.querySelector("#rows tr")?.getAttribute("data-tenant") === id,
      target,
      { timeout: 30_000, polling: 50 },
    );
    const liveMs = performance.now() - acceptedAt;
    const liveSockets = live.sockets.length;
    await live.context.close();
    log(
      `live change of tenant #${n} shown at the top ${ms(liveMs)} after its ingest (${ms(acceptedAt - ingestStart)} ingest)`,
    );

    await browser.close();
    browser = undefined;
    await service.halt();
    await hello.halt();
    const serviceErrors = service.logReport();
    const helloErrors = hello.logReport();

    const firstPaints = overview.map((o) => o.firstPaintMs).filter((x) => x !== null);
    const fullLoads = overview.filter((o) => o.rowsAtMark >= TENANTS && o.rowsInDom >= TENANTS).length;
    const socketsPerLoad = [...new Set(overview.map((o) => o.sockets.length))];
    const problems = overview.flatMap((o) => o.problems).concat(live.problems);
    const med = median(firstPaints);
    const base = median(baseline.filter((x) => x !== null));
    const host = hostInfo();
    const lines = [
      "# Operators' overview: first paint of 1,000 tenants, and liveness",
      "",
      `Measured by \`node bench/overview.mjs\` on ${new Date().toISOString()} (commit ${gitRevision()}); ` +
        `${host.nproc} cores (${host.cpu}), ${host.memGiB} GiB, Node ${host.node}, wrangler ${host.wrangler}, ` +
        `playwright-core ${packageVersion("playwright-core")} driving Debian's Chromium headless; load average ` +
        `${loadText()} at the end. Browser, service and baseline share the machine's cores.`,
      "",
      `Setup: ${TENANTS} tenants created through \`POST /v1/coherence/signals\` (${SIGNALS} signals each, ` +
        `${ms(seedMs)} with ${CONCURRENCY} requests in flight), listed by the directory before any page load. ` +
        `Each load is a fresh browser context that hands the operator token over in sessionStorage ` +
        `(\`workbench.token\`), so the time includes the HTML, script and styles, the realtime ticket, the ` +
        "WebSocket, `connection_init`, the subscription's snapshot (two messages of 500 rows) and the rendering of " +
        "every row. First paint = the page's `overview:first-paint` mark, set one animation frame after the whole " +
        "table was rendered, in ms after navigation start.",
      "",
      `Baseline (not ours): the platform's hello-world Worker (\`bench/hello-world\`, \`new Response("ok")\`) under ` +
        "the same wrangler, Node and flags, loaded in the same browser in the same run, alternating with the " +
        "overview's loads: its first contentful paint after navigation start.",
      "",
      "| figure | value |",
      "|---|---|",
      `| overview: first paint of all ${TENANTS} rows, median of ${firstPaints.length} loads | **${ms(med)}** (target ≤ ${TARGET_MS} ms: ${med !== null && med <= TARGET_MS ? "met" : "missed"}) |`,
      `| overview: min / max | ${ms(Math.min(...firstPaints))} / ${ms(Math.max(...firstPaints))} |`,
      `| overview: page shell's first contentful paint, median | ${ms(median(overview.map((o) => o.shellFcpMs).filter((x) => x !== null)))} |`,
      `| baseline: hello-world Worker first contentful paint, median of ${baseline.length} loads | ${ms(base)} |`,
      `| overview ÷ baseline | ${med !== null && base ? (med / base).toFixed(1) : "–"}× |`,
      `| loads whose first paint held all ${TENANTS} rows | ${fullLoads} of ${overview.length} |`,
      `| WebSockets per load | ${socketsPerLoad.join(", ")} |`,
      `| live: tenant #${n} changed → its row at the top, after the ingest's 202 | ${ms(liveMs)} (WebSockets on that page: ${liveSockets}) |`,
      `| console errors in the pages | ${problems.length} |`,
      `| error lines printed by the service / hello-world Worker | ${serviceErrors ? "some (see below)" : 0} / ${helloErrors ? "some" : 0} |`,
      "",
      "Every load, first paint in ms: " +
        firstPaints.map((x) => Math.round(x)).join(", ") +
        "; baseline: " +
        baseline.map((x) => (x === null ? "–" : Math.round(x))).join(", ") +
        ".",
      "",
      "The live figure includes the tenant's object reporting to the directory (at most every 2 s while its score " +
        "changes, `DIRECTORY_REPORT_MS`), the overview's coalescing window (500 ms, the first change after a quiet " +
        "spell at once) and the page re-ordering its rows.",
      "",
      ...(serviceErrors ? ["Service log guard:", "", "```", serviceErrors, "```", ""] : []),
    ];
    writeFileSync(join(root, "bench", "RESULTS-overview.md"), `${lines.join("\n")}\n`);
    log(`wrote bench/RESULTS-overview.md: first paint median ${ms(med)}, baseline ${ms(base)}`);
    if (serviceErrors || helloErrors) {
      log(`error lines in the output:\n${serviceErrors ?? ""}\n${helloErrors ?? ""}`);
      return 1;
    }
    if (problems.length > 0) {
      log(`console errors in the pages: ${problems.join("; ")}`);
      return 1;
    }
    if (fullLoads !== overview.length || socketsPerLoad.some((s) => s !== 1) || liveSockets !== 1) {
      log("a load did not show every tenant over exactly one WebSocket");
      return 1;
    }
    return 0;
  } catch (err) {
    return runFailed(log, err);
  } finally {
    await browser?.close().catch(() => {});
    await service?.halt().catch(() => {});
    await hello?.halt().catch(() => {});
    dropScratch(scratch, log);
  }
}

process.exitCode = await main();
