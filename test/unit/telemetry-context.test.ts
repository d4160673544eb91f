import { describe, expect, it } from "vitest";
import {
  INVALID_SPAN_ID,
  INVALID_TRACE_ID,
  isValidSpanId,
  isValidTraceId,
  randomSpanId,
  randomTraceId,
} from "../../src/telemetry/ids";
import {
  formatBaggage,
  formatTraceparent,
  MAX_BAGGAGE_BYTES,
  MAX_BAGGAGE_MEMBERS,
  parseBaggage,
  parseTraceContext,
  parseTraceparent,
  traceContextFromHeaders,
  traceContextSchema,
} from "../../src/telemetry/trace-context";

describe("trace and span ids", () => {
  it("are random lowercase hex of 16 and 8 bytes, never all zeros", () => {
    const traces = new Set(Array.from({ length: 1000 }, randomTraceId));
    const spans = new Set(Array.from({ length: 1000 }, randomSpanId));
    expect(traces.size).toBe(1000);
    expect(spans.size).toBe(1000);
    for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spans) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect([...traces].every(isValidTraceId)).toBe(true);
    expect([...spans].every(isValidSpanId)).toBe(true);
  });

  it("rejects all-zero, upper-case and wrong-length ids", () => {
    expect(isValidTraceId(INVALID_TRACE_ID)).toBe(false);
    expect(isValidSpanId(INVALID_SPAN_ID)).toBe(false);
    expect(isValidTraceId("4BF92F3577B34DA6A3CE929D0E0E4736")).toBe(false);
    expect(isValidTraceId("4bf92f3577b34da6a3ce929d0e0e473")).toBe(false);
    expect(isValidSpanId("00f067aa0ba902b7aa")).toBe(false);
  });
});

describe("traceparent (W3C Trace Context)", () => {
  const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  it("parses the specification's example and formats it back byte for byte", () => {
    const p = parseTraceparent(valid);
    expect(p).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 });
    expect(formatTraceparent(p?.traceId ?? "", p?.spanId ?? "", p?.traceFlags)).toBe(valid);
  });

  it("accepts a future version by its first four fields, but not version 00 with trailing data", () => {
    expect(parseTraceparent(`cc${valid.slice(2)}-what-the-future-holds`)?.spanId).toBe("00f067aa0ba902b7");
    expect(parseTraceparent(`${valid}-extra`)).toBeNull();
  });

  it.each([
    ["empty", ""],
    ["version ff", `ff${valid.slice(2)}`],
    ["all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["all-zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["upper case", valid.toUpperCase()],
    ["short trace id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"],
    ["bad separator", valid.replace(/-/g, "_")],
  ])("rejects %s", (_, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });

  it("formats the sampled flag as two hex digits", () => {
    expect(formatTraceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0)).toMatch(/-00$/);
  });
});

describe("baggage (W3C Baggage)", () => {
  it("round-trips values that need percent-encoding", () => {
    const baggage = { tenant_id: "acme corp/eu,1;x=y", other: "ünïcode" };
    const header = formatBaggage(baggage);
    expect(header).not.toMatch(/[ ;]/);
    expect(parseBaggage(header)).toEqual(baggage);
  });

  it("parses optional whitespace and drops member properties", () => {
    expect(parseBaggage(" tenant_id = acme ;prop=1 , k2=v2")).toEqual({ tenant_id: "acme", k2: "v2" });
  });

  it("skips malformed members instead of failing the header", () => {
    expect(parseBaggage("=novalue,bad key=x,ok=1,pct=%E0%A4%A,noeq")).toEqual({ ok: "1" });
  });

  it("ignores an oversized header and caps the number of members", () => {
    expect(parseBaggage(`k=${"x".repeat(MAX_BAGGAGE_BYTES)}`)).toEqual({});
    const many = Array.from({ length: MAX_BAGGAGE_MEMBERS + 10 }, (_, i) => `k${i}=v`).join(",");
    expect(Object.keys(parseBaggage(many))).toHaveLength(MAX_BAGGAGE_MEMBERS);
  });

  it("formats nothing for empty baggage", () => {
    expect(formatBaggage({})).toBeUndefined();
  });
});

describe("TraceContext across a boundary", () => {
  const ctx = {
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    baggage: "tenant_id=acme",
  };

  it("survives structured clone (RPC) and JSON (queue messages) and decodes to the remote parent", () => {
    for (const copy of [structuredClone(ctx), JSON.parse(JSON.stringify(ctx))]) {
      const parsed = traceContextSchema.parse(copy);
      expect(parseTraceContext(parsed)).toEqual({
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: "00f067aa0ba902b7",
        traceFlags: 1,
        baggage: { tenant_id: "acme" },
      });
    }
  });

  it("yields no parent for a missing or invalid traceparent", () => {
    expect(parseTraceContext(undefined)).toBeNull();
    expect(parseTraceContext({ traceparent: "garbage", baggage: "tenant_id=acme" })).toBeNull();
    expect(traceContextSchema.safeParse({ baggage: "x=1" }).success).toBe(false);
  });

  it("does not take baggage from public HTTP headers unless told to trust it", () => {
    const headers = new Headers({ traceparent: ctx.traceparent, baggage: "tenant_id=someone-else" });
    expect(traceContextFromHeaders(headers)?.baggage).toEqual({});
    expect(traceContextFromHeaders(headers, { trustBaggage: true })?.baggage).toEqual({ tenant_id: "someone-else" });
    expect(traceContextFromHeaders(new Headers())).toBeNull();
  });
});
