// The canary verdict of `npm run canary:check` (docs/deploy.md, "Gradual deployment"): two scrapes of our own
// `/metrics` per version, the difference over the window, and the seed's SLO rules — read p95 <= 350 ms, write
// p95 <= 700 ms, error rate <= 0.1 % — applied to the canary. Pure: no I/O, so test/unit/canary.test.ts drives it.

/** The SLO rules a canary must keep (seed: "Canary 10% traffic, 30 min; auto-rollback on SLO breach"). */
export const SLO = { readP95Seconds: 0.35, writeP95Seconds: 0.7, maxErrorRate: 0.001 };

/**
 * @typedef {{ name: string; labels: Record<string, string>; value: number }} Sample
 * @typedef {{ requests: number; errors: number; errorRate: number;
 *   read: { count: number; p95: number | null; withinSlo: number | null };
 *   write: { count: number; p95: number | null; withinSlo: number | null } }} Figures
 * @typedef {{ verdict: "promote" | "rollback" | "inconclusive"; reasons: string[]; baseline: Figures; canary: Figures }} Verdict
 */

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Samples of a Prometheus text exposition (comments skipped).
 * @param {string} text
 * @returns {Sample[]}
 */
export function parseMetrics(text) {
  /** @type {Sample[]} */
  const out = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    /** @type {Record<string, string>} */
    const labels = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1] ?? ""] = (l[2] ?? "").replace(/\\(.)/g, "$1");
    const value = m[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1] ?? "", labels, value });
  }
  return out;
}

/** @param {Sample} s */
const keyOf = (s) =>
  `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${s.labels[k]}`)
    .join(",")}}`;

/**
 * What each series gained between two scrapes (a series that reset — a restarted aggregator — counts from zero).
 * @param {Sample[]} before
 * @param {Sample[]} after
 * @returns {Sample[]}
 */
export function delta(before, after) {
  const was = new Map(before.map((s) => [keyOf(s), s.value]));
  return after.map((s) => {
    const prior = was.get(keyOf(s)) ?? 0;
    return { ...s, value: s.value >= prior ? s.value - prior : s.value };
  });
}

/**
 * A histogram's figures from its cumulative buckets: count, the p95 (linear within its bucket, as Prometheus'
 * histogram_quantile) and the share of samples at or under `threshold` (exact when it is a bucket bound).
 * @param {Array<[number, number]>} buckets `[le, cumulative count]`, `+Inf` included
 * @param {number} threshold
 */
export function histogramFigures(buckets, threshold) {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const count = sorted.at(-1)?.[1] ?? 0;
  if (count === 0) return { count: 0, p95: null, withinSlo: null };
  const rank = 0.95 * count;
  let p95 = null;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of sorted) {
    if (c >= rank) {
      // Past the last finite bound Prometheus answers that bound; so do we.
      p95 = Number.isFinite(le) ? prevLe + (le - prevLe) * ((rank - prevCount) / Math.max(c - prevCount, 1)) : prevLe;
      break;
    }
    prevLe = le;
    prevCount = c;
  }
  const at = sorted.filter(([le]) => le <= threshold).at(-1)?.[1] ?? 0;
  return { count, p95, withinSlo: at / count };
}

/**
 * One version's figures over the window: requests and 5xx from `http_requests_total`, reads and writes from
 * `graphql_request_duration_seconds` (ops `graphql_query` and `graphql_mutation`). `version`: only series with
 * that `version` label (a gradual deployment's versions share one `/metrics`); `null`: every series.
 * @param {Sample[]} samples
 * @param {string | null} version
 * @returns {Figures}
 */
export function figures(samples, version) {
  const mine = samples.filter((s) => version === null || s.labels.version === version);
  let requests = 0;
  let errors = 0;
  for (const s of mine) {
    if (s.name !== "http_requests_total") continue;
    requests += s.value;
    if (Number(s.labels.status) >= 500) errors += s.value;
  }
  /** @param {string} op @param {number} threshold */
  const latency = (op, threshold) => {
    /** @type {Map<number, number>} */
    const byLe = new Map();
    for (const s of mine) {
      if (s.name !== "graphql_request_duration_seconds_bucket" || s.labels.op !== op) continue;
      const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    }
    return histogramFigures([...byLe], threshold);
  };
  return {
    requests,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    read: latency("graphql_query", SLO.readP95Seconds),
    write: latency("graphql_mutation", SLO.writeP95Seconds),
  };
}

/**
 * Promote or roll back: the canary must keep every SLO rule over the window; with fewer than `minRequests`
 * requests it is too early to say (inconclusive). The baseline is reported beside it, not judged.
 * @param {Figures} baseline
 * @param {Figures} canary
 * @param {{ minRequests: number }} opts
 * @returns {Verdict}
 */
export function decide(baseline, canary, { minRequests }) {
  /** @type {string[]} */
  const reasons = [];
  if (canary.requests < minRequests) {
    return {
      verdict: "inconclusive",
      reasons: [`the canary answered ${canary.requests} requests in the window, fewer than ${minRequests}`],
      baseline,
      canary,
    };
  }
  if (canary.errorRate > SLO.maxErrorRate) {
    reasons.push(
      `error rate ${pct(canary.errorRate)} > ${pct(SLO.maxErrorRate)} (${canary.errors} of ${canary.requests} answered 5xx)`,
    );
  }
  if (canary.read.withinSlo !== null && canary.read.withinSlo < 0.95) {
    reasons.push(`read p95 ${ms(canary.read.p95)} > ${ms(SLO.readP95Seconds)} (${pct(canary.read.withinSlo)} within)`);
  }
  if (canary.write.withinSlo !== null && canary.write.withinSlo < 0.95) {
    reasons.push(
      `write p95 ${ms(canary.write.p95)} > ${ms(SLO.writeP95Seconds)} (${pct(canary.write.withinSlo)} within)`,
    );
  }
  return { verdict: reasons.length > 0 ? "rollback" : "promote", reasons, baseline, canary };
}

/** @param {number} share */
export function pct(share) {
  return `${(share * 100).toFixed(share < 0.01 ? 3 : 1)} %`;
}

/** @param {number | null} seconds */
export function ms(seconds) {
  return seconds === null ? "–" : `${Math.round(seconds * 1000)} ms`;
}
