// Sinks benchmark (`node bench/sinks.mjs`; also run at the end of `npm run bench` unless BENCH_SINKS=0): how fast
// accepted signals reach Neo4j and scores reach Postgres through the real path (tenant object's outbox → queue
// → consumer → Neo4j Query API / Neon driver), how late Postgres is under steady ingest, and how many queue
// operations 1,000 signals cost. Writes bench/RESULTS-sinks.md. Timings never fail it: it exits 0 unless the
// stores or the service cannot be started or driven.
//
// Everything runs on this machine: Postgres (scripts/lib/postgres.mjs, cluster in .cache/pg-bench, table dropped
// and migrated afresh) with our WebSocket proxy (in this process, as in the tests), Neo4j 5.26 (harness JVM, fresh
// store) and `npm start` (wrangler dev → workerd, fresh state) with the sink settings and RPS_MAX=1000000. The
// stores are observed with psql (one long-lived psql process) and neo4j-driver over Bolt — never through the code
// under test. The baseline is Neo4j itself: the adapter's own UNWIND … MERGE statement and parameters (bundled from
// src/adapters/neo4j-query-api.ts) sent from this process to the Query API with the same rows per statement.
//
// Settings (environment): SINK_SIGNALS (200000) signals over SINK_TENANTS (10) tenants in SINK_BATCH (1000)-signal
// requests, SINK_CONCURRENCY (4) in flight; steady ingest for the lag: SINK_LAG_RATE (20) req/s of SINK_LAG_BATCH
// (1) signals over SINK_LAG_TENANTS (4) tenants for SINK_LAG_SECONDS (30) s; SINK_POLL_MS (50) Postgres poll
// period; SINK_TIMEOUT_S (180) to wait for the stores to converge; SINK_WARMUP (200000) signals through the raw
// statement before anything is measured (the JIT compiler and Neo4j's caches warm up over that much work).
// SINK_QUICK=1 shrinks everything for a smoke run. Neo4j runs as a user would run it (scripts/lib/neo4j.mjs
// profile "server": the JVM's normal compiler, a 2 GB heap), not with the tests' fast-start settings.
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import neo4jDriver from "neo4j-driver";
import { startNeo4j } from "../scripts/lib/neo4j.mjs";
import { startPostgres, startWsproxy } from "../scripts/lib/postgres.mjs";
import { migrateNeo4j, migratePostgres } from "../scripts/migrate.mjs";
import { freePort, mintToken, startService } from "../test/support/harness.ts";
import { dropScratch, gitRevision, hostInfo, loadText, packageVersion, percentile, runFailed, sleep } from "./lib.mjs";

const root = resolve(import.meta.dirname, "..");
const QUICK = process.env.SINK_QUICK === "1";
const SIGNALS = positiveInt(process.env.SINK_SIGNALS, QUICK ? 10_000 : 200_000);
const TENANTS = positiveInt(process.env.SINK_TENANTS, 10);
const BATCH = Math.min(1000, positiveInt(process.env.SINK_BATCH, 1000));
const CONCURRENCY = positiveInt(process.env.SINK_CONCURRENCY, 4);
const LAG_RATE = positiveInt(process.env.SINK_LAG_RATE, 20);
const LAG_BATCH = Math.min(1000, positiveInt(process.env.SINK_LAG_BATCH, 1));
const LAG_TENANTS = positiveInt(process.env.SINK_LAG_TENANTS, 4);
const LAG_SECONDS = positiveInt(process.env.SINK_LAG_SECONDS, QUICK ? 10 : 30);
const POLL_MS = positiveInt(process.env.SINK_POLL_MS, 50);
const TIMEOUT_MS = positiveInt(process.env.SINK_TIMEOUT_S, 180) * 1000;
const STARTUP_TIMEOUT_MS = 90_000;
const SCOPE = "coherence:read coherence:write";
/** Cloudflare Queues bill a write, a read and a delete per 64 KB of each message. */
const OPS_PER_CHUNK = 3;
const CHUNK_BYTES = 64 * 1024;
const POLICY_TAGS = { purpose: "benchmarking", retention: "standard-365d", license: "Restricted-TOS", residency: "US" };

const WARMUP = positiveInt(process.env.SINK_WARMUP, QUICK ? 20_000 : 200_000);

const TARGETS = { neo4jSignalsPerSec: 10_000, ceilingRatio: 0.6, lagP95Ms: 2000, opsPer1000: 10 };

function positiveInt(raw, fallback) {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}

const log = (message) => process.stderr.write(`[bench:sinks] ${message}\n`);
/** Wall-clock milliseconds with sub-millisecond resolution (every timestamp in this file). */
const nowMs = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------- the code's own

/**
 * The production code the baseline and the cost model need — the adapter's statement and parameters, the node key,
 * the outbox's packing — bundled from src/ with esbuild (wrangler's own bundler) into .tmp/ and imported, so the
 * bench never keeps a copy that could drift from what the Worker runs.
 */
async function loadProduction() {
  const { build } = await import("esbuild");
  const outfile = join(root, ".tmp", "bench-sinks-production.mjs");
  await build({
    stdin: {
      contents: [
        'export { WRITE_SIGNALS, signalKey, signalsParameters } from "./src/adapters/neo4j-query-api.ts";',
        'export { MAX_MESSAGE_BYTES, expandSignals, packSignals } from "./src/queues/messages.ts";',
      ].join("\n"),
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    outfile,
    logLevel: "warning",
  });
  const m = await import(`${outfile}?${Date.now()}`);
  return {
    statement: m.WRITE_SIGNALS,
    parameters: m.signalsParameters,
    expandSignals: m.expandSignals,
    packSignals: m.packSignals,
    maxBytes: m.MAX_MESSAGE_BYTES,
    source: "src/queues/messages.ts and src/adapters/neo4j-query-api.ts (bundled at run time)",
  };
}

const jsonBytes = (value) => Buffer.byteLength(JSON.stringify(value));

// ---------------------------------------------------------------------------------------------- service

async function postIngest(base, token, signals) {
  const res = await fetch(`${base}/v1/coherence/signals`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ signals }),
  });
  const text = await res.text();
  const returnedAt = nowMs();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // reported below
  }
  if (res.status !== 202 || body?.accepted !== signals.length) {
    throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return { returnedAt, provenanceId: body.provenanceId };
}

