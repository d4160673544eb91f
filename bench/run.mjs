// `npm run bench`: load-tests the local service (`npm start` = wrangler dev / workerd) with autocannon and writes
// bench/RESULTS.md. The baseline is something we did not write: the platform's hello-world Worker
// (bench/hello-world/, `export default { fetch() { return new Response("ok") } }`), started with the same wrangler,
// Node and flags, at the same wrangler log level (warn), and measured in the same run, before and after the
// service's figures. Every figure is a ratio to it at the same number of connections. Our `/healthz` is a
// second figure, never the baseline.
//
// Then "cost of each layer": the persisted read with one layer switched off at a time (DEV_LAYERS_OFF, a
// development/test-only setting; LOG_LEVEL=info for the per-request log line), each in a fresh service, and the
// hello-world Worker with and without the static-asset router in front of it. Every service log of the run is
// read by the log guard (test/support/log-guard.ts): the count of error lines is reported and must be 0.
//
// Timings never fail the bench: it exits 0 unless a service cannot be started or driven at all, or printed error
// lines. BENCH_SECONDS (default 8) sets each measured phase. Afterwards it runs bench/realtime.mjs, bench/sinks.mjs,
// bench/kafka.mjs, bench/client.mjs, bench/overview.mjs and bench/finops-reconcile.mjs in child processes
// (BENCH_REALTIME=0, BENCH_SINKS=0, BENCH_KAFKA=0, BENCH_CLIENT=0, BENCH_OVERVIEW=0 and BENCH_FINOPS=0 skip them; the
// FinOps reconciliation fails the run when a unit differs by more than 1 %) and BENCH_LAYERS=0 skips the layer table.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { mintToken, startService, startWorker } from "../test/support/harness.ts";
import { dropScratch, gitRevision, hostInfo, loadText, packageVersion, percentile, runFailed } from "./lib.mjs";

const root = resolve(import.meta.dirname, "..");
const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 8);
const WARMUP_SECONDS = 2;
const TENANT = "bench-tenant";
const SCOPE = "coherence:read coherence:write";
const BATCH_SIZE = 1000;
const STARTUP_TIMEOUT_MS = 90_000;
const REALTIME = process.env.BENCH_REALTIME !== "0";
const SINKS = process.env.BENCH_SINKS !== "0";
const KAFKA = process.env.BENCH_KAFKA !== "0";
const CLIENT = process.env.BENCH_CLIENT !== "0";
const OVERVIEW = process.env.BENCH_OVERVIEW !== "0";
const FINOPS = process.env.BENCH_FINOPS !== "0";
const LAYERS = process.env.BENCH_LAYERS !== "0";

/** The issue's targets: ratios to the hello-world Worker at the same connections, same run. */
const TARGETS = { read: 0.55, ingest: 0.45, mutation: 0.45, healthz: 0.85, batchSignalsPerSec: 60_000 };

