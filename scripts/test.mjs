// `npm test`: the whole suite on a fresh clone, each gate once. Installs dependencies when needed, runs
// `npm run check` (workbench bundle, format, lint, typecheck, actionlint), the OPA policy tests, the unit and
// workerd integration tests in one coverage run (≥ 80 % lines over src/ and durable-objects/, 100 % on the score)
// and the Kafka bridge's unit tests, then the end-to-end tests against `npm start` (with real Postgres, Neo4j,
// Redis/Upstash, Kafka, Prometheus and an OpenTelemetry collector), the workbench in headless Chromium, and last
// the evidence bundle (which also builds the Worker with `wrangler deploy --dry-run`). Ends with one
// "N passed, N failed" line that counts every check, test case and evidence gate (scripts/lib/summary.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { root, toolEnv } from "./lib/env.mjs";
import { checkCounts, evidenceCounts, opaCounts, summarize, vitestCounts } from "./lib/summary.mjs";

ensureDeps();
const node = join(root, "node_modules", ".bin", "node");
const env = toolEnv();

/** @type {import("./lib/summary.mjs").StepResult[]} */
const steps = [];

/**
 * Runs one step and counts it from the report it writes (removed first, so a stale one is never read).
 * @param {string} name
 * @param {string} cmd
 * @param {string[]} args
 * @template T the report's shape (parsed JSON)
 * @param {{ report?: string; count?: (report: T) => import("./lib/summary.mjs").Counts }} [opts]
 */
function step(name, cmd, args, { report, count } = {}) {
  process.stdout.write(`\n=== ${name} ===\n`);
  if (report) rmSync(report, { force: true });
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: "inherit" });
  let counts = null;
  if (report && count && existsSync(report)) {
    try {
      counts = count(JSON.parse(readFileSync(report, "utf8")));
    } catch (err) {
      process.stderr.write(`${name}: unreadable report ${report}: ${err instanceof Error ? err.message : err}\n`);
    }
  }
  steps.push({ name, ok: r.status === 0, counts });
}

/**
 * @param {string} name
 * @param {string[]} args
 */
function vitest(name, args) {
  const report = join(root, ".tmp", `vitest-${name}.json`);
  step(
    `vitest ${name}`,
    node,
    [
      join(root, "node_modules", "vitest", "vitest.mjs"),
      "run",
      ...args,
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${report}`,
    ],
    { report, count: vitestCounts },
  );
}

// Format, lint, typecheck (Worker, tests, scripts' JSDoc), actionlint: one test per check command.
step("npm run check", "npm", ["run", "check"], { report: join(root, ".tmp", "check.json"), count: checkCounts });
// OPA: each `opa test` case, coverage >= 95 % and the committed policy/authz.wasm checked against the .rego
// (builds OPA from the Go module proxy into .cache/ on first use).
step("policy: opa test + wasm", node, [join(root, "scripts", "policy.mjs"), "test"], {
  report: join(root, ".tmp", "opa-test.json"),
  count: opaCounts,
});
// One run of both tiers, so istanbul merges the Node and workerd coverage into one report and gates it
// (vitest.config.ts `coverage`); the same command as `npm run test:coverage`.
vitest("unit-integration", ["--project", "unit", "--project", "integration", "--coverage"]);
vitest("kafka-bridge-unit", ["--config", "bridges/kafka/vitest.config.ts"]);
// @coherence/client's unit tests (scripted servers, fake timers); its e2e tests run with the others below.
vitest("client-unit", ["--config", "packages/client/vitest.config.ts"]);
// The test collector for the trace tests (tools/otelcol) is built once into .cache/ before the e2e run, so no
// test's setup pays the first build (minutes on two cores).
step("build: OpenTelemetry test collector", node, [
  "--input-type=module",
  "-e",
  "await (await import('./scripts/lib/otelcol.mjs')).ensureOtelcol()",
]);
vitest("e2e", ["--project", "e2e"]);
// Installs Debian's chromium on first use (scripts/lib/chromium.mjs), then drives the workbench page.
vitest("browser", ["--project", "browser"]);
// The evidence bundle (.evidence/): the SLO gate (short), junit + coverage of this run, SBOM, vulnerability and
// policy reports, dashboard and alert rules (promtool), the Worker bundle (`wrangler deploy --dry-run`), provenance
// manifest. Last, so it sees this run's reports; one test per gate.
step("evidence bundle (npm run evidence)", node, [join(root, "scripts", "evidence.mjs")], {
  report: join(root, ".evidence", "provenance", "run_manifest.json"),
  count: evidenceCounts,
});

const summary = summarize(steps);
process.stdout.write(
  `\n${summary.perStep.map((s) => `${s.ok ? "ok  " : "FAIL"} ${s.name}: ${s.passed} passed, ${s.failed} failed`).join("\n")}\n`,
);
process.stdout.write(`\n${summary.line}\n`);
process.exit(summary.ok ? 0 : 1);
