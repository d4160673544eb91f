// FinOps reconciliation (`node bench/finops-reconcile.mjs`; also run at the end of `npm run bench` unless
// BENCH_FINOPS=0): runs a known mixed workload against `npm start` with the real sinks (Postgres behind our
// WebSocket proxy, Neo4j), counts the billable units from the outside — the load client's own tally of HTTP
// requests per tenant and status, the frames the bench's own WebSocket clients sent and received, the queue
// messages miniflare's queue broker reports delivering to the consumer, and the rows the consumer left in the
// stores (psql, Cypher over Bolt) — and compares them, per unit and per tenant, with what the cost model counted
// (GET /v1/finops/usage per tenant and tenantId=*). Writes bench/RESULTS-finops.md and exits 1 when any reconciled
// unit differs by more than 1 % (or the run printed error lines, or could not be driven). Units that cannot be
// measured from outside on this machine are listed with the reason.
//
// Settings: FINOPS_TENANTS (4) tenants; FINOPS_SCALE (3) multiplies the workload per tenant; FINOPS_TIMEOUT_S (120)
// to wait for the stores to converge. test/e2e/finops-reconcile.test.ts runs a smaller version through the exported
// functions.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import neo4jDriver from "neo4j-driver";
import WebSocket from "ws";
import { startNeo4j } from "../scripts/lib/neo4j.mjs";
import { startPostgres, startWsproxy } from "../scripts/lib/postgres.mjs";
import { migrateNeo4j, migratePostgres } from "../scripts/migrate.mjs";
import { freePort, mintToken, startService } from "../test/support/harness.ts";
import { dropScratch, gitRevision, hostInfo, loadText, runFailed, sleep } from "./lib.mjs";

const root = resolve(import.meta.dirname, "..");
/** The tolerance of the issue: model and measurement agree within 1 %. */
export const TOLERANCE = 0.01;
/** The per-tenant request limit of the run: low, so the bursts draw 429s. */
export const RPS_MAX = 25;
const SINK_QUEUE = "coherence-sink";
/** Cloudflare Queues bill a write, a read and a delete per started 64 KB of a message. */
const OPS_PER_CHUNK = 3;
const log = (message) => process.stderr.write(`[bench:finops] ${message}\n`);
const today = () => new Date().toISOString().slice(0, 10);

function positiveInt(raw, fallback) {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}

// ---------------------------------------------------------------------------------------------- stores

/**
 * Postgres (+ proxy; its cluster in `.cache/<pgDirName>`) and Neo4j, started and migrated as bench/sinks.mjs does,
 * observed with psql and Bolt.
 */
