import { describe, expect, it } from "vitest";
import { dbAttributes, postgresDatabase, withClientSpan } from "../../src/telemetry/db-client";
import type { SpanExporter } from "../../src/telemetry/exporter";
import { endHttpServerSpan, startHttpServerSpan } from "../../src/telemetry/http-server";
import { startQueueProcessSpan, startQueueSendSpan } from "../../src/telemetry/messaging";
import { tracedRpcCall, tracedRpcMethod } from "../../src/telemetry/rpc";
import { type FinishedSpan, NOOP_SPAN } from "../../src/telemetry/span";
import { type TraceContext, traceContextSchema } from "../../src/telemetry/trace-context";
import { Tracer, toTraceContext, traceHeaders } from "../../src/telemetry/tracer";

/** An exporter that keeps what it is given (a fake behind the SpanExporter port). */
class MemoryExporter implements SpanExporter {
  batches: FinishedSpan[][] = [];
  async export(spans: readonly FinishedSpan[]): Promise<void> {
    this.batches.push([...spans]);
  }
  get spans(): FinishedSpan[] {
    return this.batches.flat();
  }
}

function recording(clock?: () => number) {
  const exporter = new MemoryExporter();
  return { exporter, tracer: new Tracer({ exporter, clock }) };
}

describe("Tracer", () => {
  it("links children to their parent within one trace and starts a new trace without a parent", () => {
    const { tracer } = recording();
    const root = tracer.startSpan("root", { kind: "server" });
    const child = tracer.startSpan("child", { parent: root });
    const grandchild = tracer.startSpan("grandchild", { parent: child });
    grandchild.end();
    child.end();
    root.end();
    const other = tracer.startSpan("other");
    other.end();
    const [g, c, r, o] = tracer.takeFinished();
    expect(r?.parentSpanId).toBeNull();
    expect(c?.parentSpanId).toBe(r?.spanId);
    expect(g?.parentSpanId).toBe(c?.spanId);
    expect(new Set([r?.traceId, c?.traceId, g?.traceId]).size).toBe(1);
    expect(o?.traceId).not.toBe(r?.traceId);
    expect(new Set([r?.spanId, c?.spanId, g?.spanId, o?.spanId]).size).toBe(4);
  });

  it("carries tenant_id baggage to children set after they start, and as an attribute on each span", () => {
    const { tracer } = recording();
    const root = tracer.startSpan("root");
    const early = tracer.startSpan("early", { parent: root });
    root.setBaggage("tenant_id", "acme").setBaggage("not_promoted", "x");
    const late = tracer.startSpan("late", { parent: root });
    for (const s of [late, early, root]) s.end();
    const [l, e, r] = tracer.takeFinished();
    expect(r?.attributes.tenant_id).toBe("acme");
    expect(l?.attributes.tenant_id).toBe("acme");
    expect(e?.attributes.tenant_id).toBeUndefined();
    expect(r?.attributes.not_promoted).toBeUndefined();
    expect(late.baggage).toEqual({ tenant_id: "acme", not_promoted: "x" });
  });

  it("records start and end from its clock, and ends a span only once", () => {
    let now = 1_000;
    const { tracer } = recording(() => now);
    const span = tracer.startSpan("s");
    now = 1_250.5;
    span.end();
    now = 9_999;
    span.end();
    span.setAttribute("after", "end");
    const [s] = tracer.takeFinished();
    expect(s).toMatchObject({ startMs: 1_000, endMs: 1_250.5 });
    expect(s?.attributes.after).toBeUndefined();
  });

  it("withSpan records a thrown error (type, message, status) and rethrows it", async () => {
    const { tracer } = recording();
    await expect(
      tracer.withSpan("failing", {}, () => {
        throw new TypeError("boom");
      }),
    ).rejects.toThrow("boom");
    const [s] = tracer.takeFinished();
    expect(s?.status).toEqual({ code: "error", message: "boom" });
    expect(s?.attributes["error.type"]).toBe("TypeError");
    expect(s?.events).toEqual([
      expect.objectContaining({
        name: "exception",
        attributes: { "exception.type": "TypeError", "exception.message": "boom" },
      }),
    ]);
  });

  it("keeps Ok final and ignores Unset", () => {
    const { tracer } = recording();
    const span = tracer.startSpan("s").setStatus("ok").setStatus("error", "late").setStatus("unset");
    span.end();
    expect(tracer.takeFinished()[0]?.status).toEqual({ code: "ok" });
  });

  it("flushes all spans ended so far in one export, leaving open spans for the next flush", async () => {
    const { tracer, exporter } = recording();
    const open = tracer.startSpan("open");
    tracer.startSpan("a").end();
    tracer.startSpan("b").end();
    await tracer.flush();
    open.end();
    await tracer.flush();
    await tracer.flush(); // nothing left: no empty export
    expect(exporter.batches.map((b) => b.map((s) => s.name))).toEqual([["a", "b"], ["open"]]);
  });

  it("drops spans beyond its buffer and counts them", () => {
    const tracer = new Tracer({ exporter: new MemoryExporter(), maxSpans: 2 });
    for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
    expect(tracer.takeFinished()).toHaveLength(2);
    expect(tracer.dropped).toBe(3);
  });

  it("is a no-op when disabled: the shared no-op span, nothing to propagate, nothing exported", async () => {
    const tracer = Tracer.disabled;
    const span = tracer.startSpan("x", { kind: "server" });
    expect(span).toBe(NOOP_SPAN);
    span.setAttribute("a", 1).setBaggage("tenant_id", "acme").recordError(new Error("e")).end();
    expect(toTraceContext(span)).toBeUndefined();
    expect(traceHeaders(span)).toEqual({});
    expect(await tracer.withSpan("y", {}, () => 42)).toBe(42);
    expect(tracer.takeFinished()).toEqual([]);
    await expect(tracer.flush()).resolves.toBeUndefined();
  });
});

