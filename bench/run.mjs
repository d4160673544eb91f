// `npm run bench`: load-tests the local service (`npm start` = wrangler dev / workerd) with autocannon and
// writes bench/RESULTS.md. Every figure is set next to the bare baseline route (GET /healthz: constant JSON,
// no Durable Object) measured in the same run. Timings never fail the bench: it exits 0 unless the service
// cannot be started or driven at all. BENCH_SECONDS (default 8) sets the length of each measured phase.
// After the HTTP phases it runs bench/realtime.mjs (fan-out, PartyServer comparison, memory, hibernation;
// bench/RESULTS-realtime.md) in a child process, unless BENCH_REALTIME=0, and then bench/sinks.mjs (throughput
// into Neo4j and Postgres, materialization lag, queue operations; bench/RESULTS-sinks.md) unless BENCH_SINKS=0,
// and bench/kafka.mjs (Kafka bridge throughput and consumer lag; bench/RESULTS-kafka.md) unless BENCH_KAFKA=0.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { freePort, percentile, stopService, waitHealthy } from "./lib.mjs";
import { pacedLoad } from "./paced.mjs";

const root = resolve(import.meta.dirname, "..");
const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 8);
const WARMUP_SECONDS = Math.min(2, Math.max(1, Math.round(SECONDS / 4)));
const TENANT = "bench-tenant";
const SCOPE = "coherence:read coherence:write";
const BATCH_SIZE = 1000;
/** Connections for the max-throughput runs; the baseline uses the same count so ratios compare like with like. */
const MAX_CONNECTIONS = 10;
const BATCH_CONNECTIONS = 4;
const FIXED_RATE = 200;
/**
 * autocannon's `overallRate` is split over the connections, and each connection sends its share back to back
 * at the start of every second. Few connections keep those bursts close to an even 200 req/s.
 */
const FIXED_RATE_CONNECTIONS = 2;
const STARTUP_TIMEOUT_MS = 90_000;
const REALTIME = process.env.BENCH_REALTIME !== "0";
const SINKS = process.env.BENCH_SINKS !== "0";
const KAFKA = process.env.BENCH_KAFKA !== "0";

const TARGETS = {
  ingestRatio: 0.6,
  batchSignalsPerSec: 50_000,
  readP95Ms: 15,
  readRatio: 0.6,
};

function positiveNumber(raw, fallback) {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------- service

/** Starts `npm start` in its own process group; its output goes to a log file, not through this process. */
function startService(port, stateDir, logFile) {
  const fd = openSync(logFile, "a");
  const child = spawn("npm", ["start"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", fd, fd],
    // Load tests raise the per-tenant limit on purpose (contract §8), so 429s never cap a figure.
    env: { RPS_MAX: "1000000", ...process.env, PORT: String(port), COHERENCE_STATE_DIR: stateDir },
  });
  closeSync(fd);
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  return { child, exited };
}

/** Ends the whole process group (npm, wrangler, workerd), even when npm itself has already exited. */

function mintToken() {
  const out = execFileSync("npm", ["run", "--silent", "token", "--", "--tenant", TENANT, "--scope", SCOPE], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const jwt = out
    .split(/\s+/)
    .reverse()
    .find((s) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s));
  if (!jwt) throw new Error(`npm run token printed no JWT: ${JSON.stringify(out.slice(0, 200))}`);
  return jwt;
}

// ---------------------------------------------------------------------------------------------- bodies

// Each request carries signals never sent before: a run-unique prefix plus a counter (dedupe is by
// source + signalId + ts). The ts sits a minute in the past, well inside the 24 h window.
const runId = Date.now().toString(36);
let counter = 0;
let tsIso = new Date(Date.now() - 60_000).toISOString();
const refreshTs = () => {
  tsIso = new Date(Date.now() - 60_000).toISOString();
};

function signalJson() {
  counter++;
  return `{"tenantId":"${TENANT}","type":"latency","source":"bench","value":${(counter % 100) / 100},"signalId":"${runId}-${counter}","ts":"${tsIso}"}`;
}

function batchJson() {
  const parts = new Array(BATCH_SIZE);
  for (let i = 0; i < BATCH_SIZE; i++) parts[i] = signalJson();
  return `{"signals":[${parts.join(",")}]}`;
}

const READ_BODY = JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } });

