// "Why the score is what it is" (src/domain/breakdown.ts): contributions computed here from the signals
// themselves and compared with what the running sums give.
import { describe, expect, it } from "vitest";
import { contributions, type GroupSums } from "../../src/domain/breakdown";
import { computeScore } from "../../src/domain/score";

type S = { source: string; v: number; w: number };

function sumsBy(signals: S[]): { groups: GroupSums[]; vw: number; w: number } {
  const groups = new Map<string, GroupSums>();
  let vw = 0;
  let w = 0;
  for (const s of signals) {
    const g = groups.get(s.source) ?? { key: s.source, sumVW: 0, sumW: 0, count: 0 };
    g.sumVW += s.v * s.w;
    g.sumW += s.w;
    g.count++;
    groups.set(s.source, g);
    vw += s.v * s.w;
    w += s.w;
  }
  return { groups: [...groups.values()], vw, w };
}

describe("contributions", () => {
  const signals: S[] = [
    { source: "db", v: 0.2, w: 3 },
    { source: "db", v: 0.4, w: 1 },
    { source: "edge", v: 0.95, w: 2 },
    { source: "cache", v: 0.7, w: 1 },
    { source: "edge", v: 0.85, w: 1 },
  ];

  it("gives each group its weight share, own weighted mean and pull, worst first", () => {
    const { groups, vw, w } = sumsBy(signals);
    const result = contributions(groups, vw, w);
    const score = vw / w;
    expect(result.map((c) => c.key)).toEqual(["db", "cache", "edge"]);
    for (const c of result) {
      const own = signals.filter((s) => s.source === c.key);
      const ownW = own.reduce((a, s) => a + s.w, 0);
      const mean = computeScore(own.map((s) => ({ v: s.v, w: s.w })));
      expect(c).toEqual({
        key: c.key,
        signalCount: own.length,
        weightShare: Number((ownW / w).toFixed(4)),
        weightedMean: mean,
        pull: Number(((ownW / w) * (own.reduce((a, s) => a + s.v * s.w, 0) / ownW - score)).toFixed(4)),
      });
    }
    // The pulls explain the score: they add up to zero around it.
    expect(Math.abs(result.reduce((a, c) => a + c.pull, 0))).toBeLessThan(0.0005);
    expect(result[0]?.pull).toBeLessThan(0);
  });

  it("leaves out emptied groups and orders ties by weight, then key", () => {
    const result = contributions(
      [
        { key: "b", sumVW: 0.5, sumW: 1, count: 1 },
        { key: "a", sumVW: 0.5, sumW: 1, count: 1 },
        { key: "gone", sumVW: 0, sumW: 0, count: 0 },
        { key: "c", sumVW: 1, sumW: 2, count: 2 },
      ],
      2,
      4,
    );
    expect(result.map((c) => c.key)).toEqual(["c", "a", "b"]);
    expect(result.every((c) => c.pull === 0)).toBe(true);
  });

  it("reports zero shares when the window weighs nothing", () => {
    expect(contributions([{ key: "z", sumVW: 0, sumW: 0, count: 2 }], 0, 0)).toEqual([
      { key: "z", signalCount: 2, weightShare: 0, weightedMean: 0, pull: 0 },
    ]);
    expect(contributions([], 0, 0)).toEqual([]);
  });
});