function positiveNumber(raw, fallback) {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

// ------------------------------------------------------------------------------------------------ processes

/**
 * `npm start` as the bench runs it: the per-tenant limit raised on purpose (docs/api.md §5.3), so 429s never cap
 * a figure, and wrangler and the service at log level warn (the environment may override all three).
 */
const SERVICE_DEFAULTS = { RPS_MAX: "1000000", WRANGLER_LOG: "warn", LOG_LEVEL: "warn" };

/**
 * A Worker of ours or not (`dir` holds its wrangler.toml) under the project's wrangler and Node with `npm start`'s
 * flags, at log level warn; `--test-scheduled` as `npm start` has it (wrangler then wraps fetch in the same dev
 * middleware).
 */
const workerOptions = (dir, logFile, env = {}) => ({
  cwd: dir,
  logLevel: "warn",
  args: ["--test-scheduled"],
  env,
  logFile,
  timeoutMs: STARTUP_TIMEOUT_MS,
});

/** The hello-world Worker with the static-asset router in front (the service's old [assets] configuration). */
function helloWithAssetsDir(scratch) {
  const dir = join(scratch, "hello-assets");
  mkdirSync(join(dir, "public", "workbench"), { recursive: true });
  copyFileSync(join(root, "bench", "hello-world", "index.js"), join(dir, "index.js"));
  writeFileSync(join(dir, "public", "workbench", "index.html"), "<!doctype html><title>x</title>\n");
  writeFileSync(
    join(dir, "wrangler.toml"),
    [
      'name = "hello-world-assets"',
      'main = "index.js"',
      'compatibility_date = "2026-10-01"',
      "[assets]",
      'directory = "./public"',
      'binding = "ASSETS"',
      'run_worker_first = ["/workbench", "/workbench/*"]',
      "",
    ].join("\n"),
  );
  return dir;
}

// ------------------------------------------------------------------------------------------------ bodies

// Each request carries signals never sent before: a run-unique prefix plus a counter (dedupe is by
// source + signalId + ts). The ts sits a minute in the past, well inside the 24 h window.
const runId = Date.now().toString(36);
let counter = 0;
const tsIso = () => new Date(Date.now() - 60_000).toISOString();
let ts = tsIso();

function signalJson() {
  counter++;
  return `{"tenantId":"${TENANT}","type":"latency","source":"bench","value":${(counter % 100) / 100},"signalId":"${runId}-${counter}","ts":"${ts}"}`;
}

function batchJson() {
  const parts = new Array(BATCH_SIZE);
  for (let i = 0; i < BATCH_SIZE; i++) parts[i] = signalJson();
  return `{"signals":[${parts.join(",")}]}`;
}

function mutationJson() {
  counter++;
  return `{"id":"pq_publish_signal_v1","variables":{"input":{"tenantId":"${TENANT}","type":"latency","source":"bench-gql","value":${(counter % 100) / 100},"signalId":"${runId}-m${counter}","ts":"${ts}"}}}`;
}

const READ_BODY = JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } });

// ------------------------------------------------------------------------------------------------ runs

