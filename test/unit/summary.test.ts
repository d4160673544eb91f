import { describe, expect, it } from "vitest";
// @ts-expect-error plain Node script without types (checked by its JSDoc at run time)
import { stepCounts } from "../../scripts/lib/summary.mjs";

// `npm test`'s last line counts every check, OPA case and test, and never says "0 failed" for a failed run.
describe("npm test's summary counts", () => {
  it("counts each check of a list and each test of a report", () => {
    expect(stepCounts([{ ok: true }, { ok: false }, { ok: true }], false)).toEqual({ passed: 2, failed: 1 });
    expect(stepCounts({ passed: 21, failed: 0 }, true)).toEqual({ passed: 21, failed: 0 });
    expect(stepCounts({ numPassedTests: 300, numFailedTests: 2 }, false)).toEqual({ passed: 300, failed: 2 });
  });

  it("counts a failed step with no failed entry as one failure (coverage gate, crash, server that would not start)", () => {
    expect(stepCounts({ numPassedTests: 309, numFailedTests: 0 }, false)).toEqual({ passed: 309, failed: 1 });
    expect(stepCounts(null, false)).toEqual({ passed: 0, failed: 1 });
    expect(stepCounts([{ ok: true }], false)).toEqual({ passed: 1, failed: 1 });
  });

  it("counts a passed step as it reported", () => {
    expect(stepCounts(null, true)).toEqual({ passed: 0, failed: 0 });
  });
});
