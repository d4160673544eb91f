import { scoreFromSums } from "./score";

/** The window's running sums of one group of signals (one `source`, or one `type`). */
export interface GroupSums {
  key: string;
  sumVW: number;
  sumW: number;
  count: number;
}

/** How one group of signals weighs in the score (docs/api.md §5.2, "Why the score is what it is"). */
export interface Contribution {
  /** The group's `source` or `type`. */
  key: string;
  signalCount: number;
  /** Its share of the window's total weight, 0..1 (4 decimals). */
  weightShare: number;
  /** The weighted mean of its own signals (4 decimals). */
  weightedMean: number;
  /**
   * How far it moves the score from its own mean: `weightShare × (weightedMean − score)` (4 decimals). Negative
   * pulls the score down; the pulls of all groups of one kind add up to 0 (up to rounding).
   */
  pull: number;
}

const round4 = (x: number): number => Number(x.toFixed(4)) || 0;
const byKeyOrder = (a: Contribution, b: Contribution) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The groups' contributions to a score over a window of total weight `totalW`, the ones that pull it down most
 * first (ties: more weight first, then by key). O(number of groups): it reads running sums, never the signals.
 */
export function contributions(groups: readonly GroupSums[], totalVW: number, totalW: number): Contribution[] {
  if (!(totalW > 0)) {
    return groups
      .filter((g) => g.count > 0)
      .map((g) => ({ key: g.key, signalCount: g.count, weightShare: 0, weightedMean: 0, pull: 0 }))
      .sort(byKeyOrder);
  }
  const mean = totalVW / totalW;
  return groups
    .filter((g) => g.count > 0)
    .map((g) => {
      const share = g.sumW / totalW;
      const pull = g.sumW > 0 ? share * (g.sumVW / g.sumW - mean) : 0;
      return {
        pull,
        c: {
          key: g.key,
          signalCount: g.count,
          weightShare: round4(share),
          weightedMean: scoreFromSums(g.sumVW, g.sumW),
          pull: round4(pull),
        },
      };
    })
    .sort((a, b) => a.pull - b.pull || b.c.weightShare - a.c.weightShare || byKeyOrder(a.c, b.c))
    .map((x) => x.c);
}
