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
