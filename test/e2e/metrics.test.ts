// GET /metrics (docs/api.md §4.7) end to end: known traffic against a fresh `npm start` → exact counters and
// histogram buckets, merged across the aggregator shards; then a real Prometheus (Debian's) scrapes it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensurePrometheusInstalled } from "../../scripts/lib/prometheus.mjs";
import { freePort, mintToken } from "../support/harness";
import { beforeAllOrFail, serviceForFile } from "../support/vitest-hooks";
import { graphql, ingest, newTenant, send, signal } from "./helpers";
import { RawSocket, realtimeUrl } from "./ws-raw";

/** Every /graphql answer is delayed this long (DEBUG_DELAY_MS), so its duration bucket is known. */
const DELAY_MS = 400;
const svc = serviceForFile({ env: { DEBUG_DELAY_MS: String(DELAY_MS) } });
let ops: string;

beforeAllOrFail(async () => {
  ops = await mintToken("*", "metrics:read");
});

async function scrape(token = ops): Promise<Map<string, number>> {
  const res = await send(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const series = new Map<string, number>();
  for (const line of res.text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/** Scrapes until `check` holds (observations reach the aggregators in batches, within about a second). */
async function eventually(check: (s: Map<string, number>) => boolean): Promise<Map<string, number>> {
  let last = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    last = await scrape();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

describe("/metrics (§8)", () => {
  it("reports exact counters and histogram buckets for known traffic", async () => {
    const tenant = newTenant("metrics");
    const token = await mintToken(tenant, "coherence:read coherence:write");
    // A live subscriber first, so fan-out latency is observed for every signal accepted below.
    const wsToken = await mintToken(tenant, "coherence:read");
    const ws = await RawSocket.open(realtimeUrl(svc.baseUrl, tenant), wsToken);
    await ws.init(wsToken);
    ws.subscribe("ev", { query: "", id: "pq_coherence_events_v1", variables: { tenantId: tenant } });
    await new Promise((r) => setTimeout(r, 300));

    const batch = [signal(tenant), signal(tenant), signal(tenant)];
    expect((await ingest(svc.baseUrl, { signals: batch }, token)).status).toBe(202);
    expect((await ingest(svc.baseUrl, { signals: batch.slice(0, 2) }, token)).status).toBe(202); // 2 duplicates
    const reads = 4;
    for (let i = 0; i < reads; i++) {
      const res = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId: tenant } }, token);
      expect(res.status).toBe(200);
    }
    const foreign = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_coherence_v1", variables: { tenantId: newTenant("other") } },
      token,
    );
    expect(foreign.status).toBe(403);
    const { signalId: _id, ...input } = signal(tenant);
    expect((await graphql(svc.baseUrl, { id: "pq_publish_signal_v1", variables: { input } }, token)).status).toBe(200);
    const delivered = 4; // three from the batch, one from the mutation
    await ws.frames.until(
      (fs) => fs.filter((f) => f.id === "ev" && f.type === "next").length >= delivered,
      10_000,
      "the live events",
    );
    ws.close();

    const q = (s: Map<string, number>, k: string) => s.get(k) ?? 0;
    const dur = (op: string, le: string) => `graphql_request_duration_seconds_bucket{op="${op}",le="${le}"}`;
    const s = await eventually(
      (m) =>
        q(m, 'graphql_requests_total{status="200"}') === reads + 1 &&
        q(m, "subscription_fanout_latency_ms_count") === delivered &&
        q(m, "ingest_events_processed_total") === 6,
    );
    expect(q(s, 'graphql_requests_total{status="200"}')).toBe(reads + 1);
    expect(q(s, 'graphql_requests_total{status="403"}')).toBe(1);
    // Reads: 4 answered, 1 refused; all delayed by DELAY_MS, so none within 0.35 s and all within 1 s.
    expect(q(s, 'graphql_request_duration_seconds_count{op="graphql_query"}')).toBe(reads + 1);
    expect(q(s, dur("graphql_query", "0.35"))).toBe(0);
    expect(q(s, dur("graphql_query", "1"))).toBe(reads + 1);
    expect(q(s, dur("graphql_query", "+Inf"))).toBe(reads + 1);
    expect(q(s, 'graphql_request_duration_seconds_sum{op="graphql_query"}')).toBeGreaterThanOrEqual(
      ((reads + 1) * DELAY_MS) / 1000,
    );
    expect(q(s, 'graphql_request_duration_seconds_count{op="graphql_mutation"}')).toBe(1);
    // Ingest: 3 new + 2 duplicates over HTTP, 1 new by the mutation.
    expect(q(s, "ingest_events_processed_total")).toBe(6);
    expect(q(s, "ingest_events_duplicate_total")).toBe(2);
    expect(q(s, "ingest_dedupe_rate")).toBeCloseTo(2 / 6, 9);
    expect(q(s, 'http_requests_total{op="ingest",status="202"}')).toBe(2);
    expect(q(s, "subscription_fanout_latency_ms_count")).toBe(delivered);
    expect(q(s, 'subscription_fanout_latency_ms_bucket{le="+Inf"}')).toBe(delivered);
    // Coalesced in ≤ 100 ms windows: every frame left within 1 s of its acceptance on this machine.
    expect(q(s, 'subscription_fanout_latency_ms_bucket{le="1000"}')).toBe(delivered);
  }, 60_000);

  it("needs metrics:read (401 without a token, 403 without the scope)", async () => {
    expect((await send(`${svc.baseUrl}/metrics`)).status).toBe(401);
    const res = await send(`${svc.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${await mintToken("*", "finops:read")}` },
    });
    expect(res.status).toBe(403);
    expect(res.text).not.toContain("graphql_requests_total");
  });

  it("is scraped by a real Prometheus with a bearer token", async () => {
    const { prometheus } = await ensurePrometheusInstalled();
    const dir = mkdtempSync(join(tmpdir(), "coherence-prom-"));
    const port = await freePort();
    const target = new URL(svc.baseUrl).host;
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: coherence",
        "    metrics_path: /metrics",
        "    authorization:",
        "      type: Bearer",
        `      credentials: ${ops}`,
        "    static_configs:",
        `      - targets: ["${target}"]`,
        "",
      ].join("\n"),
    );
    const child: ChildProcess = spawn(
      prometheus,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: "ignore" },
    );
    try {
      const query = async (expr: string) => {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
        return body.data.result.map((r) => Number(r.value[1]));
      };
      let up: number[] = [];
      let processed: number[] = [];
      for (let i = 0; i < 60; i++) {
        await new Promise((r) => setTimeout(r, 500));
        up = await query('up{job="coherence"}').catch(() => []);
        processed = await query("ingest_events_processed_total").catch(() => []);
        if (up[0] === 1 && processed.length > 0) break;
      }
      expect(up).toEqual([1]);
      const direct = await scrape();
      expect(processed).toEqual([direct.get("ingest_events_processed_total")]);
    } finally {
      child.kill("SIGTERM");
    }
  }, 60_000);
});