/** `QUEUE <name> <acked>/<total> (<ms>ms)`: miniflare's queue broker prints one such line per delivered batch. */
function queueBatches(text) {
  const out = [];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes from wrangler's output
  const plain = text.replace(/\u001b\[[0-9;]*m/g, "");
  for (const m of plain.matchAll(/QUEUE (\S+) (\d+)\/(\d+)(?: \((\d+)ms\))?/g)) {
    out.push({ queue: m[1], acked: Number(m[2]), total: Number(m[3]), ms: m[4] === undefined ? null : Number(m[4]) });
  }
  return out;
}

const logSize = (logFile) => (existsSync(logFile) ? statSync(logFile).size : 0);

/**
 * Follows the service's log and stamps each sink-queue batch line with the instant it appeared (±100 ms), so
 * batches can be assigned to phases and their overlap seen (start = appearance − the duration the line reports).
 */
function watchQueueBatches(logFile) {
  let offset = 0;
  let partial = "";
  const batches = [];
  const poll = () => {
    const size = logSize(logFile);
    if (size <= offset) return;
    const fd = openSync(logFile, "r");
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    offset = size;
    const lines = (partial + buf.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    const at = nowMs();
    for (const b of queueBatches(lines.join("\n"))) {
      if (b.queue === "coherence-sink") batches.push({ ...b, endAt: at, startAt: at - (b.ms ?? 0) });
    }
  };
  const timer = setInterval(poll, 100);
  return {
    batches,
    mark: () => batches.length,
    since: (mark) => {
      poll();
      return batches.slice(mark);
    },
    stop: () => clearInterval(timer),
  };
}

/** The most batches the consumer was running at the same instant. */
function maxOverlap(batches) {
  const events = batches.flatMap((b) => [
    [b.startAt, 1],
    [b.endAt, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of events) {
    now += d;
    max = Math.max(max, now);
  }
  return max;
}

// ---------------------------------------------------------------------------------------------- store observers

/** One long-lived psql (plain TCP, not the proxy): each query's rows come back as `a|b|c` lines. */
function startPsql(url) {
  const child = spawn("psql", [url, "-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=0"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = createInterface({ input: child.stdout });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  let pending = null;
  let rows = [];
  lines.on("line", (line) => {
    if (line === "__END__") {
      const p = pending;
      pending = null;
      const out = rows;
      rows = [];
      p?.(out);
    } else rows.push(line);
  });
  let chain = Promise.resolve();
  const query = (sql) => {
    const result = chain.then(
      () =>
        new Promise((ok) => {
          pending = ok;
          child.stdin.write(`${sql.trim().replace(/;$/, "")};\n\\echo __END__\n`);
        }),
    );
    chain = result.catch(() => undefined);
    return result;
  };
  return {
    query,
    stderr: () => stderr,
    stop: async () => {
      child.stdin.end();
      await Promise.race([new Promise((ok) => child.once("exit", ok)), sleep(2000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

async function cypher(driver, statement, params = {}) {
  const session = driver.session({ database: "neo4j" });
  try {
    const result = await session.run(statement, params);
    return result.records.map((r) => r.toObject());
  } finally {
    await session.close();
  }
}

const toNum = (v) => (typeof v === "number" ? v : (v?.toNumber?.() ?? Number(v)));

/** Signals per tenant in Neo4j for tenants whose id starts with `prefix` (relationship degree: cheap to poll). */
async function graphCounts(driver, prefix) {
  const rows = await cypher(
    driver,
    "MATCH (t:Tenant) WHERE t.tenant_id STARTS WITH $p RETURN t.tenant_id AS t, COUNT { (t)-[:EMITS]->() } AS n",
    { p: prefix },
  );
  return new Map(rows.map((r) => [r.t, toNum(r.n)]));
}

const sumValues = (map) => [...map.values()].reduce((a, b) => a + b, 0);

async function pgScoreRows(psql, prefix) {
  const rows = await psql.query(
    `SELECT tenant_id, signal_count, version FROM coherence_scores WHERE tenant_id LIKE '${prefix}%'`,
  );
  return new Map(
    rows.map((line) => {
      const [t, n, v] = line.split("|");
      return [t, { count: Number(n), version: Number(v) }];
    }),
  );
}

// ---------------------------------------------------------------------------------------------- phases

const runId = Date.now().toString(36);
const tsIso = () => new Date(Date.now() - 60_000).toISOString();

function makeSignals(tenantId, from, count, ts) {
  return Array.from({ length: count }, (_, i) => ({
    tenantId,
    type: "latency",
    source: "bench-sinks",
    value: ((from + i) % 97) / 96,
    signalId: `${runId}-${from + i}`,
    ts,
  }));
}

/**
 * The rows the tenant object would hand to the queue for one request (src/queues/messages.ts SinkSignal),
 * with the request's real provenance id; seq and acceptedMs are the object's own counters, close enough for sizes.
 */
function sinkRows(signals, { seqFrom, provenanceId, acceptedMs }) {
  return signals.map((s, i) => ({
    seq: seqFrom + i,
    signalId: s.signalId,
    type: s.type,
    source: s.source,
    value: s.value,
    weight: 1,
    tsMs: Date.parse(s.ts),
    acceptedMs,
    provenanceId,
    tags: { ...POLICY_TAGS },
  }));
}

/** Queue messages, 64 KB chunks and billed operations for the given messages (bodies as the queue sees them). */
function queueCost(messages) {
  let chunks = 0;
  let bytes = 0;
  for (const m of messages) {
    const b = jsonBytes(m);
    bytes += b;
    chunks += Math.max(1, Math.ceil(b / CHUNK_BYTES));
  }
  return { messages: messages.length, chunks, bytes, ops: chunks * OPS_PER_CHUNK };
}

const scoreMessage = (tenantId) => ({
  v: 1,
  kind: "score",
  score: {
    tenantId,
    score: 0.5123,
    status: "WARN",
    signalCount: 12345,
    updatedAtMs: Date.now(),
    version: 123456,
  },
});

/** Neo4j alone: the adapter's statement over the Query API from this process, the same rows per statement. */
async function rawNeo4j(neo4j, packing, { prefix, signals, tenants, concurrency, rowsPerStatement }) {
  const endpoint = `${neo4j.httpUrl}/db/${neo4j.database}/query/v2`;
  const auth = `Basic ${Buffer.from(`${neo4j.user}:${neo4j.password}`).toString("base64")}`;
  const perTenant = Math.ceil(signals / tenants);
  const statements = [];
  // Rows per statement: as the outbox packs them, or a fixed count (what grouping messages in the consumer would send).
  const chunk = (tenantId, rows) =>
    rowsPerStatement
      ? Array.from({ length: Math.ceil(rows.length / rowsPerStatement) }, (_, i) =>
          rows.slice(i * rowsPerStatement, (i + 1) * rowsPerStatement),
        )
      : packing.packSignals(tenantId, rows).map((m) => packing.expandSignals(m));
  const step = rowsPerStatement ? Math.max(BATCH, rowsPerStatement) : BATCH;
  for (let t = 0; t < tenants; t++) {
    const tenantId = `${prefix}${t}`;
    for (let from = 0; from < perTenant; from += step) {
      const batch = makeSignals(tenantId, from, Math.min(step, perTenant - from), tsIso());
      const rows = sinkRows(batch, { seqFrom: from + 1, provenanceId: randomUUID(), acceptedMs: Date.now() });
      for (const group of chunk(tenantId, rows)) {
        statements.push({
          tenant: t,
          count: group.length,
          body: JSON.stringify({ statement: packing.statement, parameters: packing.parameters(tenantId, group) }),
        });
      }
    }
  }
  const total = statements.reduce((a, s) => a + s.count, 0);
  // Each worker owns whole tenants (as per-tenant ordering would), so no two statements lock the same Tenant node.
  const lanes = Array.from({ length: concurrency }, (_, w) => statements.filter((s) => s.tenant % concurrency === w));
  const times = [];
  const started = nowMs();
  await Promise.all(
    lanes.map(async (lane) => {
      for (const s of lane) {
        const t0 = nowMs();
        const res = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json", authorization: auth },
          body: s.body,
        });
        const body = await res.json().catch(() => null);
        if (!res.ok || body?.errors?.length) {
          throw new Error(`Query API answered ${res.status}: ${JSON.stringify(body?.errors ?? body).slice(0, 300)}`);
        }
        times.push(nowMs() - t0);
      }
    }),
  );
  const seconds = (nowMs() - started) / 1000;
  times.sort((a, b) => a - b);
  return {
    signals: total,
    statements: statements.length,
    rowsPerStatement: total / statements.length,
    concurrency,
    seconds,
    rate: total / seconds,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
  };
}

/** Phase 1: SIGNALS signals in BATCH-signal requests; time until Neo4j holds them all and Postgres the last score. */
async function throughputPhase(ctx) {
  const { base, driver, psql, packing, watcher } = ctx;
  const prefix = `tp-${runId}-`;
  const tenants = Array.from({ length: TENANTS }, (_, i) => `${prefix}${i}`);
  const tokens = await Promise.all(tenants.map((t) => mintToken(t, SCOPE)));
  const perTenant = Math.ceil(SIGNALS / TENANTS / BATCH) * BATCH;
  const total = perTenant * TENANTS;
  const requests = [];
  for (let from = 0; from < perTenant; from += BATCH) {
    for (let t = 0; t < TENANTS; t++) requests.push({ t, from, count: Math.min(BATCH, perTenant - from) });
  }
  const logFrom = watcher.mark();
  const ts = tsIso();
  const sent = [];
  let next = 0;
  log(
    `throughput: ${total} signals, ${requests.length} requests of ${BATCH} over ${TENANTS} tenants, ${CONCURRENCY} in flight`,
  );
  const started = nowMs();
  const graphSamples = [];
  let ingestDone = null;
  let graphDone = null;
  let pgDone = null;
  let stopPolling = false;
  const poller = (async () => {
    while (!stopPolling) {
      const at = nowMs();
      if (graphDone === null) {
        const n = sumValues(await graphCounts(driver, prefix));
        graphSamples.push({ at, n });
        if (n >= total) graphDone = at;
      }
      if (pgDone === null) {
        const rows = await pgScoreRows(psql, prefix);
        if (rows.size === TENANTS && [...rows.values()].every((r) => r.count >= perTenant)) pgDone = at;
      }
      if (graphDone !== null && pgDone !== null) break;
      if (at - started > TIMEOUT_MS) break;
      await sleep(250);
    }
  })();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const r = requests[next++];
        const signals = makeSignals(tenants[r.t], r.from, r.count, ts);
        const { returnedAt, provenanceId } = await postIngest(base, tokens[r.t], signals);
        sent.push({
          tenant: tenants[r.t],
          signals,
          provenanceId,
          seqFrom: r.from + 1,
          acceptedMs: Math.round(returnedAt),
        });
      }
    }),
  );
  ingestDone = nowMs();
  log(`throughput: ingest took ${((ingestDone - started) / 1000).toFixed(2)} s; waiting for the stores`);
  await poller;
  stopPolling = true;
  const graphFinal = sumValues(await graphCounts(driver, prefix));
  await sleep(1500); // the last batch's QUEUE line
  const batches = watcher.since(logFrom);

  // 10 % → 90 % of the signals in Neo4j: the sink's rate once it is busy, without start-up and tail.
  const at = (frac) => graphSamples.find((s) => s.n >= frac * total)?.at ?? null;
  const t10 = at(0.1);
  const t90 = at(0.9);
  const cost = costOf(packing, sent);
  return {
    prefix,
    total,
    perTenant,
    requests: requests.length,
    ingestSeconds: (ingestDone - started) / 1000,
    ingestRate: total / ((ingestDone - started) / 1000),
    graphSeconds: graphDone === null ? null : (graphDone - started) / 1000,
    graphRate: graphDone === null ? null : total / ((graphDone - started) / 1000),
    graphFinal,
    graphSteadyRate: t10 !== null && t90 !== null && t90 > t10 ? (0.8 * total) / ((t90 - t10) / 1000) : null,
    graphAfterIngestSeconds: graphDone === null ? null : (graphDone - ingestDone) / 1000,
    pgSeconds: pgDone === null ? null : (pgDone - started) / 1000,
    batches,
    timeline: timelineOf(started, graphSamples, batches, ingestDone),
    cost,
  };
}

/**
 * Where the end-to-end time went: Neo4j's signal count at each whole second after the first request, and each
 * consumer batch's span (seconds after the first request, messages). Head and tail show up here.
 */
function timelineOf(started, samples, batches, ingestDone) {
  const counts = [];
  for (let sec = 1; samples.length > 0 && sec * 1000 <= samples[samples.length - 1].at - started + 999; sec++) {
    const s = [...samples].reverse().find((x) => x.at - started <= sec * 1000);
    counts.push(`${sec} s ${s ? Math.round(s.n / 1000) : 0}k`);
  }
  const spans = batches.map(
    (b) => `${((b.startAt - started) / 1000).toFixed(1)}–${((b.endAt - started) / 1000).toFixed(1)} s (${b.total})`,
  );
  return {
    counts: counts.join(", "),
    spans: spans.join(", "),
    ingestEnd: (ingestDone - started) / 1000,
  };
}

/** What the outbox would send for these requests, one drain per request (packSignals + one score message). */
function costOf(packing, sent, maxBytes, slim = false) {
  const signalMessages = [];
  const scoreMessages = [];
  let signals = 0;
  for (const s of sent) {
    // `slim`: what-if rows without the per-request provenanceId and tags (carried once per message instead).
    const rows = sinkRows(s.signals, s).map(({ provenanceId, tags, ...r }) =>
      slim ? r : { ...r, provenanceId, tags },
    );
    signals += rows.length;
    signalMessages.push(...packing.packSignals(s.tenant, rows, maxBytes ?? packing.maxBytes));
    scoreMessages.push(scoreMessage(s.tenant));
  }
  const sig = queueCost(signalMessages);
  const score = queueCost(scoreMessages);
  const top = maxBytes === undefined && !slim;
  const alt = top ? costOf(packing, sent, CHUNK_BYTES) : null;
  const slimAlt = top ? costOf(packing, sent, undefined, true) : null;
  return {
    signals,
    signalMessages: sig.messages,
    signalChunks: sig.chunks,
    signalBytes: sig.bytes,
    scoreMessages: score.messages,
    messages: sig.messages + score.messages,
    ops: sig.ops + score.ops,
    per1000: (x) => (x * 1000) / signals,
    alt,
    slimAlt,
  };
}

/**
 * Phase 2: steady ingest at LAG_RATE req/s over LAG_TENANTS tenants (each tenant's requests one after another, at
 * fixed instants). For every answered request: the first Postgres poll that sees the tenant's row at ≥ the count
 * after that request, minus the instant the answer came back. The same against Neo4j's signal count (not judged).
 */
async function lagPhase(ctx) {
  const { base, driver, psql, packing, watcher } = ctx;
  const prefix = `lag-${runId}-`;
  const tenants = Array.from({ length: LAG_TENANTS }, (_, i) => `${prefix}${i}`);
  const tokens = await Promise.all(tenants.map((t) => mintToken(t, SCOPE)));
  const perTenantRate = LAG_RATE / LAG_TENANTS;
  const perTenantRequests = Math.round(perTenantRate * LAG_SECONDS);
  const interval = 1000 / perTenantRate;
  const logFrom = watcher.mark();
  const pgObs = new Map(tenants.map((t) => [t, []]));
  const graphObs = new Map(tenants.map((t) => [t, []]));
  let stop = false;
  const pollPg = (async () => {
    let polls = 0;
    const started = nowMs();
    while (!stop) {
      const at = nowMs();
      const rows = await pgScoreRows(psql, prefix);
      polls++;
      for (const [t, r] of rows) {
        const obs = pgObs.get(t);
        if (obs && (obs.length === 0 || obs[obs.length - 1].n < r.count)) obs.push({ at, n: r.count });
      }
      const wait = POLL_MS - (nowMs() - at);
      if (wait > 0) await sleep(wait);
    }
    return { polls, periodMs: (nowMs() - started) / Math.max(1, polls) };
  })();
  const pollGraph = (async () => {
    while (!stop) {
      const at = nowMs();
      const counts = await graphCounts(driver, prefix);
      for (const [t, n] of counts) {
        const obs = graphObs.get(t);
        if (obs && (obs.length === 0 || obs[obs.length - 1].n < n)) obs.push({ at, n });
      }
      const wait = 100 - (nowMs() - at);
      if (wait > 0) await sleep(wait);
    }
  })();
  log(
    `lag: ${LAG_RATE} req/s of ${LAG_BATCH} signal(s) over ${LAG_TENANTS} tenants for ${LAG_SECONDS} s (Postgres polled every ${POLL_MS} ms)`,
  );
  const requests = [];
  const sent = [];
  let late = 0;
  const t0 = nowMs() + 200;
  await Promise.all(
    tenants.map(async (tenant, ti) => {
      let count = 0;
      for (let i = 0; i < perTenantRequests; i++) {
        const due = t0 + i * interval + (ti * interval) / LAG_TENANTS;
        const wait = due - nowMs();
        if (wait > 0) await sleep(wait);
        else if (wait < -interval / 2) late++;
        const signals = makeSignals(tenant, count, LAG_BATCH, tsIso());
        const sentAt = nowMs();
        const { returnedAt, provenanceId } = await postIngest(base, tokens[ti], signals);
        count += LAG_BATCH;
        requests.push({ tenant, sentAt, returnedAt, count });
        sent.push({
          tenant,
          signals,
          provenanceId,
          seqFrom: count - LAG_BATCH + 1,
          acceptedMs: Math.round(returnedAt),
        });
      }
    }),
  );
  const ingestEnd = nowMs();
  const ingestSeconds = (ingestEnd - t0) / 1000;
  // Let every tenant's last score and signals arrive, then stop polling.
  const finalCount = perTenantRequests * LAG_BATCH;
  const deadline = nowMs() + 60_000;
  while (nowMs() < deadline) {
    const pgOk = tenants.every((t) => (pgObs.get(t).at(-1)?.n ?? 0) >= finalCount);
    const graphOk = tenants.every((t) => (graphObs.get(t).at(-1)?.n ?? 0) >= finalCount);
    if (pgOk && graphOk) break;
    await sleep(100);
  }
  stop = true;
  const pgPolls = await pollPg;
  await pollGraph;
  await sleep(1500);
  const batches = watcher.since(logFrom);

  const lagsOf = (obsByTenant, list = requests) => {
    const lags = [];
    let missing = 0;
    for (const r of list) {
      const hit = obsByTenant.get(r.tenant).find((o) => o.n >= r.count);
      if (!hit) missing++;
      else lags.push(Math.max(0, hit.at - r.returnedAt));
    }
    lags.sort((a, b) => a - b);
    return { lags, missing };
  };
  // The same lag by thirds of the phase: a lag that grows from one third to the next means a backlog.
  const thirds = [0, 1, 2].map((k) => {
    const from = t0 + (k * LAG_SECONDS * 1000) / 3;
    const to = t0 + ((k + 1) * LAG_SECONDS * 1000) / 3;
    const { lags } = lagsOf(
      pgObs,
      requests.filter((r) => r.sentAt >= from && (k === 2 || r.sentAt < to)),
    );
    return { p50: percentile(lags, 50), p95: percentile(lags, 95) };
  });
  const pg = lagsOf(pgObs);
  const graph = lagsOf(graphObs);
  const responseTimes = requests.map((r) => r.returnedAt - r.sentAt).sort((a, b) => a - b);
  return {
    prefix,
    requests: requests.length,
    signals: requests.length * LAG_BATCH,
    ingestSeconds,
    achievedRate: requests.length / ingestSeconds,
    late,
    responseP50: percentile(responseTimes, 50),
    responseP95: percentile(responseTimes, 95),
    pg: { ...pg, p50: percentile(pg.lags, 50), p95: percentile(pg.lags, 95), p99: percentile(pg.lags, 99) },
    graph: {
      ...graph,
      p50: percentile(graph.lags, 50),
      p95: percentile(graph.lags, 95),
      p99: percentile(graph.lags, 99),
    },
    pgMax: pg.lags.at(-1) ?? null,
    thirds,
    pgPolls,
    batches,
    cost: costOf(packing, sent),
  };
}

// ---------------------------------------------------------------------------------------------- report

const fmtInt = (n) => (n === null || n === undefined ? "n/a" : Math.round(n).toLocaleString("en-US"));
const fmtMs = (ms) => (ms === null || ms === undefined ? "n/a" : `${Math.round(ms).toLocaleString("en-US")} ms`);
const fmtS = (s) => (s === null || s === undefined ? "n/a" : `${s.toFixed(2)} s`);
const fmt1 = (x) => (x === null || x === undefined ? "n/a" : x.toFixed(1));
const fmtRatio = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : `${x.toFixed(2)}×`);
const yesNo = (ok) => (ok === null ? "n/a" : ok ? "yes" : "no");

function machineInfo() {
  let java = "unknown";
  let postgres = "unknown";
  try {
    java = execFileSyncText("java", ["-version"], true).split("\n")[0].trim();
  } catch {}
  try {
    postgres = execFileSyncText("psql", ["--version"]).trim();
  } catch {}
  return {
    ...hostInfo(),
    workerd: packageVersion("workerd"),
    neo4jDriver: packageVersion("neo4j-driver"),
    java,
    postgres,
    commit: gitRevision(),
    loadStart: loadText(),
  };
}

function execFileSyncText(cmd, args, stderr = false) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return stderr ? r.stderr : r.stdout;
}

function batchSummary(batches) {
  const delivered = batches.reduce((a, b) => a + b.total, 0);
  const acked = batches.reduce((a, b) => a + b.acked, 0);
  const busyMs = batches.reduce((a, b) => a + (b.ms ?? 0), 0);
  const sizes = batches.map((b) => b.total).sort((a, b) => a - b);
  return {
    count: batches.length,
    delivered,
    acked,
    busyMs,
    medianSize: percentile(sizes, 50),
    maxSize: sizes.at(-1),
    overlap: maxOverlap(batches),
  };
}

/** Measured queue figures of a phase: deliveries from the broker's lines, score messages from Postgres' writes. */
function measuredOps(phase) {
  const b = batchSummary(phase.batches);
  if (b.count === 0) return { ...b, available: false };
  // The broker's lines give counts, not sizes: 64 KB chunks per message as computed for the same requests.
  const chunksPerMsg = (phase.cost.signalChunks + phase.cost.scoreMessages) / Math.max(1, phase.cost.messages);
  const ops = OPS_PER_CHUNK * b.delivered * chunksPerMsg;
  const signals = phase.cost.signals;
  return {
    ...b,
    available: true,
    msgsPer1000: (b.delivered * 1000) / signals,
    opsPer1000: (ops * 1000) / signals,
    retried: b.delivered - b.acked,
  };
}

function buildReport(m, ctx, raw, tp, lag, notes) {
  const tpCost = tp.cost;
  const lagCost = lag.cost;
  const tpMeasured = measuredOps(tp);
  const lagMeasured = measuredOps(lag);
  const tpBatches = batchSummary(tp.batches);
  const lagBatches = batchSummary(lag.batches);
  const rawSerial = raw.serial;
  const serialRate = raw.serialRate;
  const rawPar = raw.parallel;
  const table = (header, body) =>
    [
      `| ${header.join(" | ")} |`,
      `|${header.map(() => "---").join("|")}|`,
      ...body.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
  const opsTp = tpCost.per1000(tpCost.ops);
  const opsTpAlt = tpCost.alt.per1000(tpCost.alt.ops);
  const opsLag = lagCost.per1000(lagCost.ops);
  const figures = [
    [
      `Signals/s into Neo4j, end to end (${fmtInt(tp.total)} signals, ${TENANTS} tenants, ${BATCH}/request)`,
      tp.graphRate === null ? "not all arrived" : `**${fmtInt(tp.graphRate)} signals/s** (${fmtS(tp.graphSeconds)})`,
      `raw MERGE, 1 statement at a time: ${fmtInt(serialRate)} signals/s (mean of ${fmtInt(rawSerial.rate)} before and ${fmtInt(raw.serialAfter.rate)} after the phase); ${rawPar.concurrency} at a time: ${fmtInt(rawPar.rate)} signals/s`,
      `${fmtRatio(tp.graphRate / serialRate)} / ${fmtRatio(tp.graphRate / rawPar.rate)}`,
      `≥ ${fmtInt(TARGETS.neo4jSignalsPerSec)} signals/s`,
      yesNo(tp.graphRate === null ? false : tp.graphRate >= TARGETS.neo4jSignalsPerSec),
    ],
    [
      "Signals/s into Neo4j end to end, as a share of the store's ceiling",
      tp.graphRate === null ? "not all arrived" : `**${fmtRatio(tp.graphRate / raw.ceiling)}**`,
      `ceiling = the best raw configuration of the service's own statement in this run: ${fmtInt(raw.ceiling)} signals/s (1 at a time ${fmtInt(raw.serial.rate)} / ${fmtInt(raw.serialAfter.rate)}, 2 at a time ${fmtInt(raw.two.rate)}, ${rawPar.concurrency} at a time ${fmtInt(rawPar.rate)}, ${fmtInt(raw.grouped.rowsPerStatement)}-row statements ${fmtInt(raw.grouped.rate)})`,
      "—",
      `≥ ${TARGETS.ceilingRatio}×`,
      yesNo(tp.graphRate === null ? false : tp.graphRate / raw.ceiling >= TARGETS.ceilingRatio),
    ],
    [
      "Materialization lag DO → Postgres, p95 (steady ingest)",
      `**${fmtMs(lag.pg.p95)}** (p50 ${fmtMs(lag.pg.p50)}, p99 ${fmtMs(lag.pg.p99)}, max ${fmtMs(lag.pgMax)})`,
      "—",
      "—",
      `p95 ≤ ${fmtInt(TARGETS.lagP95Ms)} ms`,
      yesNo(lag.pg.missing > 0 ? false : lag.pg.p95 === null ? null : lag.pg.p95 <= TARGETS.lagP95Ms),
    ],
    [
      `Queue operations per 1,000 signals, ${BATCH}-signal requests`,
      `**${fmt1(opsTp)}** computed (${fmt1(tpCost.per1000(tpCost.messages))} messages); ${tpMeasured.available ? `${fmt1(tpMeasured.opsPer1000)} from the run's deliveries (${fmt1(tpMeasured.msgsPer1000)} messages)` : "deliveries not visible in the log"}`,
      `same signals packed into ≤ 64 KB messages: ${fmt1(opsTpAlt)}`,
      "—",
      `≤ ${TARGETS.opsPer1000}`,
      yesNo(opsTp <= TARGETS.opsPer1000),
    ],
    [
      `Queue operations per 1,000 signals, steady ingest (${LAG_BATCH} signal(s)/request)`,
      `**${fmt1(opsLag)}** computed (${fmt1(lagCost.per1000(lagCost.messages))} messages); ${lagMeasured.available ? `${fmt1(lagMeasured.opsPer1000)} from the run's deliveries (${fmt1(lagMeasured.msgsPer1000)} messages)` : "deliveries not visible in the log"}`,
      "—",
      "—",
      `(≤ ${TARGETS.opsPer1000})`,
      yesNo(opsLag <= TARGETS.opsPer1000),
    ],
  ];
  const details = [
    [
      "Ingest of the throughput phase (HTTP 202s)",
      `${fmtS(tp.ingestSeconds)} → ${fmtInt(tp.ingestRate)} signals/s accepted`,
    ],
    [
      "Neo4j: all signals present",
      tp.graphSeconds === null
        ? `not within ${TIMEOUT_MS / 1000} s (${fmtInt(tp.graphFinal)} of ${fmtInt(tp.total)})`
        : `${fmtS(tp.graphSeconds)} after the first request, ${fmtS(tp.graphAfterIngestSeconds)} after the last 202`,
    ],
    ["Neo4j: rate while busy (10 % → 90 % of the signals)", `${fmtInt(tp.graphSteadyRate)} signals/s`],
    ["Neo4j: signals present by second after the first request (polled every 250 ms)", tp.timeline.counts],
    [
      `Consumer batches: span in seconds after the first request (messages); the last 202 came at ${fmtS(tp.timeline.ingestEnd)}`,
      tp.timeline.spans || "none seen in the log",
    ],
    [
      "Postgres: every tenant's final score present",
      tp.pgSeconds === null
        ? "not within the timeout"
        : `${fmtS(tp.pgSeconds)} after the first request (${TENANTS} rows; a score message goes out per outbox drain, after that drain's signals messages)`,
    ],
    [
      "Queue batches delivered to the consumer (wrangler's QUEUE lines)",
      tpBatches.count === 0
        ? "none seen in the log"
        : `${tpBatches.count} batches, ${tpBatches.delivered} messages (${tpBatches.acked} acked), median ${tpBatches.medianSize} / max ${tpBatches.maxSize} per batch; up to ${tpBatches.overlap} at once; batch durations add up to ${fmtS(tpBatches.busyMs / 1000)} (${fmt1(tpBatches.busyMs / Math.max(1, tpBatches.delivered))} ms per message, ${fmtInt(tp.total / (tpBatches.busyMs / 1000))} signals per busy second)`,
    ],
    [
      `Raw Neo4j baseline, ${rawSerial.statements} statements of ~${Math.round(rawSerial.rowsPerStatement)} rows`,
      `1 at a time: ${fmtS(rawSerial.seconds)}, statement p50 ${fmtMs(rawSerial.p50)} p95 ${fmtMs(rawSerial.p95)}; ${rawPar.concurrency} at a time: ${fmtS(rawPar.seconds)}, p50 ${fmtMs(rawPar.p50)} p95 ${fmtMs(rawPar.p95)}`,
    ],
    [
      `Raw Neo4j, ${fmtInt(raw.grouped.rowsPerStatement)} rows per statement, 1 at a time (a consumer batch's messages of one tenant merged)`,
      `${fmtInt(raw.grouped.rate)} signals/s (${raw.grouped.statements} statements, p50 ${fmtMs(raw.grouped.p50)})`,
    ],
    [
      "Raw Neo4j, 1 row per statement, 1 at a time (a trickle signals message)",
      `p50 ${fmtMs(raw.single.p50)}, p95 ${fmtMs(raw.single.p95)} per statement (${raw.single.statements} statements)`,
    ],
    [
      "Steady ingest achieved",
      `${lag.requests} requests in ${fmtS(lag.ingestSeconds)} = ${fmt1(lag.achievedRate)} req/s (asked ${LAG_RATE}); ${lag.late} started more than half an interval late; response p50 ${fmtMs(lag.responseP50)} p95 ${fmtMs(lag.responseP95)}`,
    ],
    [
      "Lag DO → Neo4j (signal count, polled every 100 ms; not judged)",
      `p50 ${fmtMs(lag.graph.p50)}, p95 ${fmtMs(lag.graph.p95)}, p99 ${fmtMs(lag.graph.p99)}${lag.graph.missing ? `; ${lag.graph.missing} never seen` : ""}`,
    ],
    [
      "Lag DO → Postgres by thirds of the steady phase (p50 / p95)",
      lag.thirds.map((t, i) => `${["first", "second", "last"][i]}: ${fmtMs(t.p50)} / ${fmtMs(t.p95)}`).join("; "),
    ],
    [
      "Queue batches delivered in the steady phase",
      lagBatches.count === 0
        ? "none seen in the log"
        : `${lagBatches.count} batches, ${lagBatches.delivered} messages, median ${lagBatches.medianSize} / max ${lagBatches.maxSize} per batch; up to ${lagBatches.overlap} at once; batch durations add up to ${fmtS(lagBatches.busyMs / 1000)} in ${fmtS(lag.ingestSeconds)} (${fmt1(lagBatches.busyMs / Math.max(1, lagBatches.delivered))} ms per message)`,
    ],
    [
      "Postgres polls during the lag phase",
      `${lag.pgPolls.polls}, one every ${fmt1(lag.pgPolls.periodMs)} ms on average${lag.pg.missing ? `; **${lag.pg.missing} requests never seen in Postgres**` : ""}`,
    ],
  ];
  const costRows = [
    [
      `${BATCH}-signal requests (phase 1)`,
      fmtInt(tpCost.signals),
      `${tpCost.signalMessages} × signals (${fmt1(tpCost.signalBytes / tpCost.signalMessages / 1024)} KB avg, ${tpCost.signalChunks} chunks) + ${tpCost.scoreMessages} × score`,
      fmt1(tpCost.per1000(tpCost.messages)),
      fmt1(opsTp),
      tpMeasured.available
        ? `${tpMeasured.delivered} delivered (${tpMeasured.retried} retried) = ${fmt1(tpMeasured.msgsPer1000)} msgs → ~${fmt1(tpMeasured.opsPer1000)} ops`
        : "n/a",
    ],
    [
      `same, packed into ≤ 64 KB (what-if)`,
      fmtInt(tpCost.alt.signals),
      `${tpCost.alt.signalMessages} × signals (${tpCost.alt.signalChunks} chunks) + ${tpCost.alt.scoreMessages} × score`,
      fmt1(tpCost.alt.per1000(tpCost.alt.messages)),
      fmt1(opsTpAlt),
      "—",
    ],
    [
      "same, rows without per-row provenanceId and tags, 100 KB packing (what-if)",
      fmtInt(tpCost.slimAlt.signals),
      `${tpCost.slimAlt.signalMessages} × signals (${fmt1(tpCost.slimAlt.signalBytes / tpCost.slimAlt.signalMessages / 1024)} KB avg, ${tpCost.slimAlt.signalChunks} chunks) + ${tpCost.slimAlt.scoreMessages} × score`,
      fmt1(tpCost.slimAlt.per1000(tpCost.slimAlt.messages)),
      fmt1(tpCost.slimAlt.per1000(tpCost.slimAlt.ops)),
      "—",
    ],
    [
      `${LAG_BATCH}-signal requests at ${LAG_RATE} req/s (phase 2)`,
      fmtInt(lagCost.signals),
      `${lagCost.signalMessages} × signals + ${lagCost.scoreMessages} × score`,
      fmt1(lagCost.per1000(lagCost.messages)),
      fmt1(opsLag),
      lagMeasured.available
        ? `${lagMeasured.delivered} delivered (${lagMeasured.retried} retried) = ${fmt1(lagMeasured.msgsPer1000)} msgs → ~${fmt1(lagMeasured.opsPer1000)} ops`
        : "n/a",
    ],
  ];
  return `# Sinks benchmark results

Generated by \`node bench/sinks.mjs\` (also the last phase of \`npm run bench\`) — this file is overwritten on every run.

- Date: ${new Date().toISOString()}
- Machine: ${m.nproc} cores (${m.cpu}), ${m.memGiB} GiB; load average ${m.loadStart} at start, ${loadText()} at end (1/5/15 min)
- Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}, neo4j-driver ${m.neo4jDriver}; ${m.java}; ${m.postgres}
- Service: \`npm start\` (wrangler dev → workerd, local Queues in miniflare) at commit ${m.commit}, fresh state, RPS_MAX=1000000
- Stores: Neo4j 5.26 Community (harness JVM, server profile: normal tiered compiler, -Xmx2g; fresh store, warmed with ${fmtInt(WARMUP)} signals), PostgreSQL (cluster in .cache/pg-bench,
  \`coherence_scores\` dropped and migrated afresh) behind our WebSocket proxy (in the bench's own Node process)
- Packing rule: ${ctx.packing.source}, MAX_MESSAGE_BYTES = ${ctx.packing.maxBytes}; a signal row as queued is ~${fmtInt(tpCost.signalBytes / tpCost.signals)} bytes of JSON
- Neo4j JVM extra options (NEO4J_JAVA_OPTS): ${process.env.NEO4J_JAVA_OPTS ? `\`${process.env.NEO4J_JAVA_OPTS}\`` : "none"}
- Settings: SINK_SIGNALS=${SIGNALS}, SINK_TENANTS=${TENANTS}, SINK_BATCH=${BATCH}, SINK_CONCURRENCY=${CONCURRENCY}, SINK_LAG_RATE=${LAG_RATE}, SINK_LAG_BATCH=${LAG_BATCH}, SINK_LAG_TENANTS=${LAG_TENANTS}, SINK_LAG_SECONDS=${LAG_SECONDS}, SINK_POLL_MS=${POLL_MS}

> Everything — the Neo4j JVM, Postgres, workerd, wrangler's Node proxy, the WebSocket proxy, this load generator and
> its pollers — shares these ${m.nproc} cores, and the local queue (miniflare) runs the consumer on one batch at a time
> (a second only while 100 more messages wait) where Cloudflare scales consumer invocations out. Absolute figures are
> this machine's; the ratio to the raw Neo4j baseline measured in the same run is the telling one.

## Figures against targets

${table(["Figure", "Measured", "Baseline (same run)", "Ratio (serial / concurrent)", "Target", "Met"], figures)}

## Details

${table(["What", "Measured"], details)}

## Queue operations

Cloudflare Queues bill ${OPS_PER_CHUNK} operations (write, read, delete) per started 64 KB (${CHUNK_BYTES} bytes) of each
message; a retry adds a read. "Computed" packs the phase's actual signals (the rows the object sends, with each
request's real provenance id) with packSignals and adds one score message, assuming one outbox drain per request.
"Run" counts the messages the local queue delivered (wrangler's \`QUEUE coherence-sink n/n\` lines)
(the lines carry counts, not sizes, so chunks per message are taken from the computation). The ≤ 64 KB what-if packs
up to exactly ${CHUNK_BYTES} bytes of JSON per message: it depends on how Cloudflare counts a message's size (metadata
included), and any headroom below that costs one more message per request.

${table(["Traffic", "Signals", "Messages (computed)", "Msgs / 1,000 signals", "Ops / 1,000 signals (computed)", "Run"], costRows)}

## Method

1. **Baseline**: the adapter's \`WRITE_SIGNALS\` statement and parameters (bundled from src/adapters/neo4j-query-api.ts at run time),
   sent from this process to \`POST /db/neo4j/query/v2\` with rows shaped and packed exactly as the consumer sends them
   (${fmtInt(rawSerial.signals)} signals, ${TENANTS} other tenants), first one statement at a time (what one consumer
   invocation does), then ${rawPar.concurrency} at a time (each lane owning whole tenants). A few statements warm the JVM first.
   The one-at-a-time run is repeated right after the throughput phase; the ratio uses the mean of both, since other
   work on the machine moves single runs by tens of percent.
2. **Throughput**: ${fmtInt(tp.total)} new signals (\`ts\` one minute ago) in ${tp.requests} requests of ${BATCH} over
   ${TENANTS} tenants, ${CONCURRENCY} in flight. Neo4j is polled every 250 ms over Bolt (\`COUNT { (t)-[:EMITS]->() }\`
   per tenant), Postgres with psql. signals/s = signals ÷ (last signal visible − first request sent).
3. **Lag**: ${LAG_RATE} requests/s of ${LAG_BATCH} signal(s), ${LAG_TENANTS} tenants, ${LAG_SECONDS} s; each tenant's requests at fixed
   instants, one after another, so the count after each answer is known. Postgres is polled every ${POLL_MS} ms
   (\`SELECT tenant_id, signal_count … FROM coherence_scores\`); lag = start of the first poll that shows
   \`signal_count\` ≥ that count − the instant the 202 came back (resolution: one poll period).

## Notes

${notes.map((n) => `- ${n}`).join("\n")}
`;
}

function printSummary(raw, tp, lag) {
  const tpCost = tp.cost;
  const lagCost = lag.cost;
  const lines = [
    "",
    `raw Neo4j MERGE, serial      : ${fmtInt(raw.serialRate)} signals/s (${fmtInt(raw.serial.rate)} before, ${fmtInt(raw.serialAfter.rate)} after; ${raw.serial.statements} statements, ~${Math.round(raw.serial.rowsPerStatement)} rows each)`,
    `raw Neo4j MERGE, ${raw.parallel.concurrency} at a time : ${fmtInt(raw.parallel.rate)} signals/s`,
    `raw Neo4j MERGE, ${fmtInt(raw.grouped.rowsPerStatement)} rows/stmt: ${fmtInt(raw.grouped.rate)} signals/s; 1-row statement p50 ${fmtMs(raw.single.p50)}`,
    `pipeline → Neo4j, end to end : ${fmtInt(tp.graphRate)} signals/s (${fmtS(tp.graphSeconds)}; ${fmtRatio(tp.graphRate / raw.serialRate)} of serial raw) — target ≥ ${fmtInt(TARGETS.neo4jSignalsPerSec)}`,
    `pipeline → Neo4j, 10→90 %    : ${fmtInt(tp.graphSteadyRate)} signals/s`,
    `Postgres final scores        : ${fmtS(tp.pgSeconds)}`,
    `lag DO → Postgres            : p50 ${fmtMs(lag.pg.p50)} p95 ${fmtMs(lag.pg.p95)} p99 ${fmtMs(lag.pg.p99)} — target p95 ≤ ${TARGETS.lagP95Ms} ms`,
    `lag DO → Neo4j               : p50 ${fmtMs(lag.graph.p50)} p95 ${fmtMs(lag.graph.p95)} p99 ${fmtMs(lag.graph.p99)}`,
    `queue ops / 1,000 signals    : ${fmt1(tpCost.per1000(tpCost.ops))} (${BATCH}/request; ≤64 KB packing: ${fmt1(tpCost.alt.per1000(tpCost.alt.ops))}), ${fmt1(lagCost.per1000(lagCost.ops))} (${LAG_BATCH}/request) — target ≤ ${TARGETS.opsPer1000}`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Error lines and reloads in the service's log, as bench/run.mjs reports them. */
function serviceNotes(text) {
  const lines = text.split("\n");
  const notes = [];
  const errors = lines.filter((l) => /"level":"(error|warn)"|✘|\[ERROR\]|Uncaught/.test(l));
  if (errors.length > 0) {
    notes.push(
      `the service logged ${errors.length} warning/error line(s), e.g. ${errors
        .slice(0, 3)
        .map((l) => `\`${l.slice(0, 300)}\``)
        .join("; ")}`,
    );
  }
  const reloads = lines.filter((l) => /Reloading local server|Detected changes/.test(l));
  if (reloads.length > 0)
    notes.push(`wrangler reloaded the Worker ${reloads.length}× during the run: figures are suspect`);
  return notes;
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const machine = machineInfo();
  const scratch = mkdtempSync(join(tmpdir(), "coherence-bench-sinks-"));
  const stateDir = join(scratch, "state");
  const neo4jDir = join(scratch, "neo4j");
  const logFile = join(scratch, "service.log");
  const pgDir = join(root, ".cache", "pg-bench");
  const res = { pg: null, proxy: null, neo4j: null, service: null, driver: null, psql: null, watcher: null };
  const cleanup = async () => {
    const steps = [
      () => res.watcher?.stop(),
      () => res.service?.halt(),
      () => res.driver?.close(),
      () => res.psql?.stop(),
      () => res.neo4j?.stop(),
      () => res.proxy?.stop(),
      () => res.pg?.stop(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        log(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    res.service = res.driver = res.psql = res.neo4j = res.proxy = res.pg = null;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      cleanup().finally(() => process.exit(130));
    });
  }

  try {
    const packing = await loadProduction();
    const [pgPort, proxyPort] = [await freePort(), await freePort()];
    log(`starting Postgres (${pgDir}), the WebSocket proxy and Neo4j`);
    res.pg = await startPostgres({ dataDir: pgDir, port: pgPort });
    res.proxy = await startWsproxy({ pgPort: res.pg.port, port: proxyPort });
    res.neo4j = await startNeo4j({ dataDir: neo4jDir, profile: "server" });
    const neo4j = res.neo4j;
    res.psql = startPsql(res.pg.url);
    await res.psql.query("DROP TABLE IF EXISTS coherence_scores");
    migratePostgres(res.pg.url);
    await migrateNeo4j({ url: neo4j.httpUrl, user: neo4j.user, password: neo4j.password, database: neo4j.database });
    res.driver = neo4jDriver.driver(neo4j.boltUrl, neo4jDriver.auth.basic(neo4j.user, neo4j.password));
    await cypher(res.driver, "CALL db.awaitIndexes(60)");

    log(`starting npm start (state ${stateDir}, log ${logFile})`);
    const t0 = Date.now();
    try {
      res.service = await startService({
        stateDir,
        logFile,
        timeoutMs: STARTUP_TIMEOUT_MS,
        env: {
          RPS_MAX: "1000000",
          NEO4J_URL: neo4j.httpUrl,
          NEO4J_USER: neo4j.user,
          NEO4J_PASSWORD: neo4j.password,
          DATABASE_URL: res.pg.url,
          NEON_WSPROXY: res.proxy.url,
        },
      });
    } catch (err) {
      log(err.message);
      return 1;
    }
    const base = res.service.baseUrl;
    log(`healthy on ${base} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const ready = await fetch(`${base}/readyz`).then((r) => r.text());
    log(`/readyz: ${ready}`);

    // Baseline: warm the JVM and the store with the raw statement, then the measured runs.
    log(`baseline: warming Neo4j with ${fmtInt(WARMUP)} signals of the raw statement, 2 at a time`);
    await rawNeo4j(neo4j, packing, {
      prefix: `warm-${runId}-`,
      signals: WARMUP,
      tenants: TENANTS,
      concurrency: 2,
    });
    const raw = {};
    raw.serial = await rawNeo4j(neo4j, packing, {
      prefix: `raw1-${runId}-`,
      signals: SIGNALS,
      tenants: TENANTS,
      concurrency: 1,
    });
    log(`raw serial: ${fmtInt(raw.serial.rate)} signals/s in ${fmtS(raw.serial.seconds)}`);
    raw.parallel = await rawNeo4j(neo4j, packing, {
      prefix: `rawN-${runId}-`,
      signals: SIGNALS,
      tenants: TENANTS,
      concurrency: CONCURRENCY,
    });
    log(`raw ×${CONCURRENCY}: ${fmtInt(raw.parallel.rate)} signals/s in ${fmtS(raw.parallel.seconds)}`);
    raw.two = await rawNeo4j(neo4j, packing, {
      prefix: `raw2-${runId}-`,
      signals: SIGNALS,
      tenants: TENANTS,
      concurrency: 2,
    });
    log(`raw ×2: ${fmtInt(raw.two.rate)} signals/s in ${fmtS(raw.two.seconds)}`);

    raw.grouped = await rawNeo4j(neo4j, packing, {
      prefix: `rawG-${runId}-`,
      signals: SIGNALS,
      tenants: TENANTS,
      concurrency: 1,
      rowsPerStatement: 2500,
    });
    log(`raw, 2,500 rows/statement: ${fmtInt(raw.grouped.rate)} signals/s in ${fmtS(raw.grouped.seconds)}`);
    raw.single = await rawNeo4j(neo4j, packing, {
      prefix: `raw1r-${runId}-`,
      signals: 300,
      tenants: 3,
      concurrency: 1,
      rowsPerStatement: 1,
    });
    log(`raw, 1 row/statement: p50 ${fmtMs(raw.single.p50)} p95 ${fmtMs(raw.single.p95)}`);

    res.watcher = watchQueueBatches(logFile);
    const ctx = { base, driver: res.driver, psql: res.psql, packing, watcher: res.watcher };
    const tp = await throughputPhase(ctx);
    log(
      `throughput: Neo4j ${fmtInt(tp.graphRate)} signals/s (${fmtS(tp.graphSeconds)}), Postgres final scores ${fmtS(tp.pgSeconds)}`,
    );
    raw.serialAfter = await rawNeo4j(neo4j, packing, {
      prefix: `rawA-${runId}-`,
      signals: SIGNALS,
      tenants: TENANTS,
      concurrency: 1,
    });
    raw.serialRate = (raw.serial.rate + raw.serialAfter.rate) / 2;
    // The store's ceiling in this run: the best any raw configuration of the service's own statement reached.
    raw.ceiling = Math.max(raw.serial.rate, raw.serialAfter.rate, raw.two.rate, raw.parallel.rate, raw.grouped.rate);
    log(`raw serial again: ${fmtInt(raw.serialAfter.rate)} signals/s in ${fmtS(raw.serialAfter.seconds)}`);
    const lag = await lagPhase(ctx);
    log(`lag: Postgres p50 ${fmtMs(lag.pg.p50)} p95 ${fmtMs(lag.pg.p95)} p99 ${fmtMs(lag.pg.p99)}`);

    const serviceLog = readFileSync(logFile, "utf8");
    const notes = serviceNotes(serviceLog);
    const guard = res.service.logReport();
    notes.unshift(`Log guard (test/support/log-guard.ts) over the service's output: ${guard ?? "no error line"}.`);
    if (queueBatches(serviceLog).length === 0) {
      notes.push("no `QUEUE` lines in wrangler's output: the run's message counts are not available");
    }
    if (res.psql.stderr().trim()) notes.push(`psql reported: \`${res.psql.stderr().trim().slice(0, 300)}\``);
    for (const note of notes) log(`NOTE: ${note}`);
    notes.push(...methodNotes(raw, tp, lag));
    printSummary(raw, tp, lag);
    writeFileSync(join(root, "bench", "RESULTS-sinks.md"), buildReport(machine, ctx, raw, tp, lag, notes));
    log("wrote bench/RESULTS-sinks.md");
    if (guard) log(`log guard: ${guard}`);
    return guard ? 1 : 0;
  } catch (err) {
    return runFailed(log, err);
  } finally {
    await cleanup();
    dropScratch(scratch, log);
  }
}

/** Standing observations about what the figures mean; the run's own figures are filled in. */
function methodNotes(raw, tp, lag) {
  const b = batchSummary(tp.batches);
  const notes = [];
  if (b.count > 0) {
    notes.push(
      `Throughput phase: the local queue (miniflare) delivered ${b.delivered} messages in ${b.count} batches, up to ${b.overlap} batch(es) running at once; their durations add up to ${fmtS(b.busyMs / 1000)} against ${fmtS(tp.graphSeconds ?? 0)} end to end. Miniflare waits up to \`max_batch_timeout\` (1 s) while fewer than \`max_batch_size\` (100) messages are queued, and starts a second batch only when 100 are waiting; Cloudflare scales consumer invocations on its own.`,
    );
  }
  notes.push(
    `Neo4j bounds everything here: the adapter's statement alone reached ${fmtInt(raw.serialRate)} signals/s one statement at a time, ${fmtInt(raw.two.rate)} two at a time, ${fmtInt(raw.parallel.rate)} with ${raw.parallel.concurrency} at a time and ${fmtInt(raw.grouped.rate)} with ${fmtInt(raw.grouped.rowsPerStatement)}-row statements, on a warmed JVM with its normal compiler and a 2 GB heap, on 2 cores shared with everything else; the pipeline-to-ceiling ratio is the judged figure.`,
  );
  notes.push(
    `Steady-ingest lag = the object's coalescing window (FANOUT_WINDOW_MS, 100 ms) + the queue's batch wait (up to \`max_batch_timeout\` = 1 s, locally and in production) + the consumer's work on the messages ahead in the batch, one after another (each request's signals message goes to Neo4j, then its score message to Neo4j and Postgres; a 1-row statement alone takes ${fmtMs(raw.single.p50)} at p50 here).`,
  );
  notes.push(
    `Ops per 1,000 signals depend on the request shape: each outbox drain sends at least one signals message and one score message, so ${LAG_BATCH}-signal requests cost ~${fmt1(lag.cost.per1000(lag.cost.messages))} messages per 1,000 signals whatever the packing.`,
  );
  return notes;
}

process.exitCode = await main();
