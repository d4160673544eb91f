// `npm run slo`: the SLO gate (seed "SLO Gates in CI"), in the seed's shape: persisted `tenantCoherence` reads over
// 50 connections, then persisted `publishCoherenceSignal` writes over 20, each a closed loop with no think time
// (what the seed's k6 script does: every virtual user sends its next request as soon as the answer arrives), for
// 180 s each. It writes one k6-shaped summary per workload (`read_p95.json`, `write_p95.json`) and one for both
// (`error_rate.json`) to .evidence/slo/, and judges them with .maestro/scripts/parse-k6.js's `evaluateSummary`: it
// fails when p95 read > 350 ms, p95 write > 700 ms, an error rate > 0.1 %, or when the service printed an
// error line (test/support/log-guard.ts).
//
//   npm run slo                               the seed's gate: closed loop, 180 s per workload
//   npm run slo -- --duration 20              the same gate, shorter (CI)
//   npm run slo -- --mode paced               a different, relaxed check ("paced"): each connection sends
//                                             --rate-per-connection requests a second (default 1), evenly phased
//   npm run slo -- --url URL [--tokens tokens.json]   against a running service ({"<tenant>":"<jwt>",…})
//
// Load spreads over 10 tenants (the seed's fixture: 10 tenants), each under the per-tenant RPS_MAX of 1000/s, so
// the gate measures the service with its production rate limit: a 429 counts as an error.
// Every setting in the environment reaches the service it starts (e.g. DEBUG_DELAY_MS, a test-only delay).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { evaluateSummary } from "../.maestro/scripts/parse-k6.js";
import { mintToken, startService } from "../test/support/harness.ts";
import { root } from "./lib/env.mjs";

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const log = (msg) => process.stderr.write(`[slo] ${msg}\n`);

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "180" },
    mode: { type: "string", default: "closed" },
    warmup: { type: "string" },
    "read-connections": { type: "string", default: "50" },
    "write-connections": { type: "string", default: "20" },
    tenants: { type: "string", default: "10" },
    "rate-per-connection": { type: "string", default: "1" },
    "p95-read": { type: "string", default: "350" },
    "p95-write": { type: "string", default: "700" },
    "error-rate": { type: "string", default: "0.1" },
    out: { type: "string", default: join(root, ".evidence", "slo") },
    url: { type: "string" },
    tokens: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (opts.help) {
  // The usage is this file's opening comment, up to the first import.
  const usage = readFileSync(import.meta.filename, "utf8").split("\nimport ")[0];
  process.stdout.write(`${usage.replace(/^\/\/ ?/gm, "")}\n`);
  process.exit(0);
}

function positive(name, raw) {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number (got ${JSON.stringify(raw)})\n`);
    process.exit(2);
  }
  return n;
}

const DURATION_S = positive("duration", opts.duration);
// wrangler dev bundles and loads graphql-yoga on the first requests: a short unmeasured warm-up of the same
// workload keeps that one-off cost out of the figures (the service is long-lived in production).
const WARMUP_S = opts.warmup === undefined ? Math.min(3, Math.max(1, Math.round(DURATION_S / 5))) : Number(opts.warmup);
const TENANTS = Math.round(positive("tenants", opts.tenants));
if (opts.mode !== "closed" && opts.mode !== "paced") {
  process.stderr.write(`--mode is closed (the seed's gate) or paced (got ${JSON.stringify(opts.mode)})\n`);
  process.exit(2);
}
/** 0: closed loop (the gate). Paced mode only: requests per second per connection. */
const RATE_PER_CONNECTION = opts.mode === "closed" ? 0 : Number(opts["rate-per-connection"]);
if (!Number.isFinite(RATE_PER_CONNECTION) || RATE_PER_CONNECTION < 0) {
  process.stderr.write("--rate-per-connection must be a number ≥ 0 (0: closed loop, as fast as answers come)\n");
  process.exit(2);
}
const BUDGETS = {
  readP95: positive("p95-read", opts["p95-read"]),
  writeP95: positive("p95-write", opts["p95-write"]),
  errorRate: positive("error-rate", opts["error-rate"]),
};
const WORKLOADS = {
  read: { connections: Math.round(positive("read-connections", opts["read-connections"])), p95: BUDGETS.readP95 },
  write: { connections: Math.round(positive("write-connections", opts["write-connections"])), p95: BUDGETS.writeP95 },
};
const OUT = resolve(opts.out);
const TIMEOUT_S = 30;
const STARTUP_TIMEOUT_MS = 120_000;
const SEED_SIGNALS = 100;
const runId = Date.now().toString(36);
const tenants = Array.from({ length: TENANTS }, (_, i) => `slo-tenant-${i}`);

// ------------------------------------------------------------------------------------------------ statistics

/** k6's Trend percentile (lib/metrics TrendSink.P): linear interpolation between the nearest ranks. */
function k6Percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  if (sorted.length === 1) return sorted[0];
  const i = p * (sorted.length - 1);
  const lo = sorted[Math.floor(i)];
  const hi = sorted[Math.ceil(i)];
  return lo + (hi - lo) * (i - Math.floor(i));
}

