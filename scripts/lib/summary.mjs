// How `npm test` counts a step in its final "N passed, N failed" line (scripts/test.mjs).

/**
 * Counts of a step from its own results: a list of `{ok}` entries (one per check), `{passed, failed}`, or a vitest
 * JSON report (`numPassedTests`, `numFailedTests`); `null` when it wrote none. A step that failed without a failed
 * entry (a coverage gate, a crash, a server that would not start, a missing results file) counts one failure, so the
 * line can never say "0 failed" for a failed run.
 * @param {unknown} data
 * @param {boolean} stepOk
 * @returns {{ passed: number, failed: number }}
 */
export function stepCounts(data, stepOk) {
  let passed = 0;
  let failed = 0;
  if (Array.isArray(data)) {
    passed = data.filter((c) => c?.ok === true).length;
    failed = data.length - passed;
  } else if (data && typeof data === "object") {
    const d = /** @type {Record<string, unknown>} */ (data);
    passed = Number(d.passed ?? d.numPassedTests ?? 0) || 0;
    failed = Number(d.failed ?? d.numFailedTests ?? 0) || 0;
  }
  if (!stepOk && failed === 0) failed = 1;
  return { passed, failed };
}
