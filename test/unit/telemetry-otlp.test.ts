import { describe, expect, it } from "vitest";
import { OtlpHttpJsonExporter, tracesUrl } from "../../src/telemetry/exporter";
import { encodeTraceRequest, toAnyValue, toUnixNano } from "../../src/telemetry/otlp-json";
import { parseOtlpHeaders, parseTelemetrySettings } from "../../src/telemetry/settings";
import type { FinishedSpan } from "../../src/telemetry/span";
import { createTracer, Tracer } from "../../src/telemetry/tracer";

const span = (over: Partial<FinishedSpan> = {}): FinishedSpan => ({
  name: "TenantObject/ingest",
  kind: "server",
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  parentSpanId: "53995c3f42cd8ad8",
  startMs: 1_764_230_400_123.456,
  endMs: 1_764_230_400_130,
  attributes: { tenant_id: "acme", "rpc.method": "ingest", count: 3, ratio: 0.5, ok: true, tags: ["a", "b"] },
  events: [],
  links: [],
  status: { code: "unset" },
  ...over,
});

describe("OTLP/JSON encoding", () => {
  it("encodes an ExportTraceServiceRequest with hex ids, integer enums and string nanoseconds", () => {
    const body = encodeTraceRequest(
      [
        span(),
        span({
          spanId: "53995c3f42cd8ad8",
          parentSpanId: null,
          kind: "client",
          status: { code: "error", message: "down" },
        }),
      ],
      { "service.name": "coherence-service" },
    );
    expect(body.resourceSpans).toHaveLength(1);
    const rs = body.resourceSpans[0];
    expect(rs?.resource.attributes).toEqual([{ key: "service.name", value: { stringValue: "coherence-service" } }]);
    expect(rs?.scopeSpans[0]?.scope.name).toBe("coherence-service/telemetry");
    const [server, client] = rs?.scopeSpans[0]?.spans ?? [];
    expect(server).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      parentSpanId: "53995c3f42cd8ad8",
      kind: 2,
      startTimeUnixNano: "1764230400123456000",
      endTimeUnixNano: "1764230400130000000",
      status: { code: 0 },
    });
    expect(server?.attributes).toEqual([
      { key: "tenant_id", value: { stringValue: "acme" } },
      { key: "rpc.method", value: { stringValue: "ingest" } },
      { key: "count", value: { intValue: "3" } },
      { key: "ratio", value: { doubleValue: 0.5 } },
      { key: "ok", value: { boolValue: true } },
      { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { stringValue: "b" }] } } },
    ]);
    expect(client).toMatchObject({ kind: 3, status: { code: 2, message: "down" } });
    expect(client && "parentSpanId" in client).toBe(false); // a root span has no parent field
  });

  it("converts milliseconds to exact nanosecond strings beyond 2^53", () => {
    expect(toUnixNano(0)).toBe("0");
    expect(toUnixNano(1_764_230_400_000)).toBe("1764230400000000000");
    expect(toUnixNano(1_764_230_400_000.001)).toBe("1764230400000001000");
    expect(toAnyValue(2 ** 60)).toEqual({ doubleValue: 2 ** 60 }); // not a safe integer: no precision promised
  });

  it("maps every span kind and encodes events and links", () => {
    const kinds = (["internal", "server", "client", "producer", "consumer"] as const).map(
      (kind) => encodeTraceRequest([span({ kind })], {}).resourceSpans[0]?.scopeSpans[0]?.spans[0]?.kind,
    );
    expect(kinds).toEqual([1, 2, 3, 4, 5]);
    const [s] =
      encodeTraceRequest(
        [
          span({
            events: [{ name: "exception", timeMs: 1000, attributes: { "exception.message": "x" } }],
            links: [{ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" }],
          }),
        ],
        {},
      ).resourceSpans[0]?.scopeSpans[0]?.spans ?? [];
    expect(s?.events).toEqual([
      {
        timeUnixNano: "1000000000",
        name: "exception",
        attributes: [{ key: "exception.message", value: { stringValue: "x" } }],
      },
    ]);
    expect(s?.links).toEqual([{ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" }]);
  });
});

describe("OtlpHttpJsonExporter", () => {
  const settings = {
    endpoint: "http://127.0.0.1:4318/",
    serviceName: "coherence-service",
    headers: { "x-api-key": "k" },
  };

  it("POSTs one JSON batch to {endpoint}/v1/traces with the configured headers", async () => {
    const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
    const exporter = new OtlpHttpJsonExporter({
      settings,
      resource: { "deployment.environment.name": "test" },
      fetch: async (url, init) => {
        calls.push({ url: String(url), init });
        return new Response('{"partialSuccess":{}}', { status: 200 });
      },
    });
    await exporter.export([span(), span({ spanId: "1111111111111111" })]);
    await exporter.export([]); // nothing to send: no request
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("http://127.0.0.1:4318/v1/traces");
    expect(calls[0]?.init?.method).toBe("POST");
    expect(calls[0]?.init?.headers).toMatchObject({ "content-type": "application/json", "x-api-key": "k" });
    const body = JSON.parse(String(calls[0]?.init?.body));
    expect(body.resourceSpans[0].resource.attributes).toEqual([
      { key: "service.name", value: { stringValue: "coherence-service" } },
      { key: "deployment.environment.name", value: { stringValue: "test" } },
    ]);
    expect(body.resourceSpans[0].scopeSpans[0].spans).toHaveLength(2);
  });

  it("never rejects: HTTP errors, rejected spans and network failures go to onError", async () => {
    const errors: string[] = [];
    const answers = [
      () => new Response("unavailable", { status: 503 }),
      () => new Response('{"partialSuccess":{"rejectedSpans":"1","errorMessage":"bad"}}', { status: 200 }),
      () => {
        throw new TypeError("fetch failed");
      },
    ];
    for (const answer of answers) {
      const exporter = new OtlpHttpJsonExporter({
        settings,
        onError: (m) => errors.push(m),
        fetch: async () => answer(),
      });
      await expect(exporter.export([span()])).resolves.toBeUndefined();
    }
    expect(errors).toEqual([
      "OTLP export of 1 spans: HTTP 503 unavailable",
      "OTLP export: the receiver rejected 1 of 1 spans",
      "OTLP export of 1 spans failed: fetch failed",
    ]);
  });

  it("appends the signal path to the base endpoint once", () => {
    expect(tracesUrl("https://otlp.example/base//")).toBe("https://otlp.example/base/v1/traces");
  });
});

describe("settings", () => {
  it("are off without OTEL_EXPORTER_OTLP_ENDPOINT: createTracer gives the disabled tracer", () => {
    expect(parseTelemetrySettings({})).toBeNull();
    expect(parseTelemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toBeNull();
    expect(createTracer(null)).toBe(Tracer.disabled);
  });

  it("read the endpoint, the service name (default coherence-service) and percent-encoded headers", () => {
    expect(
      parseTelemetrySettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example",
        OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=abc%3D,Authorization=Basic%20eA==",
        TENANT: {},
      }),
    ).toEqual({
      endpoint: "https://otlp.example",
      serviceName: "coherence-service",
      headers: { "x-honeycomb-team": "abc=", authorization: "Basic eA==" },
    });
    expect(
      parseTelemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SERVICE_NAME: "edge" })
        ?.serviceName,
    ).toBe("edge");
  });

  it("refuse a non-http endpoint or malformed headers, naming the variable but not its value", () => {
    expect(() => parseTelemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "grpc://collector:4317" })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    expect(() =>
      parseTelemetrySettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c",
        OTEL_EXPORTER_OTLP_HEADERS: "secret-without-eq",
      }),
    ).toThrow(/^invalid tracing settings: OTEL_EXPORTER_OTLP_HEADERS$/);
    expect(parseOtlpHeaders("a=%ZZ")).toBeNull();
  });
});
