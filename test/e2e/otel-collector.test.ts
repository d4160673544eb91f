// The tracer's pieces against a REAL OpenTelemetry Collector (tools/otelcol: the collector's own OTLP receiver,
// built from the Go module proxy by scripts/lib/otelcol.mjs): spans made by src/telemetry in this Node process,
// as the Worker, the tenant object and the queue consumer will make them, are exported over OTLP/HTTP JSON with
// a fake `waitUntil`, and read back from the collector. The Worker wiring is tested in traces.test.ts.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/net.mjs";
import { type CollectedSpan, type RunningCollector, startCollector } from "../../scripts/lib/otelcol.mjs";
import { dbAttributes, withClientSpan } from "../../src/telemetry/db-client";
import { endHttpServerSpan, startHttpServerSpan } from "../../src/telemetry/http-server";
import { startQueueProcessSpan, startQueueSendSpan } from "../../src/telemetry/messaging";
import { tracedRpcCall, tracedRpcMethod } from "../../src/telemetry/rpc";
import { parseTelemetrySettings, type TelemetrySettings } from "../../src/telemetry/settings";
import { type TraceContext, traceContextSchema } from "../../src/telemetry/trace-context";
import { createTracer, type Tracer, toTraceContext, traceHeaders } from "../../src/telemetry/tracer";
import { beforeAllOrFail } from "../support/vitest-hooks";

let collector: RunningCollector;
let db: Server;
let dbUrl: string;
// A password no generated id can contain by chance (tenant ids here are base36 timestamps).
const DB_PASSWORD = "Pg-Secret_9z!";
const dbRequests: IncomingHttpHeaders[] = [];
const exportErrors: string[] = [];

beforeAllOrFail(async () => {
  // The first run on a machine builds the collector (Go module proxy; ~4–7 min on 2 cores); later starts take
  // well under a second.
  collector = await startCollector();
  // Stands in for Neo4j's Query API: the client span wraps a real fetch, whose headers we inspect.
  db = createServer((req, res) => {
    dbRequests.push(req.headers);
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"data":{"values":[]}}'));
  });
  await new Promise<void>((ok) => db.listen(0, "127.0.0.1", ok));
  const addr = db.address();
  dbUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
}, 600_000);

afterAll(async () => {
  await new Promise((ok) => db?.close(ok));
  await collector?.stop();
});

/** A `waitUntil` like the Workers runtime's: keeps promises alive after the "response"; the test awaits them. */
function fakeExecutionContext() {
  const pending: Promise<unknown>[] = [];
  return { waitUntil: (p: Promise<unknown>) => void pending.push(p), settled: () => Promise.all(pending) };
}

function settings(): TelemetrySettings {
  const s = parseTelemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.otlpHttpUrl });
  if (!s) throw new Error("tracing should be on");
  return s;
}

/** One tracer per invocation, as each isolate/object/consumer batch will have. */
function tracer(): Tracer {
  return createTracer(settings(), { onError: (m) => exportErrors.push(m) });
}

function byName(spans: CollectedSpan[], name: string): CollectedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, `exactly one span named ${name}`).toHaveLength(1);
  return found[0] as CollectedSpan;
}

