/** A value with an optional weight, as the seed's `computeScore` takes it. */
export interface WeightedValue {
  v: number;
  w?: number;
}

/** Score bands of the seed: HEALTHY ≥ 0.75, WARN ≥ 0.5, else CRITICAL; UNKNOWN when nothing weighs in. */
export type ScoreStatus = "HEALTHY" | "WARN" | "CRITICAL" | "UNKNOWN";

/**
 * Weighted mean of `values` (missing weight = 1), rounded to 4 decimals.
 * Total weight 0 or no values → 0.
 */
export function computeScore(values: Array<{ v: number; w?: number }>): number {
  let num = 0;
  let den = 0;
  for (const item of values) {
    const w = item.w ?? 1;
    num += item.v * w;
    den += w;
  }
  return scoreFromSums(num, den);
}

/**
 * The score from running sums Σv·w and Σw, with exactly the arithmetic of {@link computeScore},
 * so an object that keeps sums gives the same figure as recomputing over its signals.
 */
export function scoreFromSums(sumVW: number, sumW: number): number {
  return sumW === 0 ? 0 : Number((sumVW / sumW).toFixed(4));
}

/** Status band for a score; UNKNOWN when the window holds no signal or its total weight is 0. */
export function statusFor(score: number, count: number, sumW: number): ScoreStatus {
  if (count === 0 || sumW === 0) return "UNKNOWN";
  if (score >= 0.75) return "HEALTHY";
  if (score >= 0.5) return "WARN";
  return "CRITICAL";
}
