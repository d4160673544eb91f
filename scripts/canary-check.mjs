// `npm run canary:check -- --baseline URL --canary URL [--baseline-version ID --canary-version ID]
//   [--window SECONDS] [--min-requests N] [--json]`
// Reads our own `/metrics` from the stable version and the canary at the start and the end of the window and says
// PROMOTE or ROLL BACK by the seed's SLO rules (scripts/lib/canary.mjs). In a gradual deployment both versions
// answer on one URL and share one `/metrics`: pass each version's id and the series are told apart by their
// `version` label (the Worker's version metadata; docs/deploy.md, "Gradual deployment"). Locally: two URLs.
// Token: METRICS_TOKEN if set, else a dev operator token with metrics:read as `npm run token` mints.
// Exit 0: promote; 1: roll back; 3: inconclusive (too few requests); 2: could not check.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { decide, delta, figures, ms, parseMetrics, pct } from "./lib/canary.mjs";
import { root } from "./lib/env.mjs";

const { values } = parseArgs({
  options: {
    baseline: { type: "string" },
    canary: { type: "string" },
    "baseline-version": { type: "string" },
    "canary-version": { type: "string" },
    window: { type: "string", default: "1800" },
    "min-requests": { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
});

/**
 * @param {string} message
 * @returns {never}
 */
function cannotCheck(message) {
  process.stderr.write(`[canary] cannot check: ${message}\n`);
  process.exit(2);
}

const baselineUrl = values.baseline ?? cannotCheck("--baseline URL is required");
const canaryUrl = values.canary ?? cannotCheck("--canary URL is required");
const windowSeconds = Number(values.window);
const minRequests = Number(values["min-requests"]);
if (!Number.isFinite(windowSeconds) || windowSeconds < 1) cannotCheck("--window must be a number of seconds >= 1");
if (!Number.isInteger(minRequests) || minRequests < 1) cannotCheck("--min-requests must be an integer >= 1");

const token =
  process.env.METRICS_TOKEN ??
  execFileSync(process.execPath, [join(root, "scripts", "token.mjs"), "--tenant", "*", "--scope", "metrics:read"], {
    encoding: "utf8",
  }).trim();

/** @param {string} base */
async function scrape(base) {
  const url = `${base.replace(/\/+$/, "")}/metrics`;
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) cannotCheck(`${url}: ${res.status} ${(await res.text()).slice(0, 200)}`);
    return parseMetrics(await res.text());
  } catch (err) {
    return cannotCheck(`${url}: ${err instanceof Error ? err.message : err}`);
  }
}

const [baseBefore, canaryBefore] = await Promise.all([scrape(baselineUrl), scrape(canaryUrl)]);
process.stderr.write(`[canary] watching for ${windowSeconds} s…\n`);
const started = Date.now();
const progress = setInterval(() => {
  process.stderr.write(`[canary] ${Math.round((Date.now() - started) / 1000)} of ${windowSeconds} s\n`);
}, 60_000);
await new Promise((r) => setTimeout(r, windowSeconds * 1000));
clearInterval(progress);
const [baseAfter, canaryAfter] = await Promise.all([scrape(baselineUrl), scrape(canaryUrl)]);

const verdict = decide(
  figures(delta(baseBefore, baseAfter), values["baseline-version"] ?? null),
  figures(delta(canaryBefore, canaryAfter), values["canary-version"] ?? null),
  { minRequests },
);
if (values.json) {
  process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
} else {
  /** @param {import("./lib/canary.mjs").Figures} f */
  const line = (f) =>
    `${f.requests} requests, errors ${pct(f.errorRate)}, read p95 ${ms(f.read.p95)} (${f.read.count}), write p95 ${ms(f.write.p95)} (${f.write.count})`;
  process.stdout.write(`[canary] baseline: ${line(verdict.baseline)}\n[canary] canary:   ${line(verdict.canary)}\n`);
  const word = { promote: "PROMOTE", rollback: "ROLL BACK", inconclusive: "INCONCLUSIVE" }[verdict.verdict];
  process.stdout.write(`[canary] ${word}${verdict.reasons.length ? `: ${verdict.reasons.join("; ")}` : ""}\n`);
}
process.exit({ promote: 0, rollback: 1, inconclusive: 3 }[verdict.verdict]);