describe("propagation helpers", () => {
  it("Worker → Durable Object RPC: the server span in the object continues the client span with its baggage", async () => {
    const worker = recording();
    const object = recording(); // another isolate: its own tracer and buffer
    const root = worker.tracer.startSpan("POST /v1/coherence/signals", { kind: "server" });
    root.setBaggage("tenant_id", "acme");

    // The stub call: what crosses is a structured clone of the arguments.
    const answer = await tracedRpcCall({ tracer: worker.tracer, span: root }, "TenantObject", "ingest", (trace) => {
      const arrived = structuredClone({ tenantId: "acme", trace });
      return tracedRpcMethod(object.tracer, "TenantObject", "ingest", arrived.trace, async (scope) => {
        scope.tracer.startSpan("inner", { parent: scope.span }).end();
        return "applied";
      });
    });
    root.end();
    expect(answer).toBe("applied");

    const [client, rootSpan] = worker.tracer.takeFinished();
    const [inner, server] = object.tracer.takeFinished();
    expect(client).toMatchObject({ name: "TenantObject/ingest", kind: "client", parentSpanId: rootSpan?.spanId });
    expect(server).toMatchObject({ name: "TenantObject/ingest", kind: "server", parentSpanId: client?.spanId });
    expect(inner?.parentSpanId).toBe(server?.spanId);
    for (const s of [client, server, inner]) {
      expect(s?.traceId).toBe(rootSpan?.traceId);
      expect(s?.attributes.tenant_id).toBe("acme");
    }
    expect(server?.attributes).toMatchObject({ "rpc.service": "TenantObject", "rpc.method": "ingest" });
  });

  it("passes no trace argument when tracing is off", async () => {
    let seen: TraceContext | undefined | "unset" = "unset";
    await tracedRpcCall({ tracer: Tracer.disabled, span: NOOP_SPAN }, "TenantObject", "score", async (trace) => {
      seen = trace;
    });
    expect(seen).toBeUndefined();
  });

  it("queue: the consumer span's parent is the first message's producer span, the others are links", () => {
    const { tracer } = recording();
    const sends = [1, 2].map(() => startQueueSendSpan(tracer, "coherence-sink", tracer.startSpan("request")));
    const messages = [toTraceContext(sends[0]), toTraceContext(sends[1]), toTraceContext(sends[0]), undefined];
    // Messages are JSON on the queue; the consumer validates the field.
    const received = messages.map((m) => (m ? traceContextSchema.parse(JSON.parse(JSON.stringify(m))) : undefined));
    const process = startQueueProcessSpan(tracer, "coherence-sink", received);
    process.end();
    for (const s of sends) s.end();
    const [p, s0, s1] = tracer.takeFinished();
    expect(p).toMatchObject({ name: "process coherence-sink", kind: "consumer", parentSpanId: s0?.spanId });
    expect(p?.traceId).toBe(s0?.traceId);
    expect(p?.links).toEqual([{ traceId: s1?.traceId, spanId: s1?.spanId }]);
    expect(p?.attributes["messaging.batch.message_count"]).toBe(4);
    expect(s0).toMatchObject({ name: "send coherence-sink", kind: "producer" });
  });

  it("HTTP: the root span continues an incoming traceparent, is named after the route, and marks 5xx", () => {
    const { tracer } = recording();
    const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const req = new Request("https://coherence.example/v1/coherence/signals?x=1", {
      method: "POST",
      headers: { traceparent: incoming, baggage: "tenant_id=forged" },
    });
    const span = startHttpServerSpan(tracer, req);
    expect(span.baggage).toEqual({});
    endHttpServerSpan(span, 503, "/v1/coherence/signals");
    const notFound = startHttpServerSpan(tracer, new Request("https://coherence.example/nope"));
    endHttpServerSpan(notFound, 404, null);
    const [s, nf] = tracer.takeFinished();
    expect(s).toMatchObject({
      name: "POST /v1/coherence/signals",
      kind: "server",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentSpanId: "00f067aa0ba902b7",
      status: { code: "error" },
    });
    expect(s?.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/coherence/signals",
      "http.response.status_code": 503,
      "url.path": "/v1/coherence/signals",
    });
    expect(s?.attributes.tenant_id).toBeUndefined();
    expect(nf).toMatchObject({ name: "GET", parentSpanId: null, status: { code: "unset" } });
  });

  it("database client spans carry db.system attributes and never the connection string's credentials", async () => {
    const { tracer } = recording();
    const parent = tracer.startSpan("process coherence-sink");
    const scope = { tracer, span: parent };
    const pgUrl = "postgres://coherence_worker:s3cret@db.example:5433/coherence?sslmode=require";
    await withClientSpan(
      scope,
      "neo4j.query",
      dbAttributes("neo4j", "http://u:pw@127.0.0.1:7474", "neo4j", "writeSignals"),
      async () => {},
    );
    await expect(
      withClientSpan(
        scope,
        "postgres.upsert",
        dbAttributes("postgresql", pgUrl, postgresDatabase(pgUrl), "upsert"),
        async () => {
          throw new Error("connection refused");
        },
      ),
    ).rejects.toThrow();
    parent.end();
    const [neo, pg] = tracer.takeFinished();
    expect(neo).toMatchObject({ name: "neo4j.query", kind: "client", parentSpanId: parent.spanId });
    expect(neo?.attributes).toMatchObject({
      "db.system.name": "neo4j",
      "db.system": "neo4j",
      "db.namespace": "neo4j",
      "db.operation.name": "writeSignals",
      "server.address": "127.0.0.1",
      "server.port": 7474,
    });
    expect(pg?.attributes).toMatchObject({
      "db.system.name": "postgresql",
      "db.namespace": "coherence",
      "server.port": 5433,
    });
    expect(pg?.status.code).toBe("error");
    expect(JSON.stringify([neo, pg])).not.toMatch(/s3cret|pw@|coherence_worker/);
  });

  it("traceHeaders sends traceparent only, never the baggage", () => {
    const { tracer } = recording();
    const span = tracer.startSpan("s").setBaggage("tenant_id", "acme");
    expect(Object.keys(traceHeaders(span))).toEqual(["traceparent"]);
    expect(toTraceContext(span)?.baggage).toBe("tenant_id=acme");
  });
});
