import { describe, expect, it } from "vitest";
import { checkCounts, evidenceCounts, opaCounts, summarize, vitestCounts } from "../../scripts/lib/summary.mjs";

describe("npm test's summary line", () => {
  it("adds every step's counts: checks, OPA cases, vitest tests and evidence gates", () => {
    const s = summarize([
      { name: "check", ok: true, counts: { passed: 9, failed: 0 } },
      { name: "policy", ok: true, counts: { passed: 19, failed: 0 } },
      { name: "vitest unit-integration", ok: true, counts: { passed: 282, failed: 0 } },
      { name: "evidence", ok: true, counts: { passed: 6, failed: 0 } },
    ]);
    expect(s).toMatchObject({ ok: true, passed: 316, failed: 0, line: "OK: 316 passed, 0 failed" });
  });

  it("never says 0 failed after a step failed without counting a failure (coverage gate, crash, no report)", () => {
    const s = summarize([
      { name: "check", ok: true, counts: { passed: 9, failed: 0 } },
      // vitest exits 1 when a coverage threshold is missed although every test passed
      { name: "vitest unit-integration", ok: false, counts: { passed: 282, failed: 0 } },
      // a step that crashed before writing its report
      { name: "evidence", ok: false, counts: null },
    ]);
    expect(s.ok).toBe(false);
    expect(s.failed).toBe(2);
    expect(s.line).toBe("FAILED: 291 passed, 2 failed");
    expect(s.perStep.map((p) => [p.name, p.failed])).toEqual([
      ["check", 0],
      ["vitest unit-integration", 1],
      ["evidence", 1],
    ]);
  });

  it("keeps a failed step's own failure count instead of adding one", () => {
    const s = summarize([{ name: "vitest e2e", ok: false, counts: { passed: 10, failed: 3 } }]);
    expect(s.line).toBe("FAILED: 10 passed, 3 failed");
  });

  it("is not OK when nothing ran, or when a report counted a failure its step did not exit on", () => {
    expect(summarize([]).line).toBe("FAILED: 0 passed, 0 failed");
    expect(summarize([{ name: "x", ok: true, counts: { passed: 1, failed: 1 } }]).ok).toBe(false);
  });
});

describe("counting each step's report", () => {
  it("counts one test per check command", () => {
    const report = {
      checks: [
        { name: "biome", ok: true },
        { name: "tsc", ok: false },
        { name: "actionlint", ok: true },
      ],
    };
    expect(checkCounts(report)).toEqual({ passed: 2, failed: 1 });
  });

  it("counts each opa test case and each policy check that ran; skipped cases count neither way", () => {
    const results = [
      { name: "a" },
      { name: "b", fail: true },
      { name: "c", error: { code: "x" } },
      { name: "d", skip: true },
    ];
    expect(opaCounts({ results })).toEqual({ passed: 1, failed: 2 });
    // The coverage minimum and the compiled module's freshness count once each when they ran.
    expect(opaCounts({ results, checks: [{ ok: true }, { ok: false }] })).toEqual({ passed: 2, failed: 3 });
  });

  it("counts a test file that failed without a failed test (import error) as one failure", () => {
    const report = {
      numPassedTests: 5,
      numFailedTests: 1,
      testResults: [
        { status: "passed", assertionResults: [{ status: "passed" }] },
        { status: "failed", assertionResults: [{ status: "failed" }] },
        { status: "failed", assertionResults: [] },
      ],
    };
    expect(vitestCounts(report)).toEqual({ passed: 5, failed: 2 });
  });

  it("counts the evidence bundle's gates, not its reports nor a gate that reused an earlier step's result", () => {
    const manifest = {
      steps: [
        { gate: true, ok: true, reused: true },
        { gate: false, ok: false },
        { gate: true, ok: true },
        { gate: true, ok: false },
      ],
    };
    expect(evidenceCounts(manifest)).toEqual({ passed: 1, failed: 1 });
  });
});
