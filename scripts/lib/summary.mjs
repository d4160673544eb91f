// The counting behind `npm test`'s last line ("OK/FAILED: N passed, N failed"): each step's reports turned into
// passed and failed counts, and the rule that keeps the line honest — a step that failed counts at least one
// failure even when its report counted none (a coverage threshold, an import error, a crash before any report).
// Pure functions over parsed reports, so a unit test can feed them failing steps (test/unit/summary.test.ts).

/** @typedef {{ passed: number; failed: number }} Counts */

/**
 * One step of the run as the summary sees it.
 * @typedef {{ name: string; ok: boolean; counts: Counts | null }} StepResult
 */

/**
 * A vitest JSON report (jest-compatible shape): its tests, plus one failure per test file that failed without a
 * failed test in it (it did not load, or a hook threw).
 * @param {{ numPassedTests?: number; numFailedTests?: number;
 *   testResults?: Array<{ status?: string; assertionResults?: Array<{ status?: string }> }> }} report
 * @returns {Counts}
 */
export function vitestCounts(report) {
  const brokenFiles = (report.testResults ?? []).filter(
    (f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  return { passed: report.numPassedTests ?? 0, failed: (report.numFailedTests ?? 0) + brokenFiles };
}

/**
 * The record of `npm run policy:test` (scripts/policy.mjs): one test per `opa test` case (skipped `todo_` cases
 * count neither way), and one per check that ran after them (coverage minimum, authz.wasm up to date).
 * @param {{ results: Array<{ fail?: boolean; error?: unknown; skip?: boolean }>; checks?: Array<{ ok: boolean }> }} record
 * @returns {Counts}
 */
export function opaCounts({ results, checks = [] }) {
  const failed = results.filter((t) => t.fail || t.error).length + checks.filter((c) => !c.ok).length;
  const passed = results.filter((t) => !t.fail && !t.error && !t.skip).length + checks.filter((c) => c.ok).length;
  return { passed, failed };
}

/**
 * `npm run check`'s report (scripts/check.mjs): one test per check command.
 * @param {{ checks: Array<{ name: string; ok: boolean }> }} report
 * @returns {Counts}
 */
export function checkCounts(report) {
  const failed = report.checks.filter((c) => !c.ok).length;
  return { passed: report.checks.length - failed, failed };
}

/**
 * The evidence bundle's manifest (scripts/evidence.mjs): one test per gate. Steps that only report are not tests,
 * nor is a gate that reported a result of an earlier step of the same run (`reused`: counted there).
 * @param {{ steps: Array<{ gate: boolean; ok: boolean; reused?: boolean }> }} manifest
 * @returns {Counts}
 */
export function evidenceCounts(manifest) {
  const gates = manifest.steps.filter((s) => s.gate && !s.reused);
  const failed = gates.filter((s) => !s.ok).length;
  return { passed: gates.length - failed, failed };
}

/**
 * Totals over every step. A failed step adds one failure when its counts show none (or it has no counts), so the
 * line never reads "0 failed" after a failure; the run is OK only when every step passed, nothing failed and
 * something passed.
 * @param {StepResult[]} steps
 * @returns {{ ok: boolean; passed: number; failed: number; line: string;
 *   perStep: Array<{ name: string; ok: boolean; passed: number; failed: number }> }}
 */
export function summarize(steps) {
  const perStep = steps.map((s) => {
    const passed = s.counts?.passed ?? 0;
    const counted = s.counts?.failed ?? 0;
    return { name: s.name, ok: s.ok, passed, failed: !s.ok && counted === 0 ? 1 : counted };
  });
  const passed = perStep.reduce((n, s) => n + s.passed, 0);
  const failed = perStep.reduce((n, s) => n + s.failed, 0);
  const ok = perStep.every((s) => s.ok) && failed === 0 && passed > 0;
  return { ok, passed, failed, line: `${ok ? "OK" : "FAILED"}: ${passed} passed, ${failed} failed`, perStep };
}