describe("spans from src/telemetry at a real OpenTelemetry Collector", () => {
  it("one ingest request: Worker → object → queue → Neo4j/Postgres spans arrive as one tree with tenant_id", async () => {
    const tenant = `otel-${Date.now().toString(36)}`;
    const ctx = fakeExecutionContext();

    // --- Worker: the request's root span; the tenant is known once the token is verified. ---
    const worker = tracer();
    const request = new Request("http://127.0.0.1:8787/v1/coherence/signals", { method: "POST" });
    const root = startHttpServerSpan(worker, request);
    root.setBaggage("tenant_id", tenant);

    // --- Worker → tenant object over RPC: the TraceContext travels as an argument (structured clone). ---
    let message: unknown;
    const object = tracer();
    await tracedRpcCall({ tracer: worker, span: root }, "TenantObject", "ingest", (trace) => {
      const args = structuredClone({ tenantId: tenant, trace });
      return tracedRpcMethod(object, "TenantObject", "ingest", args.trace, async (scope) => {
        // The outbox's hand-off to the sink queue, a child of the request's object span.
        const send = startQueueSendSpan(object, "coherence-sink", scope.span);
        message = JSON.parse(JSON.stringify({ v: 2, kind: "score", trace: toTraceContext(send) }));
        send.end();
      });
    });
    endHttpServerSpan(root, 202, "/v1/coherence/signals");
    ctx.waitUntil(worker.flush());
    ctx.waitUntil(object.flush());

    // --- Queue consumer (another invocation): continues from the message, then writes the sinks. ---
    const consumer = tracer();
    const trace: TraceContext = traceContextSchema.parse((message as { trace: unknown }).trace);
    expect(trace.baggage).toBe(`tenant_id=${tenant}`);
    const process = startQueueProcessSpan(consumer, "coherence-sink", [trace]);
    process.setBaggage("tenant_id", tenant);
    const scope = { tracer: consumer, span: process };
    await withClientSpan(scope, "neo4j.query", dbAttributes("neo4j", dbUrl, "neo4j", "writeScore"), async (span) => {
      const res = await fetch(`${dbUrl}/db/neo4j/query/v2`, {
        method: "POST",
        headers: traceHeaders(span),
        body: "{}",
      });
      await res.text();
    });
    await withClientSpan(
      scope,
      "postgres.upsert",
      dbAttributes("postgresql", `postgres://writer:${DB_PASSWORD}@127.0.0.1:5432/coherence`, "coherence", "upsert"),
      async () => {},
    );
    process.end();
    ctx.waitUntil(consumer.flush());
    await ctx.settled();
    expect(exportErrors).toEqual([]);

    const all = await collector.waitForSpans((s) => s.filter((x) => x.attributes.tenant_id === tenant).length >= 7);
    const spans = all.filter((s) => s.traceId === root.traceId);
    expect(spans).toHaveLength(7);

    const http = byName(spans, "POST /v1/coherence/signals");
    const rpc = spans.filter((s) => s.name === "TenantObject/ingest");
    const rpcClient = rpc.find((s) => s.kind === "client");
    const rpcServer = rpc.find((s) => s.kind === "server");
    const send = byName(spans, "send coherence-sink");
    const proc = byName(spans, "process coherence-sink");
    const neo4j = byName(spans, "neo4j.query");
    const pg = byName(spans, "postgres.upsert");

    // The tree, by parent links.
    expect(http).toMatchObject({ kind: "server", parentSpanId: "" });
    expect(rpcClient?.parentSpanId).toBe(http.spanId);
    expect(rpcServer?.parentSpanId).toBe(rpcClient?.spanId);
    expect(send).toMatchObject({ kind: "producer", parentSpanId: rpcServer?.spanId });
    expect(proc).toMatchObject({ kind: "consumer", parentSpanId: send.spanId });
    expect(neo4j).toMatchObject({ kind: "client", parentSpanId: proc.spanId });
    expect(pg).toMatchObject({ kind: "client", parentSpanId: proc.spanId });

    // tenant_id reached every span: set on the root, carried as baggage across RPC and the queue message.
    for (const s of spans) {
      expect(s.attributes.tenant_id, s.name).toBe(tenant);
      expect(s.resource["service.name"]).toBe("coherence-service");
      expect(s.scope.name).toBe("coherence-service/telemetry");
      expect(BigInt(s.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(s.startTimeUnixNano));
    }
    expect(http.attributes).toMatchObject({ "http.route": "/v1/coherence/signals", "http.response.status_code": 202 });
    expect(neo4j.attributes).toMatchObject({
      "db.system.name": "neo4j",
      "db.system": "neo4j",
      "db.operation.name": "writeScore",
    });
    expect(pg.attributes).toMatchObject({ "db.system.name": "postgresql", "db.namespace": "coherence" });
    expect(JSON.stringify(pg)).not.toContain(DB_PASSWORD);

    // The database saw the client span's traceparent, and no baggage.
    const seen = dbRequests.at(-1);
    expect(seen?.traceparent).toBe(`00-${neo4j.traceId}-${neo4j.spanId}-01`);
    expect(seen?.baggage).toBeUndefined();
  });

  it("a failed call arrives as an error span with an exception event", async () => {
    const t = tracer();
    const parent = t.startSpan("process coherence-sink", { kind: "consumer" });
    await expect(
      withClientSpan(
        { tracer: t, span: parent },
        "neo4j.query",
        dbAttributes("neo4j", dbUrl, "neo4j", "writeSignals"),
        async () => {
          throw new Error("Neo.TransientError.General.DatabaseUnavailable: down");
        },
      ),
    ).rejects.toThrow();
    parent.end();
    await t.flush();
    const spans = await collector.waitForSpans((s) =>
      s.some((x) => x.traceId === parent.traceId && x.name === "neo4j.query"),
    );
    const failed = spans.find((s) => s.traceId === parent.traceId && s.name === "neo4j.query");
    expect(failed?.status).toEqual({ code: 2, message: "Neo.TransientError.General.DatabaseUnavailable: down" });
    expect(failed?.events).toEqual([
      {
        name: "exception",
        attributes: {
          "exception.type": "Error",
          "exception.message": "Neo.TransientError.General.DatabaseUnavailable: down",
        },
      },
    ]);
  });

  it("sends nothing when OTEL_EXPORTER_OTLP_ENDPOINT is unset", async () => {
    const before = (await collector.spans()).length;
    const off = createTracer(parseTelemetrySettings({}));
    expect(off.enabled).toBe(false);
    const root = off.startSpan("GET /healthz", { kind: "server" });
    let passed: TraceContext | undefined | "unset" = "unset";
    await tracedRpcCall({ tracer: off, span: root }, "TenantObject", "score", async (trace) => {
      passed = trace;
    });
    root.end();
    await off.flush();
    expect(passed).toBeUndefined();
    // The pipeline is synchronous (no queue, no batching): anything sent would already be there.
    expect((await collector.spans()).length).toBe(before);
  });

  it("an unreachable collector costs the request nothing: flush resolves and the failure is reported", async () => {
    const errors: string[] = [];
    const down = createTracer(
      { endpoint: `http://127.0.0.1:${await freePort()}`, serviceName: "coherence-service", headers: {} },
      { onError: (m) => errors.push(m), timeoutMs: 2_000 },
    );
    down.startSpan("GET /readyz", { kind: "server" }).end();
    await expect(down.flush()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^OTLP export of 1 spans failed/);
  });
});
