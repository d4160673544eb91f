import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRfc3339, toIso } from "../../src/domain/time";

describe("parseRfc3339", () => {
  it("parses UTC and offsets to the same instant", () => {
    expect(parseRfc3339("2026-11-27T10:00:00Z")).toBe(Date.parse("2026-11-27T10:00:00Z"));
    expect(parseRfc3339("2026-11-27T12:00:00+02:00")).toBe(Date.parse("2026-11-27T10:00:00Z"));
    expect(parseRfc3339("2026-11-27t10:00:00.123456z")).toBe(Date.parse("2026-11-27T10:00:00.123Z"));
  });

  it.each([
    "2026-11-27",
    "2026-11-27T10:00:00",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-27T24:00:00Z",
    "2026-11-27T10:00:00+25:00",
    "yesterday",
    "",
  ])("refuses %j", (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });

  it("accepts leap days that exist", () => {
    expect(parseRfc3339("2028-02-29T00:00:00Z")).not.toBeNull();
    expect(parseRfc3339("2027-02-29T00:00:00Z")).toBeNull();
  });

  it("writes canonical UTC with milliseconds", () => {
    expect(toIso(Date.parse("2026-11-27T10:00:00Z"))).toBe("2026-11-27T10:00:00.000Z");
  });
});

describe("parseRfc3339 against a regular-expression reading of RFC 3339", () => {
  // The plain reading the parser replaced (kept here as the oracle): same answers, any input.
  const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
  function oracle(text: string): number | null {
    const m = RFC3339.exec(text);
    if (!m) return null;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[] as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
    if (day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
    const fraction = m[7] ? m[7].slice(1, 4).padEnd(3, "0") : "000";
    let offset = 0;
    if (m[9]) {
      if (Number(m[10]) > 23 || Number(m[11]) > 59) return null;
      offset = (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
    }
    return Date.UTC(year, month - 1, day, hour, minute, second, Number(fraction)) - offset * 60_000;
  }

  const digits = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: n, maxLength: n });
  const piece = fc.oneof(
    digits(2),
    digits(4),
    fc.constantFrom("-", ":", "T", "t", " ", "Z", "z", "+", ".", "x", ""),
    digits(1),
    digits(7),
  );
  const nearValid = fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 24 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 60 }),
      fc.option(fc.integer({ min: 1, max: 9 }).chain(digits)),
      fc.constantFrom("Z", "z", "+00:00", "-05:30", "+14:00", "+24:00", "-00:60", "", "+0100"),
      fc.constantFrom("T", "t", " ", "_"),
    )
    .map(([y, mo, d, h, mi, s, frac, zone, sep]) => {
      const p2 = (n: number) => String(n).padStart(2, "0");
      return `${String(y).padStart(4, "0")}-${p2(mo)}-${p2(d)}${sep}${p2(h)}:${p2(mi)}:${p2(s)}${frac === null ? "" : `.${frac}`}${zone}`;
    });

  it("agrees on near-valid date-times", () => {
    fc.assert(
      fc.property(nearValid, (text) => {
        expect(parseRfc3339(text)).toBe(oracle(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees on arbitrary strings built from date-time pieces", () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.join("");
        expect(parseRfc3339(text)).toBe(oracle(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it("answers the same when asked twice, and for a different text after", () => {
    expect(parseRfc3339("2026-11-27T10:00:00Z")).toBe(parseRfc3339("2026-11-27T10:00:00Z"));
    expect(parseRfc3339("2026-11-27T10:00:01Z")).toBe(Date.parse("2026-11-27T10:00:01Z"));
    expect(parseRfc3339("nope")).toBeNull();
    expect(toIso(1)).toBe("1970-01-01T00:00:00.001Z");
    expect(toIso(2)).toBe("1970-01-01T00:00:00.002Z");
  });
});