/** One autocannon run (closed loop): 2xx latencies collected here, bodies checked by `verify`. */
async function load(name, opts) {
  const latencies = [];
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds ?? SECONDS,
    timeout: 30,
    ...(opts.verify ? { verifyBody: opts.verify } : {}),
    requests: [
      {
        method: opts.method ?? "GET",
        path: opts.path,
        headers: opts.headers ?? {},
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        ...(opts.setupRequest ? { setupRequest: opts.setupRequest } : {}),
      },
    ],
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const r = await instance;
  latencies.sort((a, b) => a - b);
  const result = {
    name,
    connections: opts.connections,
    duration: Math.round(r.duration * 100) / 100,
    ok2xx: r["2xx"],
    failed: r.non2xx + r.errors + r.mismatches,
    rps: r["2xx"] / r.duration,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
  if (opts.seconds !== WARMUP_SECONDS) {
    log(
      `${name}: ${result.rps.toFixed(1)} req/s, p50 ${fmtMs(result.p50)} p95 ${fmtMs(result.p95)} p99 ${fmtMs(result.p99)}` +
        (result.failed
          ? `, FAILED ${result.failed} (non-2xx ${r.non2xx}, errors ${r.errors}, bad bodies ${r.mismatches})`
          : ""),
    );
  }
  return result;
}

const warmThenMeasure = async (name, opts) => {
  await load(`${name} (warm-up)`, { ...opts, seconds: WARMUP_SECONDS });
  return load(name, opts);
};

const fmtMs = (x) => (x === null || x === undefined ? "–" : `${Number(x).toFixed(1)} ms`);
const fmtRatio = (x) => `${x.toFixed(2)}×`;
const pct = (x) => `${(x * 100).toFixed(0)} %`;

// ------------------------------------------------------------------------------------------------ report

function machineInfo() {
  return {
    ...hostInfo(),
    autocannon: packageVersion("autocannon"),
    commit: gitRevision(),
    loadavg: loadText(),
  };
}

function buildReport(m, r, layers, errorLines) {
  const hello = (c) => Math.max(r[`hello${c}a`].rps, 1e-9) / 2 + Math.max(r[`hello${c}b`].rps, 1e-9) / 2;
  const row = (label, run, base, target) => {
    const ratio = run.rps / base;
    const verdict = target === undefined ? "" : ratio >= target ? `≥ ${target}: met` : `≥ ${target}: **not met**`;
    return `| ${label} | ${run.connections} | ${run.rps.toFixed(0)} | ${fmtMs(run.p50)} | ${fmtMs(run.p95)} | ${fmtRatio(ratio)} | ${verdict} |`;
  };
  const batchRate = (r.batch.ok2xx * BATCH_SIZE) / r.batch.duration;
  const lines = [
    "# HTTP benchmark (`npm run bench`)",
    "",
    `Commit ${m.commit}; ${new Date().toISOString()}; ${m.nproc} cores (${m.cpu}), load average at the start ${m.loadavg};`,
    `Node ${m.node} (the load client), wrangler ${m.wrangler}, autocannon ${m.autocannon}. Client and server share the cores.`,
    "",
    "**Baseline**: the platform's hello-world Worker (`bench/hello-world/`), started in this run with the same wrangler,",
    "Node and flags as `npm start`, both at wrangler log level `warn` and without wrangler's local observability",
    "collector (`X_LOCAL_OBSERVABILITY=false`); the service also at `LOG_LEVEL=warn` (one printed line per request,",
    "like the collector, is a local-dev cost production does not have: see the layer table). Each baseline figure is the",
    "mean of a run before and a run after the service's runs at the same number of connections. All runs are closed",
    `loops (each connection sends its next request when the answer arrives), ${SECONDS} s after a ${WARMUP_SECONDS} s warm-up.`,
    "",
    "| workload | conns | req/s | p50 | p95 | ratio to hello-world | target |",
    "|---|---|---|---|---|---|---|",
    `| hello-world Worker (baseline) | 50 | ${hello(50).toFixed(0)} | – | – | 1.00× | – |`,
    `| hello-world Worker (baseline) | 20 | ${hello(20).toFixed(0)} | – | – | 1.00× | – |`,
    row(
      "reference: hello-world + one Durable Object RPC that upserts one SQLite row (`bench/hello-world-do/`)",
      r.reference,
      hello(50),
    ),
    row("`GET /healthz`", r.healthz, hello(50), TARGETS.healthz),
    row("persisted read `pq_tenant_coherence_v1`", r.read, hello(50), TARGETS.read),
    row("mutation `pq_publish_signal_v1`", r.mutation, hello(20), TARGETS.mutation),
    row("single-signal `POST /v1/coherence/signals`", r.ingest, hello(20), TARGETS.ingest),
    "",
    "The reference row is a measure of the platform, not a route of ours: the least any route that calls a tenant's object (and counts the",
    "request there, exactly) can cost on this stack, so it bounds what the read, mutation and ingest ratios can reach.",
    "",
    `Batch ingest, ${BATCH_SIZE} signals a request, ${r.batch.connections} connections, one tenant: **${Math.round(batchRate).toLocaleString("en")} signals/s**` +
      ` (${r.batch.rps.toFixed(1)} req/s, p95 ${fmtMs(r.batch.p95)}; target ≥ ${TARGETS.batchSignalsPerSec.toLocaleString("en")}: ${batchRate >= TARGETS.batchSignalsPerSec ? "met" : "**not met**"}).`,
    "",
    `Failed requests (non-2xx, errors, wrong bodies) in the measured runs: ${Object.values(r).reduce((a, x) => a + x.failed, 0)}.`,
    `**Service-side error lines in this run** (every service log of the run through the log guard): **${errorLines.total}**` +
      (errorLines.total === 0 ? "." : ` — ${errorLines.detail}`),
    "",
  ];
  if (layers) {
    const on = (layers.rows[0].run.rps + layers.rows.at(-1).run.rps) / 2;
    lines.push(
      "## Cost of each layer",
      "",
      "The persisted read (50 connections) with one layer changed at a time, each in a fresh `npm start` of this run;",
      "“all on (as shipped)” ran first and last (its spread is the noise of this machine). For a layer that does",
      "work (the log line, metrics, tracing) the effect is its cost, 1 − (req/s with it) ÷ (req/s without it); for a",
      "cache it is what the cache saves, 1 − (req/s without it) ÷ (req/s with it).",
      "",
      "| service | req/s | p95 | ratio to as shipped | effect of the layer |",
      "|---|---|---|---|---|",
    );
    for (const { label, run, kind } of layers.rows) {
      const ratio = run.rps / on;
      const effect =
        kind === "baseline"
          ? "–"
          : kind === "added"
            ? `costs ${pct(1 - run.rps / on)}`
            : kind === "removed-work"
              ? `costs ${pct(1 - on / run.rps)}`
              : `saves ${pct(1 - run.rps / on)}`;
      lines.push(`| ${label} | ${run.rps.toFixed(0)} | ${fmtMs(run.p95)} | ${fmtRatio(ratio)} | ${effect} |`);
    }
    const h = layers.hello;
    lines.push(
      "",
      "The platform's own layer, measured on the hello-world Worker (50 connections, same run):",
      "",
      "| hello-world Worker | req/s | ratio |",
      "|---|---|---|",
      `| without a static-asset router | ${h.plain.rps.toFixed(0)} | 1.00× |`,
      `| with \`[assets]\` + \`run_worker_first\` (how the service served /workbench before) | ${h.assets.rps.toFixed(0)} | ${fmtRatio(h.assets.rps / h.plain.rps)} |`,
      `| with wrangler's local observability collector (\`X_LOCAL_OBSERVABILITY=true\`, wrangler's default) | ${h.observed.hello.rps.toFixed(0)} | ${fmtRatio(h.observed.hello.rps / h.plain.rps)} |`,
      `| reference (one object RPC + one SQLite upsert) | ${h.referencePlain.rps.toFixed(0)} | ${fmtRatio(h.referencePlain.rps / h.plain.rps)} |`,
      `| reference with the local observability collector | ${h.observed.reference.rps.toFixed(0)} | ${fmtRatio(h.observed.reference.rps / h.plain.rps)} |`,
      "",
      "The service no longer has an asset router: the workbench's three files are bundled into the Worker",
      "(scripts/workbench-bundle.mjs). wrangler 4's local observability collector (on by default) streams every",
      "invocation's tail events (each fetch, each object RPC) into local storage for its local explorer; every",
      "Worker in this bench, and `npm start`, run with it off (scripts/lib/env.mjs) — a local-dev cost production",
      "does not have, which weighs most on routes that call a Durable Object.",
      "",
    );
  }
  return `${lines.join("\n")}\n`;
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const machine = machineInfo();
  const scratch = mkdtempSync(join(tmpdir(), "coherence-bench-"));
  const procs = new Set();
  /** Every process of the run, by name: the log guard reads each one's output at the end. */
  const logs = [];
  const stopAll = async () => {
    for (const p of procs) await p.halt();
    procs.clear();
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"])
    process.on(signal, () => stopAll().finally(() => process.exit(130)));
  /** Starts a service or Worker (`start` gets its log file) and waits until it answers. */
  const launch = async (name, logName, start) => {
    const t0 = Date.now();
    const proc = await start(join(scratch, logName)).catch((err) => {
      throw new Error(`${name}: ${err.message}`);
    });
    procs.add(proc);
    logs.push({ name, proc });
    log(`${name} ready on ${proc.baseUrl} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return proc;
  };
  const stop = async (proc) => {
    await proc.halt();
    procs.delete(proc);
  };

  try {
    /** One of the platform's Workers under bench/ (`dir`), on a free port. */
    const launchWorker = (name, dir, logName, extraEnv = {}) =>
      launch(name, logName, (logFile) => startWorker(workerOptions(join(root, "bench", dir), logFile, extraEnv)));
    /** `npm start` with a fresh state directory and these settings over the environment. */
    const launchService = (name, logName, stateName, env = {}) =>
      launch(name, logName, (logFile) =>
        startService({
          defaults: SERVICE_DEFAULTS,
          env,
          stateDir: join(scratch, stateName),
          logFile,
          timeoutMs: STARTUP_TIMEOUT_MS,
        }),
      );
    const hello = await launchWorker("hello-world", "hello-world", "hello.log");
    const helloBase = hello.baseUrl;
    const reference = await launchWorker("hello-world-do", "hello-world-do", "hello-do.log");
    const refBase = reference.baseUrl;
    const service = await launchService("service", "service.log", "state");
    const base = service.baseUrl;

    const jwt = await mintToken(TENANT, SCOPE);
    const authJson = { authorization: `Bearer ${jwt}`, "content-type": "application/json" };
    const allNew = (body) => body.includes('"duplicates":0');
    const readOk = (body) => body.startsWith('{"data":{"tenantCoherence":{') && !body.includes('"errors"');
    const mutationOk = (body) => body === '{"data":{"publishCoherenceSignal":true}}';
    const helloRun = (c) => ({ url: helloBase, path: "/", connections: c, verify: (b) => b === "ok" });
    const read = (url) => ({
      url,
      path: "/graphql",
      method: "POST",
      headers: authJson,
      body: READ_BODY,
      verify: readOk,
      connections: 50,
    });
    const post = (path, setup, verify, connections) => ({
      url: base,
      path,
      method: "POST",
      headers: authJson,
      setupRequest: (req) => ({ ...req, body: setup() }),
      verify,
      connections,
    });

    const r = {};
    r.hello50a = await warmThenMeasure("hello-world, 50 conns", helloRun(50));
    r.hello20a = await warmThenMeasure("hello-world, 20 conns", helloRun(20));
    r.reference = await warmThenMeasure("hello-world + one object RPC with one SQLite write, 50 conns", {
      ...helloRun(50),
      url: refBase,
    });
    r.healthz = await warmThenMeasure("GET /healthz, 50 conns", { url: base, path: "/healthz", connections: 50 });
    ts = tsIso();
    r.read = await warmThenMeasure("persisted read, 50 conns", read(base));
    r.mutation = await warmThenMeasure("mutation, 20 conns", post("/graphql", mutationJson, mutationOk, 20));
    ts = tsIso();
    r.ingest = await warmThenMeasure(
      "single-signal ingest, 20 conns",
      post("/v1/coherence/signals", signalJson, allNew, 20),
    );
    ts = tsIso();
    r.batch = await warmThenMeasure(
      `batch ingest (${BATCH_SIZE}/req), 4 conns`,
      post("/v1/coherence/signals", batchJson, allNew, 4),
    );
    r.hello20b = await warmThenMeasure("hello-world, 20 conns (again)", helloRun(20));
    r.hello50b = await warmThenMeasure("hello-world, 50 conns (again)", helloRun(50));
    await stop(service);

    let layers = null;
    if (LAYERS) {
      const configs = [
        // kind: how the row relates to "as shipped" — the same service, a layer added, work or a cache removed.
        { label: "all on (as shipped)", env: {}, kind: "baseline" },
        { label: "+ request log line (`LOG_LEVEL=info`)", env: { LOG_LEVEL: "info" }, kind: "added" },
        {
          label: "+ wrangler's local observability collector (`X_LOCAL_OBSERVABILITY=true`)",
          env: { X_LOCAL_OBSERVABILITY: "true" },
          kind: "added",
        },
        { label: "− metrics (`DEV_LAYERS_OFF=metrics`)", env: { DEV_LAYERS_OFF: "metrics" }, kind: "removed-work" },
        {
          label: "− tracing hook (`DEV_LAYERS_OFF=tracing`)",
          env: { DEV_LAYERS_OFF: "tracing" },
          kind: "removed-work",
        },
        {
          label: "− verified-token cache (`token-cache`)",
          env: { DEV_LAYERS_OFF: "token-cache" },
          kind: "removed-cache",
        },
        { label: "− policy memo (`policy-cache`)", env: { DEV_LAYERS_OFF: "policy-cache" }, kind: "removed-cache" },
        { label: "− metrics, tracing hook", env: { DEV_LAYERS_OFF: "metrics,tracing" }, kind: "removed-work" },
        { label: "all on (as shipped), again", env: {}, kind: "baseline" },
      ];
      const rows = [];
      for (const [i, cfg] of configs.entries()) {
        const proc = await launchService(`service [${cfg.label}]`, `layer-${i}.log`, `state-layer-${i}`, {
          ENVIRONMENT: "development",
          ...cfg.env,
        });
        const run = await warmThenMeasure(`read [${cfg.label}]`, read(proc.baseUrl));
        rows.push({ ...cfg, run });
        await stop(proc);
      }
      const withAssets = await launch("hello-world with assets", "hello-assets.log", (logFile) =>
        startWorker(workerOptions(helloWithAssetsDir(scratch), logFile)),
      );
      const assetsBase = withAssets.baseUrl;
      const plain = await warmThenMeasure("hello-world, 50 conns (layer table)", helloRun(50));
      const assets = await warmThenMeasure("hello-world + asset router, 50 conns", {
        ...helloRun(50),
        url: assetsBase,
      });
      await stop(withAssets);
      // The same two platform Workers with wrangler's local observability collector on (its default).
      const observed = {};
      for (const [key, dir] of [
        ["hello", "hello-world"],
        ["reference", "hello-world-do"],
      ]) {
        const proc = await launchWorker(`${dir} with local observability`, dir, `${dir}-observed.log`, {
          X_LOCAL_OBSERVABILITY: "true",
        });
        observed[key] = await warmThenMeasure(`${dir} + local observability, 50 conns`, {
          ...helloRun(50),
          url: proc.baseUrl,
        });
        await stop(proc);
      }
      const referencePlain = await warmThenMeasure("hello-world-do, 50 conns (layer table)", {
        ...helloRun(50),
        url: refBase,
      });
      layers = { rows, hello: { plain, assets, referencePlain, observed } };
    }
    await stop(reference);
    await stop(hello);

    const details = [];
    let total = 0;
    for (const { name, proc } of logs) {
      const report = proc.logReport();
      if (!report) continue;
      total += Number(/printed (\d+)/.exec(report)?.[1] ?? 1);
      details.push(`${name}: ${report}`);
      log(`log guard, ${name}: ${report}`);
    }
    writeFileSync(
      join(root, "bench", "RESULTS.md"),
      buildReport(machine, r, layers, { total, detail: details.join("; ") }),
    );
    log(`wrote bench/RESULTS.md (service-side error lines: ${total})`);
    return total === 0 ? 0 : 1;
  } catch (err) {
    return runFailed(log, err);
  } finally {
    await stopAll();
    dropScratch(scratch, log);
  }
}

/** A bench/*.mjs script in a child process, after the HTTP services have stopped; its exit code joins ours. */
function runChild(script, skipVar) {
  log(`running bench/${script} (${skipVar}=0 skips it)`);
  return new Promise((ok) => {
    const child = spawn(process.execPath, [join(root, "bench", script)], { cwd: root, stdio: "inherit" });
    child.once("error", (err) => {
      log(`bench/${script} could not start: ${err.message}`);
      ok(1);
    });
    child.once("exit", (code, signal) => ok(code ?? (signal ? 1 : 0)));
  });
}

process.exitCode = await main();
for (const [enabled, script, skipVar] of [
  [REALTIME, "realtime.mjs", "BENCH_REALTIME"],
  [SINKS, "sinks.mjs", "BENCH_SINKS"],
  [KAFKA, "kafka.mjs", "BENCH_KAFKA"],
  [CLIENT, "client.mjs", "BENCH_CLIENT"],
  [OVERVIEW, "overview.mjs", "BENCH_OVERVIEW"],
  [FINOPS, "finops-reconcile.mjs", "BENCH_FINOPS"],
]) {
  if (!enabled) continue;
  const code = await runChild(script, skipVar);
  if (code !== 0) process.exitCode = process.exitCode || code;
}
