import { describe, expect, it } from "vitest";
import {
  expandSignals,
  MAX_MESSAGE_BYTES,
  packSignals,
  type SinkSignal,
  sinkMessageSchema,
} from "../../src/queues/messages";

const tags = { purpose: "benchmarking", retention: "standard-365d", license: "Restricted-TOS", residency: "US" };
const signals: SinkSignal[] = Array.from({ length: 1000 }, (_, i) => ({
  seq: i + 1,
  signalId: `signal-${i}-${"x".repeat(20)}`,
  type: "latency",
  source: "probe-eu-west-1",
  value: (i % 100) / 100,
  weight: 1 + (i % 3),
  tsMs: 1_795_000_000_000 + i,
  acceptedMs: 1_795_000_000_500,
  provenanceId: i < 500 ? "0b5091b0-71e3-44ec-b80a-f966e64d00d7" : "d144a0e9-b268-48fa-8fcc-3a88b550b988",
  tags,
}));

describe("packSignals", () => {
  it("packs a 1000-signal request into ≤ 2 one-chunk messages, rows in order, tags once per provenance", () => {
    const messages = packSignals("acme", signals);
    // ≈ 100 B a positional row: two messages of ≤ 60 KB, each one 64 KB billing chunk.
    expect(messages.length).toBeLessThanOrEqual(2);
    const rows: SinkSignal[] = [];
    for (const m of messages) {
      expect(new TextEncoder().encode(JSON.stringify(m)).length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      const parsed = sinkMessageSchema.parse(m);
      if (parsed.kind !== "signals") throw new Error("expected a signals message");
      expect(Object.keys(parsed.provenance).length).toBeLessThanOrEqual(2);
      rows.push(...expandSignals(parsed));
    }
    expect(rows).toEqual(signals);
  });

  it("starts a new message when the next row would pass the cap", () => {
    const messages = packSignals("acme", signals.slice(0, 10), 1200);
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.flatMap((m) => (m.kind === "signals" ? expandSignals(m).map((s) => s.seq) : []))).toEqual(
      signals.slice(0, 10).map((s) => s.seq),
    );
    for (const m of messages) expect(new TextEncoder().encode(JSON.stringify(m)).length).toBeLessThanOrEqual(1200);
  });

  it("still reads v2 messages (queued by an earlier deployment) into the same rows", () => {
    const rows = signals.slice(0, 3);
    const v2 = {
      v: 2,
      kind: "signals",
      tenantId: "acme",
      provenance: { [rows[0]?.provenanceId as string]: tags },
      signals: rows.map(({ tags: _tags, ...r }) => r),
    };
    const parsed = sinkMessageSchema.parse(v2);
    if (parsed.kind !== "signals") throw new Error("expected a signals message");
    expect(expandSignals(parsed)).toEqual(rows);
  });

  it("refuses a v3 row whose shape is wrong", () => {
    const [m] = packSignals("acme", signals.slice(0, 1));
    const broken = JSON.parse(JSON.stringify(m));
    broken.rows[0][4] = "0.5";
    expect(sinkMessageSchema.safeParse(broken).success).toBe(false);
  });
});
