import { describe, expect, it } from "vitest";
import { byFolder, COVERAGE_THRESHOLDS, coverageMarkdown, thresholdChecks } from "../../scripts/lib/coverage.mjs";

const root = "/repo";
const fig = (covered: number, total: number) => ({ covered, total, pct: 0 });
const file = (lines: [number, number], rest: [number, number] = [1, 1]) => ({
  lines: fig(...lines),
  statements: fig(...rest),
  functions: fig(...rest),
  branches: fig(...rest),
});

// istanbul's json-summary: one entry per file by absolute path, plus its own `total`.
const summary = {
  total: {
    lines: { covered: 90, total: 110, pct: 81.81 },
    statements: fig(3, 3),
    functions: fig(3, 3),
    branches: fig(3, 3),
  },
  "/repo/src/domain/score.ts": { ...file([20, 20]), lines: { covered: 20, total: 20, pct: 100 } },
  "/repo/src/domain/window.ts": file([10, 30]),
  "/repo/durable-objects/tenant.ts": file([60, 60]),
};

describe("coverage report of the evidence bundle", () => {
  it("sums files per folder and over everything", () => {
    const { folders, total } = byFolder(summary, root);
    expect(folders.map((f) => [f.folder, f.files, f.lines.covered, f.lines.total, f.lines.pct])).toEqual([
      ["durable-objects", 1, 60, 60, 100],
      ["src/domain", 2, 30, 50, 60],
    ]);
    expect(total.lines).toEqual({ covered: 90, total: 110, pct: 81.81 });
  });

  it("judges each threshold, the global one on the reporter's own total", () => {
    const checks = thresholdChecks(summary, root);
    expect(checks[0]).toEqual({ target: "all files", metric: "lines", minimum: 80, pct: 81.81, ok: true });
    const score = checks.filter((c) => c.target === "src/domain/score.ts");
    expect(score.map((c) => c.metric).sort()).toEqual(["branches", "functions", "lines", "statements"]);
    // The fixture's score.ts has its statements, functions and branches at pct 0: those fail, lines pass.
    expect(score.find((c) => c.metric === "lines")?.ok).toBe(true);
    expect(score.find((c) => c.metric === "branches")?.ok).toBe(false);
  });

  it("fails a threshold whose file was not instrumented", () => {
    const { "/repo/src/domain/score.ts": _gone, ...rest } = summary;
    const checks = thresholdChecks(rest, root).filter((c) => c.target === "src/domain/score.ts");
    expect(checks.every((c) => c.pct === null && !c.ok)).toBe(true);
  });

  it("renders the table with one row per folder and the thresholds vitest gates on", () => {
    const md = coverageMarkdown(summary, root);
    expect(md).toContain("| src/domain/ | 2 | 60.00 % (30/50) |");
    expect(md).toContain("| **all** | 3 | 81.81 % (90/110) |");
    expect(md).toContain(`| all files: lines | ${COVERAGE_THRESHOLDS.lines} % | 81.81 % | ok |`);
  });
});
