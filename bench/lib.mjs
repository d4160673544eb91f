// Helpers shared by the benchmarks: a sleep and percentiles. Services, Workers, tokens and logs come from the
// test harness (test/support/harness.ts), which the tests use too.

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** The p-th percentile (nearest rank) of an ascending array, or `null` when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