export async function startStores(scratch, pgDirName = "pg-finops") {
  const pg = await startPostgres({ dataDir: join(root, ".cache", pgDirName), port: await freePort() });
  const proxy = await startWsproxy({ pgPort: pg.port, port: await freePort() });
  const neo4j = await startNeo4j({ dataDir: join(scratch, "neo4j") });
  const psql = (sql) => {
    const r = spawnSync("psql", [pg.url, "-X", "-q", "-At", "-F", "|", "-c", sql], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout.trim();
  };
  psql("DROP TABLE IF EXISTS coherence_scores");
  migratePostgres(pg.url);
  await migrateNeo4j({ url: neo4j.httpUrl, user: neo4j.user, password: neo4j.password, database: neo4j.database });
  const driver = neo4jDriver.driver(neo4j.boltUrl, neo4jDriver.auth.basic(neo4j.user, neo4j.password));
  const cypher = async (statement, params = {}) => {
    const session = driver.session({ database: "neo4j" });
    try {
      return (await session.run(statement, params)).records.map((r) => r.toObject());
    } finally {
      await session.close();
    }
  };
  return {
    psql,
    cypher,
    env: {
      NEO4J_URL: neo4j.httpUrl,
      NEO4J_USER: neo4j.user,
      NEO4J_PASSWORD: neo4j.password,
      DATABASE_URL: pg.url,
      NEON_WSPROXY: proxy.url,
    },
    async close() {
      await driver.close();
      await neo4j.stop();
      await proxy.stop();
      await pg.stop();
    },
  };
}

/** The service as the reconciliation runs it: real sinks, a low request limit, frequent counter pushes. */
export function serviceEnv(stores) {
  return { ...stores.env, RPS_MAX: String(RPS_MAX), FINOPS_FLUSH_INTERVAL_MS: "500" };
}

// ---------------------------------------------------------------------------------------------- the client's tally

/** What the bench sent and saw for one tenant: nothing here comes from the service's counters. */
class Tally {
  constructor(tenantId) {
    this.tenantId = tenantId;
    this.requests = { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 };
    this.rejected = 0;
    /** Signals the service answered as newly accepted (202 `accepted`, which excludes duplicates; mutations `true`). */
    this.accepted = 0;
    /** HTTP requests sent with the tenant's token (every status) and WebSocket upgrades. */
    this.httpRequests = 0;
    this.upgrades = 0;
    this.byStatus = {};
    this.framesSent = 0;
    this.framesReceived = 0;
  }

  http(op, status) {
    this.httpRequests++;
    this.requests[op]++;
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (status >= 400) this.rejected++;
  }
}

async function post(base, path, token, body, contentType = "application/json") {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

const run = randomUUID().slice(0, 8);
let counter = 0;
function signal(tenantId, overrides = {}) {
  counter++;
  return {
    tenantId,
    signalId: `rec-${run}-${counter}`,
    type: counter % 3 === 0 ? "error_rate" : "latency",
    source: `src-${counter % 4}`,
    value: (counter % 97) / 96,
    weight: 1 + (counter % 3),
    ts: new Date(Date.now() - 60_000 + (counter % 1000)).toISOString(),
    ...overrides,
  };
}

async function ingest(base, tally, token, body, contentType) {
  const res = await post(base, "/v1/coherence/signals", token, body, contentType);
  tally.http("ingest", res.status);
  if (res.status === 202) tally.accepted += res.json?.accepted ?? 0; // newly stored (duplicates apart)
  return res;
}

async function graphql(base, tally, token, op, body) {
  const res = await post(base, "/graphql", token, body);
  tally.http(op, res.status);
  if (op === "graphql_mutation" && res.json?.data?.publishCoherenceSignal === true) tally.accepted++;
  return res;
}

/** A graphql-transport-ws client that counts every frame it sends and receives (pings answered, counted). */
class Socket {
  constructor(base, tenantId, token, tally) {
    this.tally = tally;
    this.frames = [];
    this.lastFrameAt = Date.now();
    const url = `${base.replace(/^http/, "ws")}/v1/tenants/${encodeURIComponent(tenantId)}/graphql`;
    this.ws = new WebSocket(url, "graphql-transport-ws", { headers: { authorization: `Bearer ${token}` } });
    tally.upgrades++;
    this.opened = new Promise((ok, fail) => {
      this.ws.once("open", ok);
      this.ws.once("error", fail);
      this.ws.once("unexpected-response", (_req, res) => fail(new Error(`upgrade answered ${res.statusCode}`)));
    });
    this.closed = new Promise((ok) => this.ws.once("close", ok));
    this.ws.on("message", (data) => {
      this.tally.framesReceived++;
      this.lastFrameAt = Date.now();
      const frame = JSON.parse(data.toString("utf8"));
      this.frames.push(frame);
      if (frame.type === "ping") this.send({ type: "pong" });
    });
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
    this.tally.framesSent++;
  }

  async waitFor(pred, what, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.frames.some(pred)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (frames: ${JSON.stringify(this.frames)})`);
      await sleep(20);
    }
  }
}

// ---------------------------------------------------------------------------------------------- workload

/**
 * The known workload for each tenant, `scale` times over: ingest batches of varied sizes (and a resent one, all
 * duplicates), a 400 and a 415, persisted reads and mutations, two WebSocket connections (one subscription
 * refused) receiving score updates while the tenant writes, and a burst over RPS_MAX (429s).
 */
export async function runWorkload(base, tenants, scale) {
  const tallies = new Map();
  const sockets = [];
  await Promise.all(
    tenants.map(async (tenantId, t) => {
      const tally = new Tally(tenantId);
      tallies.set(tenantId, tally);
      const token = await mintToken(tenantId, "coherence:read coherence:write");
      // Subscribers first (fresh second for the upgrades), receiving frames while the tenant writes.
      for (let k = 0; k < 2; k++) {
        const s = new Socket(base, tenantId, token, tally);
        sockets.push(s);
        await s.opened;
        s.send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
        await s.waitFor((f) => f.type === "connection_ack", "connection_ack");
        s.send({
          id: "own",
          type: "subscribe",
          payload: { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId } },
        });
        tally.requests.subscribe++;
        if (k === 1) {
          s.send({
            id: "other",
            type: "subscribe",
            payload: { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: "someone-else" } },
          });
          tally.requests.subscribe++;
          tally.rejected++;
          await s.waitFor((f) => f.id === "other" && f.type === "error", "the refused subscription");
        }
      }
      await sleep(1100);
      const sizes = [1, 7, 50, 200, 3, 120];
      for (let round = 0; round < scale; round++) {
        for (const [i, size] of sizes.entries()) {
          const n = size + ((t + round + i) % 5);
          const batch = Array.from({ length: n }, () => signal(tenantId));
          await ingest(base, tally, token, { signals: batch });
          if (i === 2) await ingest(base, tally, token, { signals: batch }); // resent: all duplicates
          await sleep(60);
        }
        await ingest(base, tally, token, { signals: [signal(tenantId, { value: 7 })] }); // 400
        await ingest(base, tally, token, "not json", "text/plain"); // 415
        const read = { id: "pq_tenant_coherence_v1", variables: { tenantId } };
        for (let i = 0; i < 3 + t; i++) await graphql(base, tally, token, "graphql_query", read);
        for (let i = 0; i < 2; i++) {
          await graphql(base, tally, token, "graphql_mutation", {
            id: "pq_publish_signal_v1",
            variables: { input: signal(tenantId) },
          });
        }
        await sleep(1100);
        // Over RPS_MAX in one second: the excess answers 429, every answer counted.
        await Promise.all(
          Array.from({ length: RPS_MAX * 2 }, () => graphql(base, tally, token, "graphql_query", read)),
        );
        await sleep(1100);
      }
    }),
  );
  return { tallies, sockets };
}

/** Ends the sockets once no frame has arrived for `quietMs`: `complete`, then a normal close from our side. */
export async function closeSockets(sockets, quietMs = 1500) {
  for (;;) {
    const last = Math.max(...sockets.map((s) => s.lastFrameAt));
    if (Date.now() - last >= quietMs) break;
    await sleep(200);
  }
  for (const s of sockets) s.send({ id: "own", type: "complete" });
  await sleep(300);
  for (const s of sockets) s.ws.close(1000, "done");
  await Promise.all(sockets.map((s) => s.closed));
}

// ---------------------------------------------------------------------------------------------- the outside view

/** `QUEUE <name> <acked>/<total>`: miniflare's queue broker prints one line per batch delivered to the consumer. */
export function queueDeliveries(output, queue = SINK_QUEUE) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes from wrangler's output
  const plain = output.replace(/\u001b\[[0-9;]*m/g, "");
  let acked = 0;
  let delivered = 0;
  let batches = 0;
  for (const m of plain.matchAll(/QUEUE (\S+) (\d+)\/(\d+)/g)) {
    if (m[1] !== queue) continue;
    batches++;
    acked += Number(m[2]);
    delivered += Number(m[3]);
  }
  return { acked, delivered, batches };
}

/** Rows and nodes the consumer wrote for each tenant, counted in the stores themselves. */
export async function storeCounts(stores, tenants) {
  const out = new Map();
  const list = tenants.map((t) => `'${t}'`).join(",");
  const ledger = new Map(
    stores
      .psql(`SELECT tenant_id, count(*) FROM provenance_ledger WHERE tenant_id IN (${list}) GROUP BY tenant_id`)
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("|")),
  );
  const scores = new Map(
    stores
      .psql(`SELECT tenant_id, count(*) FROM coherence_scores WHERE tenant_id IN (${list}) GROUP BY tenant_id`)
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("|")),
  );
  const nodes = await stores.cypher(
    "MATCH (s:Signal) WHERE s.tenant_id IN $tenants RETURN s.tenant_id AS tenant, count(s) AS n",
    { tenants },
  );
  for (const t of tenants) {
    const node = nodes.find((r) => r.tenant === t);
    out.set(t, {
      ledgerRows: Number(ledger.get(t) ?? 0),
      scoreRows: Number(scores.get(t) ?? 0),
      signalNodes: node ? Number(node.n) : 0,
    });
  }
  return out;
}

/** Waits until every accepted signal is in Neo4j and the stores and the broker's count stay still for 2 s. */
export async function converge(stores, service, tallies, timeoutMs) {
  const tenants = [...tallies.keys()];
  const deadline = Date.now() + timeoutMs;
  let previous = "";
  let stillSince = Date.now();
  for (;;) {
    const counts = await storeCounts(stores, tenants);
    const complete = tenants.every((t) => counts.get(t).signalNodes >= tallies.get(t).accepted);
    const state = JSON.stringify([[...counts], queueDeliveries(service.output())]);
    if (state !== previous) {
      previous = state;
      stillSince = Date.now();
    }
    if (complete && Date.now() - stillSince >= 2000) return counts;
    if (Date.now() > deadline) {
      const want = tenants.map((t) => `${t}: ${tallies.get(t).accepted} accepted`).join(", ");
      throw new Error(`the stores did not converge within ${timeoutMs} ms: ${state}; client saw ${want}`);
    }
    await sleep(250);
  }
}

/** The model's counters: each tenant's own read (its object pushes first), then the all-tenant view. */
export async function modelUsage(base, tenants) {
  const operator = await mintToken("*", "finops:read");
  const get = async (q) => {
    const res = await fetch(`${base}/v1/finops/usage?${new URLSearchParams(q)}`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    if (res.status !== 200) throw new Error(`usage read answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
  const perTenant = new Map();
  for (const tenantId of tenants) {
    const body = await get({ tenantId, from: today(), to: today() });
    perTenant.set(tenantId, body.days[0]);
  }
  const overview = new Map();
  let cursor = null;
  let totals = null;
  do {
    const page = await get({ tenantId: "*", from: today(), to: today(), limit: "100", ...(cursor ? { cursor } : {}) });
    for (const line of page.tenants) overview.set(line.tenantId, line);
    totals = page.totals;
    cursor = page.nextCursor;
  } while (cursor);
  return { perTenant, overview, totals };
}

// ---------------------------------------------------------------------------------------------- the comparison

/** What cannot be measured from outside on this machine, and why (listed in every report, never skipped). */
export const NOT_RECONCILABLE = {
  worker_cpu_us:
    "modelled per request from finops/prices.json (a Worker cannot read its CPU time; workerd reports none)",
  do_requests:
    "includes the object's alarm invocations and the Worker's internal RPC sessions, which nothing outside the runtime sees",
  do_active_ms: "the object's wall-clock time held in memory: workerd exposes no billing duration",
  do_rows_read: "rows read as SQLite reports them per statement inside the object; no outside view",
  do_rows_written:
    "rows written as SQLite reports them per statement inside the object (indexes included); no outside view",
  do_storage_bytes:
    "a gauge taken at the day's last count; the object keeps writing (its own push) after it, so a file size taken later is not the same instant",
  upstash_commands:
    "the push caused by a usage read is counted with the next push, and the local Upstash also serves the overview reads; not separable per tenant",
  neo4j_bytes:
    "bytes of the queue message bodies; the local queue broker shows counts, not bodies (signals reaching Neo4j are reconciled as `signals` instead)",
};

/** One comparison row; `diff` is |model − measured| ÷ measured (0 when both are 0). */
function row(unit, tenant, model, measured, how) {
  const diff = measured === 0 ? (model === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.abs(model - measured) / measured;
  return { unit, tenant, model, measured, diff, ok: diff <= TOLERANCE, how };
}

/** Model vs measured, per tenant and unit, and over all tenants (the overview's totals). */
export function reconcile({ tallies, counts, queue, model }) {
  const rows = [];
  const sum = { worker_requests: 0, ws_in: 0, ws_out: 0, postgres_rows: 0, signals: 0 };
  for (const [tenantId, tally] of tallies) {
    const day = model.perTenant.get(tenantId);
    const line = model.overview.get(tenantId);
    const c = counts.get(tenantId);
    const u = day.units;
    const measured = {
      worker_requests: tally.httpRequests + tally.upgrades,
      ws_in: tally.framesSent,
      ws_out: tally.framesReceived,
      postgres_rows: c.ledgerRows + c.scoreRows,
      signals: c.signalNodes,
    };
    for (const k of Object.keys(sum)) sum[k] += measured[k];
    rows.push(
      row("worker_requests", tenantId, u.worker_requests, measured.worker_requests, "HTTP requests sent + upgrades"),
      row("ws_messages_in", tenantId, u.ws_messages_in, measured.ws_in, "frames our sockets sent"),
      row("ws_messages_out", tenantId, u.ws_messages_out, measured.ws_out, "frames our sockets received"),
      row(
        "postgres_rows",
        tenantId,
        u.postgres_rows,
        measured.postgres_rows,
        "provenance_ledger + coherence_scores rows (psql)",
      ),
      row("signals", tenantId, day.signals, measured.signals, "Signal nodes in Neo4j (Cypher)"),
      row(
        "signals (client)",
        tenantId,
        day.signals,
        tally.accepted,
        "202 `accepted` (duplicates excluded) + mutations answered true",
      ),
      row("rejected", tenantId, day.rejected, tally.rejected, "4xx/429 answers + refused subscribe"),
    );
    for (const op of Object.keys(tally.requests)) {
      rows.push(row(`requests.${op}`, tenantId, day.requests[op], tally.requests[op], "sent by the client"));
    }
    // The all-tenant view must say the same as the tenant's own read.
    rows.push(
      row(
        "worker_requests (tenantId=*)",
        tenantId,
        line?.units.worker_requests ?? 0,
        measured.worker_requests,
        "as above",
      ),
    );
  }
  const t = model.totals.units;
  rows.push(
    row("worker_requests", "*", t.worker_requests, sum.worker_requests, "Σ tenants' client tallies"),
    row("ws_messages_in", "*", t.ws_messages_in, sum.ws_in, "Σ frames sent"),
    row("ws_messages_out", "*", t.ws_messages_out, sum.ws_out, "Σ frames received"),
    row("postgres_rows", "*", t.postgres_rows, sum.postgres_rows, "Σ rows in Postgres"),
    row("signals", "*", model.totals.signals, sum.signals, "Σ Signal nodes in Neo4j"),
    row("queue_messages", "*", t.queue_messages, queue.acked, "messages the broker delivered and the consumer acked"),
    row(
      "queue_operations",
      "*",
      t.queue_operations,
      queue.acked * OPS_PER_CHUNK,
      "3 × acked messages (one 64 KB chunk each: the broker shows counts, not sizes)",
    ),
  );
  return rows;
}

const fmt = (x) => (Number.isFinite(x) ? x.toLocaleString("en") : String(x));
const pct = (d) => (Number.isFinite(d) ? `${(d * 100).toFixed(2)} %` : "∞");

export function table(rows) {
  const lines = [
    "| unit | tenant | model | measured | difference | ≤ 1 % | measured as |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.unit} | ${r.tenant} | ${fmt(r.model)} | ${fmt(r.measured)} | ${pct(r.diff)} | ${r.ok ? "yes" : "**NO**"} | ${r.how} |`,
    );
  }
  return lines.join("\n");
}

/** One reconciliation against a running service and its stores. */
export async function reconcileRun({ base, service, stores, tenants, scale, timeoutMs }) {
  const { tallies, sockets } = await runWorkload(base, tenants, scale);
  await closeSockets(sockets);
  const counts = await converge(stores, service, tallies, timeoutMs);
  const queue = queueDeliveries(service.output());
  const model = await modelUsage(base, tenants);
  return { rows: reconcile({ tallies, counts, queue, model }), tallies, queue };
}

// ---------------------------------------------------------------------------------------------- main

function report(rows, tallies, queue, errorLines, scale) {
  const m = hostInfo();
  const failed = rows.filter((r) => !r.ok);
  const statuses = [...tallies.values()]
    .map(
      (t) =>
        `${t.tenantId}: ${Object.entries(t.byStatus)
          .map(([s, n]) => `${n}× ${s}`)
          .join(", ")}`,
    )
    .join("; ");
  return [
    "# FinOps reconciliation (`node bench/finops-reconcile.mjs`)",
    "",
    `Commit ${gitRevision()}; ${new Date().toISOString()}; ${m.nproc} cores (${m.cpu}), load ${loadText()}; Node ${m.node}, wrangler ${m.wrangler}.`,
    "",
    `A known workload (${tallies.size} tenants, scale ${scale}) against \`npm start\` with Postgres and Neo4j as sinks,`,
    `RPS_MAX=${RPS_MAX}: ingest batches of 1–204 signals (one resent, all duplicates), a 400 and a 415, persisted reads`,
    "and mutations, two WebSocket connections per tenant receiving score updates (one subscription refused), and",
    `bursts over the request limit (429s). HTTP answers by status — ${statuses}.`,
    "",
    "**Measured** is counted outside the service: the load client's own tally of requests, frames and answers; the",
    "bench's own WebSocket clients' frames; miniflare's queue broker lines (`QUEUE coherence-sink acked/total`, one per",
    `batch delivered to the consumer: ${queue.batches} batches, ${queue.delivered} messages delivered, ${queue.acked} acked);`,
    "rows in Postgres (`provenance_ledger`, `coherence_scores`, psql) and `Signal` nodes in Neo4j (Cypher over Bolt).",
    "**Model** is GET /v1/finops/usage per tenant and, for the totals and the `(tenantId=*)` rows, tenantId=*.",
    `Tolerance ${TOLERANCE * 100} %. Per-tenant queue counts are not visible outside (the broker's lines name no tenant): the`,
    "queue is reconciled on the totals.",
    "",
    table(rows),
    "",
    `Result: **${failed.length === 0 ? "every reconciled unit within 1 %" : `${failed.length} row(s) outside 1 %`}**.`,
    `Service-side error lines in this run (log guard): **${errorLines}**.`,
    "",
    "## Not reconcilable here",
    "",
    "| unit | why |",
    "|---|---|",
    ...Object.entries(NOT_RECONCILABLE).map(([u, why]) => `| ${u} | ${why} |`),
    "",
  ].join("\n");
}

async function main() {
  const tenantCount = positiveInt(process.env.FINOPS_TENANTS, 4);
  const scale = positiveInt(process.env.FINOPS_SCALE, 3);
  const timeoutMs = positiveInt(process.env.FINOPS_TIMEOUT_S, 120) * 1000;
  const scratch = mkdtempSync(join(tmpdir(), "coherence-finops-"));
  let stores = null;
  let service = null;
  const cleanup = async () => {
    await service?.halt();
    await stores?.close();
    service = stores = null;
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => cleanup().finally(() => process.exit(130)));
  try {
    log("starting Postgres, the WebSocket proxy and Neo4j");
    stores = await startStores(scratch);
    service = await startService({
      stateDir: join(scratch, "state"),
      env: serviceEnv(stores),
      timeoutMs: 90_000,
    });
    log(`service on ${service.baseUrl}`);
    const tenants = Array.from({ length: tenantCount }, (_, i) => `fin-rec-${run}-${i}`);
    const { rows, tallies, queue } = await reconcileRun({
      base: service.baseUrl,
      service,
      stores,
      tenants,
      scale,
      timeoutMs,
    });
    await service.halt();
    const guard = service.logReport();
    const errorLines = guard ? Number(/printed (\d+)/.exec(guard)?.[1] ?? 1) : 0;
    if (guard) log(`log guard: ${guard}`);
    const text = report(rows, tallies, queue, errorLines, scale);
    process.stdout.write(`${table(rows)}\n`);
    writeFileSync(join(root, "bench", "RESULTS-finops.md"), text);
    const failed = rows.filter((r) => !r.ok);
    log(
      `wrote bench/RESULTS-finops.md: ${failed.length} row(s) outside ${TOLERANCE * 100} %, ${errorLines} error line(s)`,
    );
    return failed.length === 0 && errorLines === 0 ? 0 : 1;
  } catch (err) {
    return runFailed(log, err);
  } finally {
    await cleanup();
    dropScratch(scratch, log);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
