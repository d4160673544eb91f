// `node bench/client.mjs` (a phase of `npm run bench`): @coherence/client's publish() of single signals against raw
// HTTP batches in the same run, and its memory against a stalled service. Writes bench/RESULTS-client.md. Timings
// never fail it: it exits non-zero only when something cannot run at all.
//
// 1. Baseline: CBENCH_SIGNALS signals POSTed straight to /v1/coherence/signals from this process in 1000-signal
//    requests, 4 in flight (the client's default concurrency), before and after phase 2 (the mean).
// 2. The client: the same number of signals, each its own publish() call after `await client.room()` (the producer
//    the client's README shows); signals/s until the last one is settled.
// 3. Stalled service: a local server that accepts requests and never answers. A producer publishes as fast as the
//    client lets it for CBENCH_STALL_S seconds; the client's unsettled signals and this process's heap are sampled.
//
// Settings: CBENCH_SIGNALS (50000), CBENCH_STALL_S (5).
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { createCoherenceClient } from "@coherence/client";
import { mintToken, startService } from "../test/support/harness.ts";
import { dropScratch, hostInfo, loadText, runFailed } from "./lib.mjs";

const root = resolve(import.meta.dirname, "..");
const SIGNALS = positiveInt(process.env.CBENCH_SIGNALS, 50_000);
const STALL_S = positiveInt(process.env.CBENCH_STALL_S, 5);
const BATCH = 1000;
const CONCURRENCY = 4;
const MAX_QUEUED = 10_000;
const SCOPE = "coherence:read coherence:write";

function positiveInt(raw, fallback) {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}

const log = (m) => process.stderr.write(`[bench:client] ${m}\n`);
const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
const runId = Date.now().toString(36);

/** Signal `i` of `tenantId`: distinct ids, a ts a minute ago, varied values. */
function signal(tenantId, i) {
  return {
    tenantId,
    signalId: `b-${i}`,
    type: "latency",
    source: `probe-${i % 8}`,
    value: (i % 100) / 100,
    ts: new Date(Date.now() - 60_000).toISOString(),
  };
}

/** Raw HTTP: SIGNALS signals in BATCH-signal requests, CONCURRENCY in flight; signals/s. */
async function rawBatches(baseUrl, tenantId, count = SIGNALS) {
  const token = await mintToken(tenantId, SCOPE);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const from = next;
      next += BATCH;
      const signals = [];
      for (let i = from; i < Math.min(from + BATCH, count); i++) signals.push(signal(tenantId, i));
      const res = await fetch(`${baseUrl}/v1/coherence/signals`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ signals }),
      });
      if (res.status !== 202) throw new Error(`raw ingest answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return count / ((performance.now() - started) / 1000);
}

/**
 * A producer of single signals as the client's README writes one: `await client.room()`, then publish() without
 * awaiting it. Resolves with the number published once `more()` says stop and everything published is settled.
 */
async function produce(client, tenantId, more) {
  let failed = null;
  let i = 0;
  for (; more(i); i++) {
    if (failed) throw failed;
    await client.room();
    client.publish(signal(tenantId, i)).catch((err) => {
      failed ??= err;
    });
  }
  await client.flush();
  if (failed) throw failed;
  return i;
}

/** The client: SIGNALS single publishes; signals/s. */
async function clientSingles(baseUrl, tenantId) {
  const client = createCoherenceClient({ url: baseUrl, token: await mintToken(tenantId, SCOPE) });
  const started = performance.now();
  await produce(client, tenantId, (i) => i < SIGNALS);
  const rate = SIGNALS / ((performance.now() - started) / 1000);
  const stats = client.stats();
  await client.close();
  return { rate, requests: stats.requests, retries: stats.retries };
}

/** A server that takes requests and never answers; the client publishing into it for STALL_S seconds. */
async function stalled() {
  const held = new Set();
  const server = createServer((_req, res) => held.add(res));
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  const client = createCoherenceClient({
    url,
    token: "x",
    timeoutMs: 60_000,
    batching: { maxQueued: MAX_QUEUED },
  });
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const samples = [];
  const end = performance.now() + STALL_S * 1000;
  const timer = setInterval(() => {
    samples.push({ unsettled: client.stats().unsettled, heap: process.memoryUsage().heapUsed });
  }, 100);
  // The producer keeps publishing until the time is up, held back only by room().
  let published = 0;
  const producing = produce(client, "stall", (i) => {
    published = i;
    return performance.now() < end && i < 5_000_000;
  }).catch(() => undefined);
  await new Promise((ok) => setTimeout(ok, STALL_S * 1000 + 200));
  clearInterval(timer);
  const maxUnsettled = Math.max(...samples.map((s) => s.unsettled));
  const maxHeap = Math.max(...samples.map((s) => s.heap));
  client.abort();
  await producing;
  for (const res of held) res.destroy();
  server.close();
  return { published, maxUnsettled, heapGrowthMiB: (maxHeap - heapBefore) / 2 ** 20 };
}

async function main() {
  const host = hostInfo();
  log(`starting npm start (LOG_LEVEL=warn, RPS_MAX=1000000)`);
  const svc = await startService({ defaults: { LOG_LEVEL: "warn" }, env: { RPS_MAX: "1000000" } });
  try {
    // The first requests of a fresh service pay for loading the Worker and creating objects: not measured.
    log("warm-up");
    await rawBatches(svc.baseUrl, `warm-${runId}`, Math.min(SIGNALS, 10_000));
    log(`baseline: ${SIGNALS} signals in ${BATCH}-signal requests`);
    const before = await rawBatches(svc.baseUrl, `raw-a-${runId}`);
    log(`client: ${SIGNALS} single publishes`);
    const client = await clientSingles(svc.baseUrl, `client-${runId}`);
    log(`baseline again`);
    const after = await rawBatches(svc.baseUrl, `raw-b-${runId}`);
    const baseline = (before + after) / 2;
    log(`stalled service: ${STALL_S} s`);
    const stall = await stalled();
    const ratio = client.rate / baseline;
    const report = `# @coherence/client benchmark

Generated by \`node bench/client.mjs\` (${new Date().toISOString()}); ${host.nproc} cores (${host.cpu}), ${host.memGiB} GiB,
Node ${host.node}, wrangler ${host.wrangler}; load ${loadText()} at the end. The load client and the service share the
machine. One run: read the numbers as rough.

## Throughput: single publishes against raw batches, same run

| producer | signals/s |
|---|---:|
| raw HTTP, ${BATCH}-signal requests, ${CONCURRENCY} in flight (before) | ${fmtInt(before)} |
| raw HTTP (after) | ${fmtInt(after)} |
| **@coherence/client, one publish() per signal** (${client.requests} requests, ${client.retries} retries) | **${fmtInt(client.rate)}** |

Ratio client ÷ mean baseline: **${ratio.toFixed(2)}×** (target ≥ 0.9×).

## Memory under a stalled service

A server that takes requests and never answers; a producer publishing as fast as the client lets it for ${STALL_S} s
(\`maxQueued\` ${fmtInt(MAX_QUEUED)}).

| published | most unsettled signals held by the client | heap growth (largest sample − before; GC may make it negative) |
|---:|---:|---:|
| ${fmtInt(stall.published)} | ${fmtInt(stall.maxUnsettled)} | ${stall.heapGrowthMiB.toFixed(1)} MiB |
`;
    writeFileSync(join(root, "bench", "RESULTS-client.md"), report);
    process.stdout.write(report);
    return 0;
  } finally {
    await svc.stop();
    dropScratch(svc.stateDir, log);
  }
}

process.exitCode = await main().catch((err) => runFailed(log, err));
