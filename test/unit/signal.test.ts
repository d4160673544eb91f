import { describe, expect, it } from "vitest";
import { bodyKindOf, decodeIngestBody, MAX_BODY_BYTES } from "../../src/domain/ingest-body";
import { MAX_BATCH, MAX_FUTURE_MS, validateSignals } from "../../src/domain/signal";

const NOW = Date.parse("2026-11-27T12:00:00.000Z");
const good = { tenantId: "acme", type: "latency", source: "probe", value: 0.5 };

async function problems(item: unknown) {
  const r = await validateSignals([item], NOW);
  return r.ok ? [] : r.details;
}

describe("validateSignals", () => {
  it("accepts a minimal signal and applies defaults", async () => {
    const r = await validateSignals([good], NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [s] = r.signals;
    expect(s?.weight).toBe(1);
    expect(s?.tsMs).toBe(NOW);
    expect(s?.signalId).toMatch(/^d-/);
  });

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-0.0001", -0.0001],
    ["1.0001", 1.0001],
    ["a string", "0.5"],
  ])("refuses value %s", async (_, value) => {
    expect(await problems({ ...good, value })).toEqual([expect.objectContaining({ index: 0, path: "value" })]);
  });

  it("accepts the value bounds 0 and 1", async () => {
    expect(await problems({ ...good, value: 0 })).toEqual([]);
    expect(await problems({ ...good, value: 1 })).toEqual([]);
  });

  it.each([
    [-1, false],
    [0, true],
    [1e6, true],
    [1e6 + 1, false],
    [Number.NaN, false],
  ])("weight %s valid=%s", async (weight, valid) => {
    expect((await problems({ ...good, weight })).length === 0).toBe(valid);
  });

  it("allows ts up to exactly 5 minutes ahead, not one millisecond more", async () => {
    const at = (ms: number) => new Date(ms).toISOString();
    expect(await problems({ ...good, ts: at(NOW + MAX_FUTURE_MS) })).toEqual([]);
    expect(await problems({ ...good, ts: at(NOW + MAX_FUTURE_MS + 1) })).toEqual([
      expect.objectContaining({ index: 0, path: "ts" }),
    ]);
  });

  it("refuses unknown fields by name", async () => {
    expect(await problems({ ...good, colour: "red" })).toEqual([
      { index: 0, path: "colour", message: "unknown field" },
    ]);
  });

  it("checks tenant id characters and lengths", async () => {
    expect(await problems({ ...good, tenantId: "a b" })).toHaveLength(1);
    expect(await problems({ ...good, tenantId: "x".repeat(129) })).toHaveLength(1);
    expect(await problems({ ...good, tenantId: "A-z_0.9:x" })).toEqual([]);
    expect(await problems({ ...good, type: "" })).toHaveLength(1);
    expect(await problems({ ...good, source: "s".repeat(129) })).toHaveLength(1);
    expect(await problems({ ...good, signalId: "i".repeat(257) })).toHaveLength(1);
    expect(await problems({ ...good, signalId: "i".repeat(256) })).toEqual([]);
  });

  it("takes 1000 signals and refuses 1001", async () => {
    expect((await validateSignals(Array(MAX_BATCH).fill(good), NOW)).ok).toBe(true);
    const r = await validateSignals(Array(MAX_BATCH + 1).fill(good), NOW);
    expect(r.ok).toBe(false);
    expect(r.ok ? null : r.details[0]?.path).toBe("signals");
  });

  it("refuses an empty batch", async () => {
    expect((await validateSignals([], NOW)).ok).toBe(false);
  });

  it("reports every invalid item with its index, all-or-nothing", async () => {
    const r = await validateSignals([good, { ...good, value: 2 }, good, { ...good, type: 3 }], NOW);
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.details.map((d) => [d.index, d.path])).toEqual([
      [1, "value"],
      [3, "type"],
    ]);
  });

  it("keeps a given signalId and normalizes ts to UTC", async () => {
    const r = await validateSignals([{ ...good, signalId: "s-1", ts: "2026-11-27T13:00:00+02:00" }], NOW);
    expect(r.ok && r.signals[0]).toMatchObject({ signalId: "s-1", tsIso: "2026-11-27T11:00:00.000Z" });
  });
});

describe("decodeIngestBody", () => {
  it("reads a single signal, a batch and NDJSON", () => {
    expect(decodeIngestBody(JSON.stringify(good), "json")).toEqual({ ok: true, items: [good] });
    expect(decodeIngestBody(JSON.stringify({ signals: [good, good] }), "json")).toEqual({
      ok: true,
      items: [good, good],
    });
    const nd = `${JSON.stringify(good)}\n\n${JSON.stringify(good)}\n`;
    expect(decodeIngestBody(nd, "ndjson")).toEqual({ ok: true, items: [good, good] });
  });

  it("calls broken JSON malformed", () => {
    expect(decodeIngestBody("{", "json")).toMatchObject({ ok: false, code: "MALFORMED_JSON" });
    expect(decodeIngestBody(`${JSON.stringify(good)}\n{nope`, "ndjson")).toMatchObject({
      ok: false,
      code: "MALFORMED_JSON",
    });
  });

  it("refuses envelopes that are not a signal or a batch", () => {
    expect(decodeIngestBody("[1]", "json")).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(decodeIngestBody('{"signals":{}}', "json")).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
    expect(decodeIngestBody('{"signals":[],"x":1}', "json")).toMatchObject({ ok: false, code: "VALIDATION_FAILED" });
  });

  it("knows JSON media types", () => {
    expect(bodyKindOf("application/json; charset=utf-8")).toBe("json");
    expect(bodyKindOf("application/x-ndjson")).toBe("ndjson");
    expect(bodyKindOf("text/plain")).toBeNull();
    expect(bodyKindOf(null)).toBeNull();
  });

  it("sets the body limit at 1 MiB", () => {
    expect(MAX_BODY_BYTES).toBe(1048576);
  });
});
