import { describe, expect, it } from "vitest";
import { decodeRecord, derivedSignalId, MAX_SIGNAL_BYTES } from "../src/message.ts";

const at = {
  topic: "coherence.signals.v1",
  partition: 2,
  offset: 41n,
  timestampMs: Date.parse("2026-11-27T10:00:00Z"),
};
const buf = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));

describe("decodeRecord", () => {
  it("keeps a complete signal as it is", () => {
    const signal = { tenantId: "acme", signalId: "s1", type: "t", source: "p", value: 0.5, ts: "2026-11-27T09:00:00Z" };
    const d = decodeRecord(buf(signal), at);
    expect(d).toMatchObject({ ok: true, tenantId: "acme" });
    if (d.ok) expect(JSON.parse(d.json)).toEqual(signal);
  });

  it("derives the signalId from topic, partition and offset, and ts from the record timestamp, when absent", () => {
    const d = decodeRecord(buf({ tenantId: "acme", type: "t", source: "p", value: 0.5 }), at);
    if (!d.ok) throw new Error("expected ok");
    expect(JSON.parse(d.json)).toMatchObject({
      signalId: "kafka:coherence.signals.v1:2:41",
      ts: "2026-11-27T10:00:00.000Z",
    });
    expect(d.bytes).toBe(Buffer.byteLength(d.json));
  });

  it("gives a redelivered record the same id and ts", () => {
    const value = buf({ tenantId: "acme", type: "t", source: "p", value: 0.5 });
    expect(decodeRecord(value, at)).toEqual(decodeRecord(value, at));
  });

  it("leaves ts to the service when the record has no timestamp", () => {
    const d = decodeRecord(buf({ tenantId: "acme", type: "t", source: "p", value: 0.5 }), { ...at, timestampMs: -1 });
    if (!d.ok) throw new Error("expected ok");
    expect(JSON.parse(d.json)).not.toHaveProperty("ts");
  });

  it("does not fill in a signalId that is present but invalid (the service judges it)", () => {
    const d = decodeRecord(buf({ tenantId: "acme", signalId: "", type: "t", source: "p", value: 0.5 }), at);
    if (!d.ok) throw new Error("expected ok");
    expect(JSON.parse(d.json).signalId).toBe("");
  });

  it.each([
    ["an empty value", Buffer.alloc(0), "MALFORMED_JSON"],
    ["text that is not JSON", buf("not json {"), "MALFORMED_JSON"],
    ["a JSON array", buf([{ tenantId: "acme" }]), "VALIDATION_FAILED"],
    ["a JSON number", buf("42"), "VALIDATION_FAILED"],
    ["no tenantId", buf({ type: "t", source: "p", value: 0.5 }), "VALIDATION_FAILED"],
    ["a malformed tenantId", buf({ tenantId: "a b", type: "t", source: "p", value: 0.5 }), "VALIDATION_FAILED"],
  ])("rejects %s", (_name, value, code) => {
    expect(decodeRecord(value, at)).toMatchObject({ ok: false, code });
  });

  it("never quotes the value in its reason", () => {
    const d = decodeRecord(buf("secret-looking text"), at);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).not.toContain("secret");
  });

  it("rejects a value the service could never take in one request", () => {
    const big = buf({ tenantId: "acme", type: "t", source: "p", value: 0.5, pad: "x".repeat(MAX_SIGNAL_BYTES) });
    expect(decodeRecord(big, at)).toMatchObject({ ok: false, code: "PAYLOAD_TOO_LARGE" });
  });
});

describe("derivedSignalId", () => {
  it("fits in 256 characters however long the topic", () => {
    const id = derivedSignalId("t".repeat(249), 9, 123456789n);
    expect(id.length).toBeLessThanOrEqual(256);
    expect(id).toBe(derivedSignalId("t".repeat(249), 9, 123456789n));
    expect(id).not.toBe(derivedSignalId("t".repeat(249), 9, 123456790n));
  });
});
