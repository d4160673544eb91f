import { describe, expect, it } from "vitest";
import { earliest, leavesAt, phaseAt, WINDOW_MS } from "../../src/domain/window";

const NOW = Date.parse("2026-11-27T12:00:00.000Z");

describe("window phases", () => {
  it("counts a signal whose ts is now", () => {
    expect(phaseAt(NOW, NOW)).toBe("in");
  });

  it("keeps a signal at the open end just inside", () => {
    expect(phaseAt(NOW - WINDOW_MS + 1, NOW)).toBe("in");
  });

  it("drops a signal exactly 24 h old (window is (now − 24h, now])", () => {
    expect(phaseAt(NOW - WINDOW_MS, NOW)).toBe("expired");
  });

  it("holds a future signal as pending until its ts", () => {
    expect(phaseAt(NOW + 1, NOW)).toBe("pending");
    expect(phaseAt(NOW + 1, NOW + 1)).toBe("in");
  });

  it("schedules a signal's exit 24 h after its ts", () => {
    const ts = NOW - 1000;
    expect(phaseAt(ts, leavesAt(ts) - 1)).toBe("in");
    expect(phaseAt(ts, leavesAt(ts))).toBe("expired");
  });

  it("picks the earliest due time, ignoring absent ones", () => {
    expect(earliest(null, 5, undefined, 3)).toBe(3);
    expect(earliest(null, undefined)).toBeNull();
  });
});
