import { describe, expect, it } from "vitest";
import { computeScore, scoreFromSums, statusFor } from "../../src/domain/score";

describe("computeScore", () => {
  it("is the weighted mean of values", () => {
    expect(
      computeScore([
        { v: 1, w: 3 },
        { v: 0, w: 1 },
      ]),
    ).toBe(0.75);
  });

  it("treats a missing weight as 1", () => {
    expect(computeScore([{ v: 0.2 }, { v: 0.6 }])).toBe(0.4);
  });

  it("is 0 for no values", () => {
    expect(computeScore([])).toBe(0);
  });

  it("is 0 when the total weight is 0", () => {
    expect(
      computeScore([
        { v: 0.9, w: 0 },
        { v: 0.1, w: 0 },
      ]),
    ).toBe(0);
  });

  it("rounds a mixed set to 4 decimals (seed case → 23.3333)", () => {
    // Plain arithmetic, so values outside 0..1 check it too: (10 + 40 + 0 + 30) / (1 + 2 + 0 + 1).
    expect(computeScore([{ v: 10 }, { v: 20, w: 2 }, { v: 40, w: 0 }, { v: 30 }])).toBe(20);
    expect(computeScore([{ v: 10 }, { v: 20 }, { v: 40 }])).toBe(23.3333);
  });

  it("rounds to 4 decimals", () => {
    expect(computeScore([{ v: 1 }, { v: 0 }, { v: 0 }])).toBe(0.3333);
    expect(computeScore([{ v: 2 / 3 }])).toBe(0.6667);
  });

  it("agrees with running sums in the same order", () => {
    const values = [{ v: 0.1, w: 2 }, { v: 0.7 }, { v: 0.33, w: 0.5 }];
    let num = 0;
    let den = 0;
    for (const { v, w = 1 } of values) {
      num += v * w;
      den += w;
    }
    expect(scoreFromSums(num, den)).toBe(computeScore(values));
    expect(scoreFromSums(0, 0)).toBe(0);
  });
});

describe("statusFor", () => {
  it("bands scores at 0.75 and 0.5", () => {
    expect(statusFor(0.75, 1, 1)).toBe("HEALTHY");
    expect(statusFor(0.7499, 1, 1)).toBe("WARN");
    expect(statusFor(0.5, 1, 1)).toBe("WARN");
    expect(statusFor(0.4999, 1, 1)).toBe("CRITICAL");
  });

  it("is UNKNOWN for an empty window or zero total weight", () => {
    expect(statusFor(0, 0, 0)).toBe("UNKNOWN");
    expect(statusFor(0, 3, 0)).toBe("UNKNOWN");
  });
});
