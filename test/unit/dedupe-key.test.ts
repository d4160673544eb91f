import { describe, expect, it } from "vitest";
import { dedupeKey, deriveSignalId, sha256Hex } from "../../src/domain/dedupe-key";

const base = { type: "latency", value: 0.5, weight: 1, source: "probe-a", tsIso: "2026-11-27T10:00:00.000Z" };

describe("deriveSignalId", () => {
  it("is stable for the same fields", async () => {
    expect(await deriveSignalId(base)).toBe(await deriveSignalId({ ...base }));
  });

  it("changes when any derived field changes", async () => {
    const id = await deriveSignalId(base);
    const variants = [
      { ...base, type: "errors" },
      { ...base, value: 0.5001 },
      { ...base, weight: 2 },
      { ...base, source: "probe-b" },
      { ...base, tsIso: "2026-11-27T10:00:00.001Z" },
    ];
    for (const v of variants) expect(await deriveSignalId(v)).not.toBe(id);
  });

  it("is a prefixed sha256 hex", async () => {
    expect(await deriveSignalId(base)).toMatch(/^d-[0-9a-f]{64}$/);
  });
});

describe("dedupeKey", () => {
  it("cannot be forged by moving separators between fields", () => {
    expect(dedupeKey("a,b", "c", "t")).not.toBe(dedupeKey("a", "b,c", "t"));
    expect(dedupeKey("a\u0000b", "c", "t")).not.toBe(dedupeKey("a", "b\u0000c", "t"));
  });
});

describe("sha256Hex", () => {
  it("matches the known digest of 'abc'", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
