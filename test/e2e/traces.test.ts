// Traces end to end (issue: "one request → the expected spans with parent links arrive at the collector"):
// `npm start` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a REAL OpenTelemetry Collector (tools/otelcol),
// real Neo4j and Postgres behind the sink queue; one ingest request, then the collector is read back.
//
// Expected tree (one trace; ids from the request's own `traceparent`, so the test knows the trace id in advance):
//
//   POST /v1/coherence/signals            server    Worker          parent: the test's traceparent span id
//   └─ TenantObject/ingest                client    Worker          rpc.service=TenantObject rpc.method=ingest
//      └─ TenantObject/ingest             server    TenantObject
//         └─ send coherence-sink          producer  TenantObject    the outbox drain (≤ FANOUT_WINDOW_MS later)
//            └─ process coherence-sink    consumer  Worker queue()  one per tenant group and queue batch (1 or 2:
//               │                                                   the signals and score messages may arrive
//               │                                                   in one batch or two)
//               ├─ neo4j.query            client    db.system.name=neo4j db.operation.name=writeSignals
//               ├─ neo4j.query            client    db.system.name=neo4j db.operation.name=writeScore
//               └─ postgres.upsert        client    db.system.name=postgresql
//
// Every span carries tenant_id = the token's tenant (as baggage across RPC and the queue message, and as an
// attribute), never the `baggage: tenant_id=…` the client sent; the resource is service.name=coherence-service.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningNeo4j, startNeo4j } from "../../scripts/lib/neo4j.mjs";
import { type CollectedSpan, type RunningCollector, startCollector } from "../../scripts/lib/otelcol.mjs";
import { type RunningPostgres, type RunningWsproxy, startPostgres, startWsproxy } from "../../scripts/lib/postgres.mjs";
import { migrateNeo4j, migratePostgres } from "../../scripts/migrate.mjs";
import { freePort, mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { ingest } from "./helpers";

let collector: RunningCollector;
let pg: RunningPostgres;
let proxy: RunningWsproxy;
let neo4j: RunningNeo4j;
let svc: RunningService;
let pgDir: string;

describe("traces (Worker → tenant object → queue → Neo4j/Postgres)", () => {
  beforeAllOrFail(async () => {
    collector = await startCollector();
    pgDir = mkdtempSync(join(tmpdir(), "coherence-traces-pg-"));
    pg = await startPostgres({ dataDir: pgDir, port: await freePort() });
    proxy = await startWsproxy({ pgPort: pg.port, port: await freePort() });
    neo4j = await startNeo4j();
    migratePostgres(pg.url);
    await migrateNeo4j({ url: neo4j.httpUrl, user: neo4j.user, password: neo4j.password, database: neo4j.database });
    svc = await startService({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpHttpUrl,
        NEO4J_URL: neo4j.httpUrl,
        NEO4J_USER: neo4j.user,
        NEO4J_PASSWORD: neo4j.password,
        DATABASE_URL: pg.url,
        NEON_WSPROXY: proxy.url,
      },
    });
  }, 900_000);

  afterAll(async () => {
    await svc?.stop();
    await neo4j?.stop();
    await proxy?.stop();
    await pg?.stop();
    if (pgDir) rmSync(pgDir, { recursive: true, force: true });
    await collector?.stop();
  }, 120_000);

  it("one ingest request yields the expected span tree with parent links and tenant_id", async () => {
    const tenant = `traces-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const traceId = "5a1f0c2b9e8d4c7ab3f2e1d0c9b8a7f6";
    const callerSpanId = "1122334455667788";
    const res = await ingest(
      svc.baseUrl,
      { tenantId: tenant, type: "latency", source: "traces-e2e", value: 0.9 },
      token,
      { traceparent: `00-${traceId}-${callerSpanId}-01`, baggage: "tenant_id=forged" },
    );
    expect(res.status).toBe(202);

    const ofTrace = (all: CollectedSpan[]) => all.filter((s) => s.traceId === traceId);
    const spans = ofTrace(
      await collector.waitForSpans(
        (all) => {
          const t = ofTrace(all);
          return (
            t.some((s) => s.name === "postgres.upsert") &&
            t.filter((s) => s.name === "neo4j.query").length >= 2 &&
            t.some((s) => s.name === "POST /v1/coherence/signals")
          );
        },
        { timeoutMs: 60_000 },
      ),
    );
    const one = (name: string, kind: CollectedSpan["kind"]) => {
      const found = spans.filter((s) => s.name === name && s.kind === kind);
      expect(found, `${kind} span ${name}`).toHaveLength(1);
      return found[0] as CollectedSpan;
    };
    const http = one("POST /v1/coherence/signals", "server");
    const rpcClient = one("TenantObject/ingest", "client");
    const rpcServer = one("TenantObject/ingest", "server");
    const send = one("send coherence-sink", "producer");
    const processes = spans.filter((s) => s.name === "process coherence-sink" && s.kind === "consumer");
    const neo4jSpans = spans.filter((s) => s.name === "neo4j.query");
    const pgSpan = one("postgres.upsert", "client");

    expect(http.parentSpanId).toBe(callerSpanId);
    expect(http.attributes).toMatchObject({ "http.route": "/v1/coherence/signals", "http.response.status_code": 202 });
    expect(rpcClient.parentSpanId).toBe(http.spanId);
    expect(rpcServer.parentSpanId).toBe(rpcClient.spanId);
    expect(send.parentSpanId).toBe(rpcServer.spanId);
    expect(processes.length).toBeGreaterThanOrEqual(1);
    for (const p of processes) expect(p.parentSpanId).toBe(send.spanId);
    const processIds = new Set(processes.map((p) => p.spanId));
    expect(neo4jSpans.map((s) => s.attributes["db.operation.name"]).sort()).toEqual(["writeScore", "writeSignals"]);
    for (const s of [...neo4jSpans, pgSpan]) {
      expect(s.kind).toBe("client");
      expect(processIds.has(s.parentSpanId)).toBe(true);
    }
    expect(neo4jSpans[0]?.attributes["db.system.name"]).toBe("neo4j");
    expect(pgSpan.attributes["db.system.name"]).toBe("postgresql");
    for (const s of spans) {
      expect(s.attributes.tenant_id, s.name).toBe(tenant);
      expect(s.resource["service.name"]).toBe("coherence-service");
    }
  });
});