// ---------------------------------------------------------------------------------------------- runs

/**
 * One autocannon run. Latencies of 2xx responses are collected here (autocannon's own histogram offers no
 * p95, and with a fixed rate it adds synthetic coordinated-omission samples at a 1 ms interval).
 * `verify` checks each response body; failures are reported as mismatches.
 */
async function load(name, opts) {
  const latencies = [];
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    timeout: 30,
    ...(opts.overallRate ? { overallRate: opts.overallRate, ignoreCoordinatedOmission: true } : {}),
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
  return summarize(name, opts.connections, {
    duration: r.duration,
    ok2xx: r["2xx"],
    non2xx: r.non2xx,
    errors: r.errors,
    mismatches: r.mismatches,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    latencies,
  });
}

/** Open-loop run at an even rate (bench/paced.mjs): the cross-check of autocannon's burst pacing. */
async function paced(name, opts) {
  const r = await pacedLoad({ ...opts, body: opts.body, rate: opts.rate, seconds: opts.seconds });
  return summarize(name, "open loop", r);
}

function summarize(name, connections, r) {
  const { latencies } = r;
  const result = {
    name,
    connections,
    duration: Math.round(r.duration * 100) / 100,
    ok2xx: r.ok2xx,
    non2xx: r.non2xx,
    errors: r.errors,
    mismatches: r.mismatches,
    statusCodes: r.statusCodes,
    rps: r.ok2xx / r.duration,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : null,
  };
  result.failed = result.non2xx + result.errors + result.mismatches;
  log(
    `${name}: ${result.rps.toFixed(1)} 2xx req/s over ${result.duration} s, p50 ${fmtMs(result.p50)} p95 ${fmtMs(result.p95)} p99 ${fmtMs(result.p99)}` +
      (result.failed ? `, non-2xx ${result.non2xx}, errors ${result.errors}, bad bodies ${result.mismatches}` : ""),
  );
  return result;
}

/**
 * One request outside autocannon, so a broken route shows a readable answer. Not fatal: the runs go on and
 * report their errors.
 */