/**
 * A distribution-free 95 % confidence interval of the p95 from order statistics (binomial normal
 * approximation). Closed-loop samples are autocorrelated, so the true interval is wider: a hint, not a proof.
 */
function p95Interval(sorted) {
  const n = sorted.length;
  if (n < 20) return null;
  const half = 1.96 * Math.sqrt(n * 0.95 * 0.05);
  const lo = Math.max(1, Math.floor(n * 0.95 - half));
  const hi = Math.min(n, Math.ceil(n * 0.95 + half));
  return [sorted[lo - 1], sorted[hi - 1]];
}

const round = (x) => Math.round(x * 1000) / 1000;

function trend(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    avg: round(s.length ? sum / s.length : 0),
    min: round(s[0] ?? 0),
    med: round(k6Percentile(s, 0.5)),
    max: round(s[s.length - 1] ?? 0),
    "p(90)": round(k6Percentile(s, 0.9)),
    "p(95)": round(k6Percentile(s, 0.95)),
    "p(99)": round(k6Percentile(s, 0.99)),
  };
}

/** k6 Rate values: `passes` are the samples that were true (for `http_req_failed`: the failed requests). */
const rate = (trues, total) => ({ rate: total ? trues / total : 0, passes: trues, fails: total - trues });

// ------------------------------------------------------------------------------------------------ service

/**
 * wrangler dev carries every console.log line of the Worker (one JSON line per request) through its Node process,
 * which on 2 cores costs ~40 % of a small Worker's throughput even when wrangler hides the line. Production logs
 * leave out of band (Workers Logs), so the gate's service writes warnings and errors only (LOG_LEVEL,
 * WRANGLER_LOG) unless the environment says otherwise.
 */
const SERVICE_DEFAULTS = { WRANGLER_LOG: "warn", LOG_LEVEL: "warn" };

async function mintTokens() {
  const scope = "coherence:read coherence:write";
  const ttl = String(Math.ceil(DURATION_S * 2 + 3600));
  const pairs = await Promise.all(tenants.map(async (t) => [t, await mintToken(t, scope, ["--ttl", ttl])]));
  return Object.fromEntries(pairs);
}

function readTokens(file) {
  const map = JSON.parse(readFileSync(file, "utf8"));
  const missing = tenants.filter((t) => typeof map[t] !== "string");
  if (missing.length > 0) throw new Error(`${file} has no token for ${missing.join(", ")}`);
  return map;
}

