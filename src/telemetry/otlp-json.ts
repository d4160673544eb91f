import type { AttributeValue, FinishedSpan, SpanKind, SpanStatusCode } from "./span";

// OTLP/JSON (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"): ids are lowercase hex, not
// base64; enums are integers; 64-bit integers are decimal strings; field names are lowerCamelCase.

/** An OTLP `AnyValue` in JSON form. */
export type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: OtlpAnyValue[] } };

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  events: Array<{ timeUnixNano: string; name: string; attributes: OtlpKeyValue[] }>;
  links: Array<{ traceId: string; spanId: string }>;
  status: { code: number; message?: string };
}

/** `ExportTraceServiceRequest`, the body of `POST /v1/traces`. */
export interface OtlpTraceRequest {
  resourceSpans: Array<{
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: Array<{ scope: { name: string; version: string }; spans: OtlpSpan[] }>;
  }>;
}

/** `Span.SpanKind` numbers. */
export const SPAN_KIND: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
/** `Status.StatusCode` numbers. */
export const STATUS_CODE: Record<SpanStatusCode, number> = { unset: 0, ok: 1, error: 2 };

/** The instrumentation scope of every span this service makes. */
export const SCOPE = { name: "coherence-service/telemetry", version: "1.0.0" } as const;

/** Epoch milliseconds (fractions allowed) → nanoseconds as a decimal string, exact to the microsecond. */
export function toUnixNano(ms: number): string {
  const micros = BigInt(Math.round(ms * 1000));
  return (micros * 1000n).toString();
}

/** One attribute value in OTLP form; integers become `intValue`, other numbers `doubleValue`. */
export function toAnyValue(value: AttributeValue): OtlpAnyValue {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  }
  return { arrayValue: { values: (value as readonly (string | number | boolean)[]).map((v) => toAnyValue(v)) } };
}

export function toKeyValues(attributes: Record<string, AttributeValue>): OtlpKeyValue[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: toAnyValue(value) }));
}

function toOtlpSpan(span: FinishedSpan): OtlpSpan {
  const out: OtlpSpan = {
    traceId: span.traceId,
    spanId: span.spanId,
    name: span.name,
    kind: SPAN_KIND[span.kind],
    startTimeUnixNano: toUnixNano(span.startMs),
    endTimeUnixNano: toUnixNano(span.endMs),
    attributes: toKeyValues(span.attributes),
    events: span.events.map((e) => ({
      timeUnixNano: toUnixNano(e.timeMs),
      name: e.name,
      attributes: toKeyValues(e.attributes),
    })),
    links: span.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
    status:
      span.status.message === undefined
        ? { code: STATUS_CODE[span.status.code] }
        : { code: STATUS_CODE[span.status.code], message: span.status.message },
  };
  if (span.parentSpanId) out.parentSpanId = span.parentSpanId;
  return out;
}

/** Encodes finished spans of one resource (this service) as one OTLP/JSON export request. */
export function encodeTraceRequest(
  spans: readonly FinishedSpan[],
  resource: Record<string, AttributeValue>,
): OtlpTraceRequest {
  return {
    resourceSpans: [
      {
        resource: { attributes: toKeyValues(resource) },
        scopeSpans: [{ scope: { ...SCOPE }, spans: spans.map(toOtlpSpan) }],
      },
    ],
  };
}
