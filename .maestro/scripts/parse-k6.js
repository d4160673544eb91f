#!/usr/bin/env node
// The seed's k6 summary parser, made runnable:
//   node .maestro/scripts/parse-k6.js <summary.json> [--p95 MS] [--errorRate PERCENT]
// Exits 0 and prints "SLO OK" when every given budget holds; prints one "FAIL …" line per breach on stderr and
// exits 1 otherwise; exits 2 on bad usage or an unreadable summary. `npm run slo` (scripts/slo.mjs) imports
// `evaluateSummary` from this file, so the gate and this command decide with the same code.
//
// Semantics are the seed's: p95 is `http_req_duration`'s p(95) in ms, failing when it is *above* the budget;
// the error rate is failed requests / all requests × 100, in percent, failing when above the budget
// (`--errorRate 0.1` = 0.1 %). k6's `http_req_failed` is a Rate whose "passes" are the *failed* requests.
// Two deliberate differences: a summary without requests fails (the seed divided by `count || 1` and passed),
// and a missing metric fails rather than throwing.
//
// Accepted shapes: k6's handleSummary() data (`metrics.<name>.values["p(95)"]`, `values.rate/passes/fails`,
// `http_reqs.values.count`), the older `--summary-export` file (the same keys without `values`), and the seed's
// `percentiles["p(95)"]`.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A metric's statistics, whichever summary shape holds them. */
function stats(metric) {
  if (!metric || typeof metric !== "object") return null;
  if (metric.values && typeof metric.values === "object") return metric.values;
  if (metric.percentiles && typeof metric.percentiles === "object") return { ...metric, ...metric.percentiles };
  return metric;
}

const finite = (x) => typeof x === "number" && Number.isFinite(x);

/**
 * The p95 latency (ms), request count and error rate (percent) of a k6 summary; `null` for what it lacks.
 * @param {unknown} summary
 * @returns {{ p95: number | null; requests: number | null; failed: number | null; errorRatePct: number | null }}
 */
export function readSummary(summary) {
  const metrics = summary && typeof summary === "object" ? (summary.metrics ?? {}) : {};
  const duration = stats(metrics.http_req_duration);
  const reqs = stats(metrics.http_reqs);
  const failedRate = stats(metrics.http_req_failed);
  const p95 = duration && finite(duration["p(95)"]) ? duration["p(95)"] : null;
  const requests = reqs && finite(reqs.count) ? reqs.count : null;
  let failed = failedRate && finite(failedRate.passes) ? failedRate.passes : null;
  let errorRatePct = null;
  if (failed !== null && requests !== null && requests > 0) errorRatePct = (failed / requests) * 100;
  else if (failedRate && finite(failedRate.rate ?? failedRate.value)) {
    errorRatePct = (failedRate.rate ?? failedRate.value) * 100;
    if (failed === null && requests !== null) failed = Math.round((errorRatePct / 100) * requests);
  }
  return { p95, requests, failed, errorRatePct };
}

/**
 * Judges a k6 summary against budgets (each optional): `p95` in ms, `errorRate` in percent.
 * @param {unknown} summary
 * @param {{ p95?: number | null; errorRate?: number | null; label?: string }} budgets
 * @returns {{ ok: boolean; failures: string[]; figures: ReturnType<typeof readSummary> }}
 */
export function evaluateSummary(summary, budgets) {
  const figures = readSummary(summary);
  const label = budgets.label ? `${budgets.label} ` : "";
  const failures = [];
  if (figures.requests !== null && figures.requests === 0) failures.push(`FAIL ${label}no requests completed`);
  if (finite(budgets.p95)) {
    if (figures.p95 === null) failures.push(`FAIL ${label}p95: http_req_duration p(95) missing from the summary`);
    else if (figures.p95 > budgets.p95)
      failures.push(`FAIL ${label}p95 ${figures.p95.toFixed(1)}ms > ${budgets.p95}ms`);
  }
  if (finite(budgets.errorRate)) {
    if (figures.errorRatePct === null)
      failures.push(`FAIL ${label}error rate: http_req_failed/http_reqs missing from the summary`);
    else if (figures.errorRatePct > budgets.errorRate)
      failures.push(
        `FAIL ${label}error ${figures.errorRatePct.toFixed(3)}% > ${budgets.errorRate}% (${figures.failed} of ${figures.requests} requests)`,
      );
  }
  return { ok: failures.length === 0, failures, figures };
}

function flag(argv, name) {
  const i = argv.indexOf(name);
  if (i === -1) return null;
  const n = Number(argv[i + 1]);
  if (argv[i + 1] === undefined || !Number.isFinite(n)) throw new Error(`${name} needs a number`);
  return n;
}

function main(argv) {
  const usage = "usage: node .maestro/scripts/parse-k6.js <summary.json> [--p95 MS] [--errorRate PERCENT]";
  let p95;
  let errorRate;
  try {
    p95 = flag(argv, "--p95");
    errorRate = flag(argv, "--errorRate");
  } catch (err) {
    process.stderr.write(`${err.message}\n${usage}\n`);
    return 2;
  }
  const valueIndexes = new Set(
    ["--p95", "--errorRate"].map((f) => argv.indexOf(f)).flatMap((i) => (i === -1 ? [] : [i, i + 1])),
  );
  // The seed read `summary.json` from the working directory; a path argument overrides it.
  const file = argv.find((a, i) => !valueIndexes.has(i) && !a.startsWith("--")) ?? "summary.json";
  if (p95 === null && errorRate === null) {
    process.stderr.write(`give --p95 and/or --errorRate\n${usage}\n`);
    return 2;
  }
  let summary;
  try {
    summary = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${err.message}\n`);
    return 2;
  }
  const result = evaluateSummary(summary, { p95, errorRate });
  for (const f of result.failures) process.stderr.write(`${f}\n`);
  if (!result.ok) return 1;
  const { figures } = result;
  const parts = [];
  if (p95 !== null) parts.push(`p95 ${figures.p95?.toFixed(1)}ms ≤ ${p95}ms`);
  if (errorRate !== null) parts.push(`error ${figures.errorRatePct?.toFixed(3)}% ≤ ${errorRate}%`);
  process.stdout.write(`SLO OK (${parts.join(", ")})\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv.slice(2)));
}