async function probe(base, path, init, check) {
  try {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    if (res.status < 200 || res.status >= 300 || !check(text)) {
      log(`WARNING: probe ${init.method ?? "GET"} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    }
  } catch (err) {
    log(`WARNING: probe ${init.method ?? "GET"} ${path} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------- report

const fmtMs = (ms) => (ms === null || ms === undefined ? "n/a" : `${ms.toFixed(1)} ms`);
const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
const fmtRatio = (x) => `${x.toFixed(2)}×`;

function errorText(r) {
  if (!r.failed) return "none";
  const codes = Object.entries(r.statusCodes)
    .filter(([code]) => !code.startsWith("2"))
    .map(([code, n]) => `${n}× ${code}`);
  const parts = [...codes];
  if (r.errors) parts.push(`${r.errors} connection errors/timeouts`);
  if (r.mismatches) parts.push(`${r.mismatches} unexpected 2xx bodies`);
  return `**${parts.join(", ")}**`;
}

/** A fixed-rate run counts only if it came within 5 % of the rate it was asked for. */
const rateReached = (r) => r.rps >= FIXED_RATE * 0.95;

function verdict(ok, r, fixedRate = false) {
  if (r.failed) return "no (errors)";
  if (fixedRate && !rateReached(r)) return "no (rate not reached)";
  return ok ? "yes" : "no";
}

/**
 * What the service's own log says about the run: error lines (one JSON line per request, level "error" from
 * 5xx, plus wrangler/workerd errors) and reloads — wrangler dev watches the sources, so an edit during the
 * run restarts workerd and disturbs the figures.
 */
function serviceNotes(text) {
  const lines = text.split("\n");
  const notes = [];
  const errors = lines.filter((l) => /"level":"error"|✘|\[ERROR\]|Uncaught/.test(l));
  if (errors.length > 0) {
    notes.push(
      `the service logged ${errors.length} error line(s), e.g. ${errors
        .slice(0, 3)
        .map((l) => `\`${l.slice(0, 300)}\``)
        .join("; ")}`,
    );
  }
  const reloads = lines.filter((l) => /Reloading local server|Detected changes/.test(l));
  if (reloads.length > 0) {
    notes.push(`wrangler reloaded the Worker ${reloads.length}× during the run (sources changed): figures are suspect`);
  }
  return notes;
}

/** The commit measured, marked when the Worker's sources differ from it. */
function gitRevision() {
  try {
    const git = (...args) =>
      execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const head = git("rev-parse", "--short", "HEAD").trim();
    const dirty = git("status", "--porcelain", "--", "src", "durable-objects", "wrangler.toml").trim() !== "";
    return dirty ? `${head} + uncommitted changes to the Worker` : head;
  } catch {
    return "unknown";
  }
}

function machineInfo() {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return "unknown";
    }
  };
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model?.trim() ?? "unknown",
    node: process.version,
    wrangler: pkg("wrangler"),
    workerd: pkg("workerd"),
    autocannon: pkg("autocannon"),
    commit: gitRevision(),
    loadavg: loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
  };
}

function buildReport(m, runs, figures, notes) {
  const { baseIngest, baseRead, ingest, batch, readMax, readFixed, basePaced, readPaced } = runs;
  const rows = [
    [
      "Single-signal ingest (1 tenant)",
      `${fmtInt(ingest.rps)} req/s`,
      `${fmtInt(baseIngest.rps)} req/s`,
      fmtRatio(figures.ingestRatio),
      `≥ ${TARGETS.ingestRatio}×`,
      verdict(figures.ingestRatio >= TARGETS.ingestRatio, ingest),
      errorText(ingest),
    ],
    [
      `Batch ingest, ${BATCH_SIZE} signals/request (1 tenant)`,
      `${fmtInt(figures.batchSignalsPerSec)} signals/s (${batch.rps.toFixed(1)} req/s)`,
      `${fmtInt(baseIngest.rps)} req/s`,
      "—",
      `≥ ${fmtInt(TARGETS.batchSignalsPerSec)} signals/s`,
      verdict(figures.batchSignalsPerSec >= TARGETS.batchSignalsPerSec, batch),
      errorText(batch),
    ],
    [
      "Persisted `tenantCoherence` read, max",
      `${fmtInt(readMax.rps)} req/s`,
      `${fmtInt(baseRead.rps)} req/s`,
      fmtRatio(figures.readRatio),
      `≥ ${TARGETS.readRatio}×`,
      verdict(figures.readRatio >= TARGETS.readRatio, readMax),
      errorText(readMax),
    ],
    [
      `Persisted \`tenantCoherence\` read at ${FIXED_RATE} req/s`,
      `p95 ${fmtMs(readFixed.p95)} (p50 ${fmtMs(readFixed.p50)}, p99 ${fmtMs(readFixed.p99)}; ${readFixed.rps.toFixed(0)} req/s achieved)`,
      `${fmtInt(baseRead.rps)} req/s`,
      "—",
      `p95 ≤ ${TARGETS.readP95Ms} ms`,
      verdict(figures.readP95Ok, readFixed, true),
      errorText(readFixed),
    ],
    [
      `(cross-check) same read at ${FIXED_RATE} req/s evenly spaced, open loop`,
      `p95 ${fmtMs(readPaced.p95)} (p50 ${fmtMs(readPaced.p50)}, p99 ${fmtMs(readPaced.p99)}; ${readPaced.rps.toFixed(0)} req/s achieved)`,
      `/healthz paced the same way: p95 ${fmtMs(basePaced.p95)} (p50 ${fmtMs(basePaced.p50)}, p99 ${fmtMs(basePaced.p99)})`,
      "—",
      `(p95 ≤ ${TARGETS.readP95Ms} ms)`,
      `not judged (would be: ${verdict(readPaced.p95 !== null && readPaced.p95 <= TARGETS.readP95Ms, readPaced, true)})`,
      errorText(readPaced),
    ],
  ];
  const table = (header, body) =>
    [
      `| ${header.join(" | ")} |`,
      `|${header.map(() => "---").join("|")}|`,
      ...body.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
  const runRows = Object.values(runs).map((r) => [
    r.name,
    String(r.connections),
    `${r.duration} s`,
    fmtInt(r.ok2xx),
    `${r.rps.toFixed(1)}`,
    fmtMs(r.p50),
    fmtMs(r.p95),
    fmtMs(r.p99),
    fmtMs(r.max),
    String(r.non2xx),
    String(r.errors),
    String(r.mismatches),
  ]);
  return `# Benchmark results

Generated by \`npm run bench\` (bench/run.mjs) — this file is overwritten on every run.

- Date: ${new Date().toISOString()}
- Machine: ${m.nproc} cores (${m.cpu}), load average ${m.loadavg} at start, ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} at end (1/5/15 min; other work on the machine shows here)
- Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}, autocannon ${m.autocannon}
- Service: \`npm start\` (wrangler dev → workerd) on 127.0.0.1 at commit ${m.commit}, fresh state directory,
  one tenant (\`${TENANT}\`)
- Phases: ${SECONDS} s each after a ${WARMUP_SECONDS} s warm-up of the same route (BENCH_SECONDS=${SECONDS})
- **Baseline** (bare \`GET /healthz\`, constant JSON, no Durable Object, ${MAX_CONNECTIONS} connections):
  **${fmtInt(baseIngest.rps)} req/s** before the ingest phases, **${fmtInt(baseRead.rps)} req/s** before the read phases

> Absolute numbers on this shared ${m.nproc}-core machine are noise; the ratios to the baseline measured in the same
> run are what count. The load generator (autocannon, in this Node process) shares the ${m.nproc} cores with
> wrangler's Node proxy and workerd, so every figure — baseline included — is bounded by that contention.

## Figures against targets

${table(["Figure", "Measured", "Baseline (same run)", "Ratio to baseline", "Target", "Met", "Errors"], rows)}

A figure whose run had any non-2xx response, connection error or unexpected body is marked "no (errors)" whatever
its speed; a fixed-rate run that stayed more than 5 % below ${FIXED_RATE} req/s is marked "no (rate not reached)".
Ingest bodies are checked for \`"duplicates":0\` (every signal new); reads for a \`tenantCoherence\` result without
GraphQL errors.

## All runs

${table(["Run", "Conns", "Duration", "2xx", "2xx req/s", "p50", "p95", "p99", "max", "non-2xx", "errors", "bad bodies"], runRows)}

Notes on method:

- Ratios divide a route's 2xx req/s by the baseline's 2xx req/s at the same connection count (${MAX_CONNECTIONS}).
  The baseline is measured twice — right before the ingest phases and right before the read phases — and each
  ratio uses the nearer one.
- Batch ingest runs ${BATCH_CONNECTIONS} connections; signals/s = 2xx responses × ${BATCH_SIZE} / duration.
- The fixed-rate read uses autocannon \`overallRate: ${FIXED_RATE}\` over ${FIXED_RATE_CONNECTIONS} connections: each connection sends its
  share back to back at the start of every second (autocannon's pacing), so it is a burst-per-second load, not
  evenly spaced arrivals. Latencies are autocannon's per-response times of 2xx responses, without
  coordinated-omission correction. The row marked "cross-check" sends the same read from bench/paced.mjs at
  evenly spaced instants (one every ${1000 / FIXED_RATE} ms, open loop, latency from issue to end of response) to show how
  much of the p95 is due to that pacing; the judged figure stays autocannon's. \`/healthz\` is paced the same way
  right before it, so a tail that the bare route shares comes from the local stack (wrangler, workerd, the
  machine), not from the read path.
- Every request carries signals never sent before (unique \`signalId\`), with \`ts\` one minute in the past.

## Realtime

${
  REALTIME
    ? "Fan-out latency, delivered messages/s against a PartyServer room, memory of 1000 idle subscribers and hibernation: see [RESULTS-realtime.md](RESULTS-realtime.md), written by bench/realtime.mjs right after these phases, in its own `wrangler dev`."
    : "Not run this time (BENCH_REALTIME=0); [RESULTS-realtime.md](RESULTS-realtime.md) holds the figures of the last realtime run (`node bench/realtime.mjs`)."
}

## Sinks

${
  SINKS
    ? "Signals/s into Neo4j against the raw Query API, materialization lag into Postgres and queue operations per 1,000 signals: see [RESULTS-sinks.md](RESULTS-sinks.md), written by bench/sinks.mjs at the end of this run, with its own Neo4j, Postgres and `wrangler dev`."
    : "Not run this time (BENCH_SINKS=0); [RESULTS-sinks.md](RESULTS-sinks.md) holds the figures of the last sinks run (`node bench/sinks.mjs`)."
}

## Kafka bridge

${
  KAFKA
    ? "Signals/s from Kafka to the tenant objects against direct HTTP ingest, and consumer lag under a steady 5,000 msg/s producer: see [RESULTS-kafka.md](RESULTS-kafka.md), written by bench/kafka.mjs at the end of this run, with its own broker and `wrangler dev`."
    : "Not run this time (BENCH_KAFKA=0); [RESULTS-kafka.md](RESULTS-kafka.md) holds the figures of the last Kafka run (`node bench/kafka.mjs`)."
}

## Service log

${notes.length === 0 ? "No error lines and no reloads in the service's log during the run." : notes.map((n) => `- ${n}`).join("\n")}
`;
}

function printTable(runs, figures) {
  const lines = [
    "",
    `${"run".padEnd(40)} ${"conns".padStart(9)} ${"2xx req/s".padStart(10)} ${"p50".padStart(9)} ${"p95".padStart(9)} ${"p99".padStart(9)} ${"non2xx".padStart(7)} ${"errors".padStart(6)} ${"badbody".padStart(7)}`,
  ];
  for (const r of Object.values(runs)) {
    lines.push(
      `${r.name.padEnd(40)} ${String(r.connections).padStart(9)} ${r.rps.toFixed(1).padStart(10)} ${fmtMs(r.p50).padStart(9)} ${fmtMs(r.p95).padStart(9)} ${fmtMs(r.p99).padStart(9)} ${String(r.non2xx).padStart(7)} ${String(r.errors).padStart(6)} ${String(r.mismatches).padStart(7)}`,
    );
  }
  const { ingest, batch, readMax, readFixed, basePaced, readPaced } = runs;
  lines.push(
    "",
    `single-signal ingest / baseline : ${fmtRatio(figures.ingestRatio)} (target ≥ ${TARGETS.ingestRatio}) → ${verdict(figures.ingestRatio >= TARGETS.ingestRatio, ingest)}`,
    `batch ingest signals/s          : ${fmtInt(figures.batchSignalsPerSec)} (target ≥ ${fmtInt(TARGETS.batchSignalsPerSec)}) → ${verdict(figures.batchSignalsPerSec >= TARGETS.batchSignalsPerSec, batch)}`,
    `persisted read / baseline       : ${fmtRatio(figures.readRatio)} (target ≥ ${TARGETS.readRatio}) → ${verdict(figures.readRatio >= TARGETS.readRatio, readMax)}`,
    `persisted read p95 @ ${FIXED_RATE} req/s  : ${fmtMs(readFixed.p95)} (target ≤ ${TARGETS.readP95Ms} ms) → ${verdict(figures.readP95Ok, readFixed, true)}`,
    `  cross-check, evenly paced      : ${fmtMs(readPaced.p95)} (not judged; /healthz paced: ${fmtMs(basePaced.p95)})`,
    "",
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const machine = machineInfo();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const scratch = mkdtempSync(join(tmpdir(), "coherence-bench-"));
  const stateDir = join(scratch, "state");
  const logFile = join(scratch, "service.log");
  let service = null;
  const cleanup = async () => {
    await stopService(service);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      cleanup().finally(() => process.exit(130));
    });
  }

  try {
    log(`starting npm start on ${base} (state ${stateDir}, log ${logFile})`);
    const t0 = Date.now();
    service = startService(port, stateDir, logFile);
    try {
      await waitHealthy(base, service, STARTUP_TIMEOUT_MS);
    } catch (err) {
      let tail = "";
      try {
        tail = readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
      } catch {
        // no log yet
      }
      log(`the service did not start: ${err.message}\n--- service log (tail) ---\n${tail}`);
      return 1;
    }
    log(`healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const jwt = mintToken();
    const authJson = { authorization: `Bearer ${jwt}`, "content-type": "application/json" };
    const ingestBody = (req) => ({ ...req, body: signalJson() });
    const batchBody = (req) => ({ ...req, body: batchJson() });
    const allNew = (body) => body.includes('"duplicates":0');
    const readOk = (body) => body.startsWith('{"data":{"tenantCoherence":{') && !body.includes('"errors"');

    await probe(base, "/v1/coherence/signals", { method: "POST", headers: authJson, body: signalJson() }, allNew);
    await probe(base, "/v1/coherence/signals", { method: "POST", headers: authJson, body: batchJson() }, allNew);
    await probe(base, "/graphql", { method: "POST", headers: authJson, body: READ_BODY }, readOk);

    const healthz = { url: base, path: "/healthz", connections: MAX_CONNECTIONS };
    const ingest = {
      url: base,
      path: "/v1/coherence/signals",
      method: "POST",
      headers: authJson,
      setupRequest: ingestBody,
      verify: allNew,
      connections: MAX_CONNECTIONS,
    };
    const batch = { ...ingest, setupRequest: batchBody, connections: BATCH_CONNECTIONS };
    const read = {
      url: base,
      path: "/graphql",
      method: "POST",
      headers: { ...authJson },
      body: READ_BODY,
      verify: readOk,
      connections: MAX_CONNECTIONS,
    };
    const warm = (name, opts) => load(`${name} (warm-up)`, { ...opts, seconds: WARMUP_SECONDS });
    const measure = (name, opts) => load(name, { ...opts, seconds: SECONDS });

    const runs = {};
    await warm("baseline /healthz", healthz);
    runs.baseIngest = await measure("baseline /healthz (1)", healthz);
    refreshTs();
    await warm("single-signal ingest", ingest);
    runs.ingest = await measure("single-signal ingest", ingest);
    refreshTs();
    await warm("batch ingest", batch);
    runs.batch = await measure(`batch ingest (${BATCH_SIZE}/req)`, batch);
    await warm("baseline /healthz", healthz);
    runs.baseRead = await measure("baseline /healthz (2)", healthz);
    await warm("persisted read", read);
    runs.readMax = await measure("persisted read, max", read);
    runs.readFixed = await measure(`persisted read @ ${FIXED_RATE} req/s`, {
      ...read,
      connections: FIXED_RATE_CONNECTIONS,
      overallRate: FIXED_RATE,
    });
    runs.basePaced = await paced(`baseline /healthz @ ${FIXED_RATE} req/s, even`, {
      url: base,
      path: "/healthz",
      rate: FIXED_RATE,
      seconds: SECONDS,
    });
    runs.readPaced = await paced(`persisted read @ ${FIXED_RATE} req/s, even`, {
      url: base,
      path: "/graphql",
      method: "POST",
      headers: authJson,
      body: READ_BODY,
      verify: readOk,
      rate: FIXED_RATE,
      seconds: SECONDS,
    });

    const figures = {
      ingestRatio: runs.ingest.rps / runs.baseIngest.rps,
      batchSignalsPerSec: (runs.batch.ok2xx * BATCH_SIZE) / runs.batch.duration,
      readRatio: runs.readMax.rps / runs.baseRead.rps,
      readP95Ok: runs.readFixed.p95 !== null && runs.readFixed.p95 <= TARGETS.readP95Ms,
    };
    const notes = serviceNotes(readFileSync(logFile, "utf8"));
    for (const note of notes) log(`WARNING: ${note}`);
    printTable(runs, figures);
    writeFileSync(join(root, "bench", "RESULTS.md"), buildReport(machine, runs, figures, notes));
    log("wrote bench/RESULTS.md");
    return 0;
  } catch (err) {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    await cleanup();
    if (!process.env.BENCH_KEEP_STATE) rmSync(scratch, { recursive: true, force: true });
    else log(`kept ${scratch}`);
  }
}

/** A bench/*.mjs script in a child process, after the HTTP service has stopped; its exit code joins ours. */
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
]) {
  if (!enabled) continue;
  const code = await runChild(script, skipVar);
  if (code !== 0) process.exitCode = process.exitCode || code;
}