/** Gives every tenant a window of signals first, so reads return real scores. */
async function seed(base, tokens) {
  const ts = new Date(Date.now() - 60_000).toISOString();
  await Promise.all(
    tenants.map(async (t) => {
      const signals = Array.from({ length: SEED_SIGNALS }, (_, i) => ({
        tenantId: t,
        type: "slo-seed",
        source: "slo-gate",
        value: (i % 100) / 100,
        signalId: `${runId}-seed-${i}`,
        ts,
      }));
      const res = await fetch(`${base}/v1/coherence/signals`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tokens[t]}` },
        body: JSON.stringify({ signals }),
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`seeding ${t} answered ${res.status}: ${text.slice(0, 300)}`);
    }),
  );
}

const READ = "pq_tenant_coherence_v1";
const WRITE = "pq_publish_signal_v1";

/**
 * One read and one write per tenant, one at a time, before any timed phase: the Worker's first GraphQL requests
 * load graphql-yoga and wake each tenant's object, which on a busy machine takes seconds — long enough for a
 * short timed warm-up to end with nothing answered.
 */
async function prime(base, tokens) {
  for (const t of tenants) {
    for (const [id, variables] of [
      [READ, { tenantId: t }],
      [WRITE, { input: { tenantId: t, type: "slo", source: "slo-gate", value: 0.5, signalId: `${runId}-prime` } }],
    ]) {
      const res = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tokens[t]}` },
        body: JSON.stringify({ id, variables }),
        signal: AbortSignal.timeout(TIMEOUT_S * 1000),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${id} for ${t} answered ${res.status}: ${text.slice(0, 300)}`);
    }
  }
}

// ------------------------------------------------------------------------------------------------ workloads

function bodyOk(kind, text) {
  try {
    const body = JSON.parse(text);
    if (body.errors !== undefined) return false;
    if (kind === "read") return typeof body.data?.tenantCoherence?.score === "number";
    return body.data?.publishCoherenceSignal === true;
  } catch {
    return false;
  }
}

/**
 * One autocannon run of a workload. Every response is a sample of `http_req_duration` (as in k6, failed
 * ones too) and is failed unless it is a 2xx whose body holds the operation's result without GraphQL errors;
 * connection errors and timeouts are failed requests too (a timeout adds a sample at the timeout).
 */
async function runWorkload(kind, base, tokens, seconds, record) {
  const { connections } = WORKLOADS[kind];
  let n = 0;
  const samples = [];
  const statuses = {};
  let failed = 0;
  let requests = 0;
  let last = null;
  let bytesIn = 0;
  let bytesOut = 0;
  const setupRequest = (req) => {
    n++;
    const tenant = tenants[n % tenants.length];
    const variables =
      kind === "read"
        ? { tenantId: tenant }
        : {
            input: {
              tenantId: tenant,
              type: "slo",
              source: "slo-gate",
              value: (n % 100) / 100,
              signalId: `${runId}-${n}`,
            },
          };
    const body = JSON.stringify({ id: kind === "read" ? READ : WRITE, variables });
    bytesOut += body.length;
    return {
      ...req,
      body,
      headers: { ...req.headers, authorization: `Bearer ${tokens[tenant]}`, "content-type": "application/json" },
    };
  };
  const verifyBody = (text) => {
    // Called right after the "response" event of the same response (autocannon's httpClient), so `last` is it.
    if (last && !(last.status >= 200 && last.status < 300 && bodyOk(kind, text))) failed++;
    last = null;
    return true;
  };
  const track = (instance) => {
    instance.on("response", (_client, status, bytes, ms) => {
      requests++;
      bytesIn += bytes;
      statuses[status] = (statuses[status] ?? 0) + 1;
      samples.push(ms);
      last = { status };
    });
    instance.on("reqError", (err) => {
      requests++;
      failed++;
      const key = /timed out/.test(err?.message ?? "") ? "timeout" : "connection error";
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (key === "timeout") samples.push(TIMEOUT_S * 1000);
    });
    return instance;
  };
  const options = (connectionCount) => ({
    url: base,
    connections: connectionCount,
    duration: seconds,
    timeout: TIMEOUT_S,
    verifyBody,
    requests: [{ method: "POST", path: "/graphql", setupRequest }],
  });
  const started = Date.now();
  if (RATE_PER_CONNECTION === 0) {
    await track(autocannon(options(connections)));
  } else {
    // One autocannon client per connection, each at RATE_PER_CONNECTION req/s, started at evenly spread phases:
    // autocannon starts every connection's second together, which would turn the load into one burst per second.
    const period = 1000 / RATE_PER_CONNECTION;
    await Promise.all(
      Array.from({ length: connections }, async (_, i) => {
        await sleep((i * period) / connections);
        await track(autocannon({ ...options(1), connectionRate: RATE_PER_CONNECTION }));
      }),
    );
  }
  const result = { duration: (Date.now() - started) / 1000 };
  if (!record) return null;
  return {
    kind,
    connections,
    durationMs: Date.now() - started,
    seconds: result.duration,
    samples,
    requests,
    failed,
    statuses,
    bytesIn,
    bytesOut,
  };
}

// ------------------------------------------------------------------------------------------------ k6 shape

const TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"];

function thresholdsOk(p95Budget, values, failedRate) {
  const duration = p95Budget === null ? undefined : { [`p(95)<=${p95Budget}`]: { ok: values["p(95)"] <= p95Budget } };
  const failed = { [`rate<=${BUDGETS.errorRate / 100}`]: { ok: failedRate <= BUDGETS.errorRate / 100 } };
  return { duration, failed };
}

/**
 * A summary in the shape of k6's handleSummary() data (what `k6 run` hands to handleSummary and what
 * jslib's textSummary reads): `metrics.<name>.{type, contains, values, thresholds}`, `root_group.checks`,
 * `options`, `state`. Tagged submetrics are named as k6 names them, e.g. `http_req_duration{scenario:read}`.
 */
function k6Summary(runs, p95Budget, meta) {
  const samples = runs.flatMap((r) => r.samples);
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const failed = runs.reduce((a, r) => a + r.failed, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const duration = trend(samples);
  const failedRate = rate(failed, requests);
  const thresholds = thresholdsOk(p95Budget, duration, failedRate.rate);
  const maxVus = Math.max(...runs.map((r) => r.connections));
  const metrics = {
    http_req_duration: {
      type: "trend",
      contains: "time",
      values: duration,
      ...(thresholds.duration ? { thresholds: thresholds.duration } : {}),
    },
    http_req_failed: { type: "rate", contains: "default", values: failedRate, thresholds: thresholds.failed },
    http_reqs: { type: "counter", contains: "default", values: { count: requests, rate: round(requests / seconds) } },
    iterations: { type: "counter", contains: "default", values: { count: requests, rate: round(requests / seconds) } },
    checks: { type: "rate", contains: "default", values: rate(requests - failed, requests) },
    data_received: {
      type: "counter",
      contains: "data",
      values: { count: runs.reduce((a, r) => a + r.bytesIn, 0), rate: 0 },
    },
    data_sent: {
      type: "counter",
      contains: "data",
      values: { count: runs.reduce((a, r) => a + r.bytesOut, 0), rate: 0 },
    },
    vus: { type: "gauge", contains: "default", values: { value: maxVus, min: maxVus, max: maxVus } },
    vus_max: { type: "gauge", contains: "default", values: { value: maxVus, min: maxVus, max: maxVus } },
  };
  metrics.data_received.values.rate = round(metrics.data_received.values.count / seconds);
  metrics.data_sent.values.rate = round(metrics.data_sent.values.count / seconds);
  if (runs.length > 1) {
    for (const r of runs) {
      metrics[`http_req_duration{scenario:${r.kind}}`] = { type: "trend", contains: "time", values: trend(r.samples) };
      metrics[`http_req_failed{scenario:${r.kind}}`] = {
        type: "rate",
        contains: "default",
        values: rate(r.failed, r.requests),
      };
      metrics[`http_reqs{scenario:${r.kind}}`] = {
        type: "counter",
        contains: "default",
        values: { count: r.requests, rate: round(r.requests / r.seconds) },
      };
    }
  }
  const checkName = runs.length === 1 ? `${runs[0].kind}: 2xx with the operation's result` : "2xx with the result";
  return {
    root_group: {
      name: "",
      path: "",
      id: "d41d8cd98f00b204e9800998ecf8427e",
      groups: [],
      checks: [{ name: checkName, path: `::${checkName}`, id: "", passes: requests - failed, fails: failed }],
    },
    options: { summaryTrendStats: TREND_STATS, summaryTimeUnit: "", noColor: false },
    state: {
      isStdOutTTY: false,
      isStdErrTTY: false,
      testRunDurationMs: round(runs.reduce((a, r) => a + r.durationMs, 0)),
    },
    metrics,
    // Not part of k6's shape: how these figures were made (k6 consumers ignore unknown keys).
    coherence_slo_gate: meta,
  };
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const started = Date.now();
  mkdirSync(OUT, { recursive: true });
  mkdirSync(join(root, ".tmp"), { recursive: true });
  let service = null;
  let stateDir = null;
  let base = opts.url?.replace(/\/+$/, "");
  const logFile = join(root, ".tmp", "slo-service.log");
  try {
    if (!base) {
      stateDir = mkdtempSync(join(root, ".tmp", "slo-state-"));
      log(`starting npm start (log: ${relative(root, logFile)})`);
      service = await startService({ defaults: SERVICE_DEFAULTS, stateDir, logFile, timeoutMs: STARTUP_TIMEOUT_MS });
      base = service.baseUrl;
      log(`npm start answers on ${base}`);
    }
    const tokens = opts.tokens ? readTokens(opts.tokens) : await mintTokens();
    await seed(base, tokens);
    await prime(base, tokens);
    log(`seeded ${TENANTS} tenants with ${SEED_SIGNALS} signals each; one read and one write each answered`);
    const runs = {};
    for (const kind of ["read", "write"]) {
      const { connections } = WORKLOADS[kind];
      if (WARMUP_S > 0) await runWorkload(kind, base, tokens, WARMUP_S, false);
      const pace = RATE_PER_CONNECTION === 0 ? "closed loop" : `${RATE_PER_CONNECTION} req/s each`;
      log(`${kind}: ${connections} connections (${pace}) for ${DURATION_S} s after a ${WARMUP_S} s warm-up`);
      runs[kind] = await runWorkload(kind, base, tokens, DURATION_S, true);
    }
    const meta = (workloads, p95Budget) => ({
      tool: "autocannon",
      target: service
        ? `npm start (wrangler dev, workerd) on loopback, fresh state, WRANGLER_LOG=${process.env.WRANGLER_LOG ?? "warn"}, LOG_LEVEL=${process.env.LOG_LEVEL ?? "warn"}`
        : base,
      workloads: workloads.map((r) => ({
        scenario: r.kind,
        operation: r.kind === "read" ? READ : WRITE,
        connections: r.connections,
        mode: opts.mode,
        rate_per_connection: RATE_PER_CONNECTION === 0 ? "closed loop" : RATE_PER_CONNECTION,
        duration_s: DURATION_S,
        warmup_s: WARMUP_S,
        tenants: TENANTS,
        statuses: r.statuses,
        p95_ci95_ms: p95Interval([...r.samples].sort((a, b) => a - b))?.map(round) ?? null,
      })),
      budgets: { p95_ms: p95Budget, error_rate_pct: BUDGETS.errorRate },
      finished: new Date().toISOString(),
    });
    const files = {
      read: {
        file: "read_p95.json",
        summary: k6Summary([runs.read], BUDGETS.readP95, meta([runs.read], BUDGETS.readP95)),
      },
      write: {
        file: "write_p95.json",
        summary: k6Summary([runs.write], BUDGETS.writeP95, meta([runs.write], BUDGETS.writeP95)),
      },
      all: {
        file: "error_rate.json",
        summary: k6Summary([runs.read, runs.write], null, meta([runs.read, runs.write], null)),
      },
    };
    for (const f of Object.values(files)) writeFileSync(join(OUT, f.file), `${JSON.stringify(f.summary, null, 2)}\n`);
    // The same judgement as `node .maestro/scripts/parse-k6.js <file> --p95 … --errorRate …`.
    const verdicts = [
      evaluateSummary(files.read.summary, { p95: BUDGETS.readP95, errorRate: BUDGETS.errorRate, label: "read" }),
      evaluateSummary(files.write.summary, { p95: BUDGETS.writeP95, errorRate: BUDGETS.errorRate, label: "write" }),
      evaluateSummary(files.all.summary, { errorRate: BUDGETS.errorRate, label: "overall" }),
    ];
    report(runs, files, verdicts);
    let clean = true;
    if (service) {
      await sleep(500); // the service's batched metric sends finish after the last answers
      const guard = service.logReport();
      if (guard) {
        clean = false;
        process.stderr.write(`log guard: ${guard}\n`);
      }
    }
    const ok = verdicts.every((v) => v.ok) && clean;
    log(
      `${ok ? "PASS" : "FAIL"} in ${Math.round((Date.now() - started) / 1000)} s; summaries in ${relative(root, OUT) || "."}/`,
    );
    return ok ? 0 : 1;
  } finally {
    await service?.halt();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
}

function report(runs, files, verdicts) {
  const fmt = (x) => `${x.toFixed(1)} ms`;
  const lines = ["", "workload  conns  requests   req/s     p50       p95       p99    errors  budget p95  file"];
  for (const kind of ["read", "write"]) {
    const r = runs[kind];
    const v = files[kind].summary.metrics;
    const d = v.http_req_duration.values;
    lines.push(
      [
        kind.padEnd(8),
        String(r.connections).padStart(5),
        String(r.requests).padStart(9),
        v.http_reqs.values.rate.toFixed(0).padStart(7),
        fmt(d.med).padStart(9),
        fmt(d["p(95)"]).padStart(9),
        fmt(d["p(99)"]).padStart(9),
        `${(v.http_req_failed.values.rate * 100).toFixed(3)}%`.padStart(9),
        `${WORKLOADS[kind].p95} ms`.padStart(11),
        ` ${files[kind].file}`,
      ].join(" "),
    );
  }
  const all = files.all.summary.metrics.http_req_failed.values;
  lines.push(
    `overall error rate ${(all.rate * 100).toFixed(3)}% (${all.passes} of ${all.passes + all.fails}; budget ${BUDGETS.errorRate}%)  ${files.all.file}`,
    "",
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const v of verdicts) for (const f of v.failures) process.stderr.write(`${f}\n`);
  if (verdicts.every((v) => v.ok)) process.stdout.write("SLO OK\n");
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
