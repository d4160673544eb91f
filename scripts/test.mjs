// `npm test`: the whole suite on a fresh clone. Installs dependencies when needed, runs `npm run check` (bundle,
// format, lint, typecheck, actionlint), the OPA policy tests, the unit and workerd tests together
// with coverage (80 % of lines, 100 % on the score) and the Kafka bridge's unit tests, then the end-to-end tests
// against `npm start` (with real Postgres, Neo4j, Redis/Upstash, Kafka, Prometheus and an OpenTelemetry
// collector), the workbench in headless Chromium, and last the evidence bundle. Ends with one "N passed, N failed"
// line that counts every check, every OPA case and every test; a step that fails without a failed test (a coverage
// gate, a crash, a server that would not start) counts as one failure, so the line never says 0 failed then.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { root, toolEnv } from "./lib/env.mjs";
import { stepCounts } from "./lib/summary.mjs";

ensureDeps();
const node = join(root, "node_modules", ".bin", "node");
const env = toolEnv();

function step(name, args) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const r = spawnSync(node, args, { cwd: root, env, stdio: "inherit" });
  return r.status === 0;
}

const results = [];
function vitest(name, args) {
  const out = join(root, ".tmp", `vitest-${name}.json`);
  rmSync(out, { force: true });
  const ok = step(`vitest ${name}`, [
    join(root, "node_modules", "vitest", "vitest.mjs"),
    "run",
    ...args,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${out}`,
  ]);
  const { passed, failed } = stepCounts(existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : null, ok);
  results.push({ numPassedTests: passed, numFailedTests: failed });
  return ok;
}

/** Adds a step's own results file (one entry per check or test case) to the summary (scripts/lib/summary.mjs). */
function countFrom(file, stepOk) {
  const path = join(root, ".tmp", file);
  const { passed, failed } = stepCounts(existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : null, stepOk);
  results.push({ numPassedTests: passed, numFailedTests: failed });
}

let ok = true;
// `npm run check` (scripts/check.mjs): bundle, Biome, every tsc project, actionlint — each counted.
rmSync(join(root, ".tmp", "check-results.json"), { force: true });
process.stdout.write("\n=== npm run check ===\n");
const check = spawnSync("npm", ["run", "-s", "check"], { cwd: root, env, stdio: "inherit" });
countFrom("check-results.json", check.status === 0);
ok = check.status === 0 && ok;
// OPA: every `opa test` case, coverage >= 95 % and policy/authz.wasm up to date against the .rego, each counted
// (builds OPA from the Go module proxy into .cache/ on first use).
rmSync(join(root, ".tmp", "policy-results.json"), { force: true });
const policyOk = step("policy: opa test + wasm", [join(root, "scripts", "policy.mjs"), "test"]);
countFrom("policy-results.json", policyOk);
ok = policyOk && ok;
// The unit and workerd tiers in one run, so istanbul's coverage covers src/ and durable-objects/ from both
// (gates: 80 % of lines, 100 % of src/domain/score.ts; vitest.config.ts).
ok = vitest("unit-integration", ["--project", "unit", "--project", "integration", "--coverage"]) && ok;
ok = vitest("kafka-bridge-unit", ["--config", "bridges/kafka/vitest.config.ts"]) && ok;
// The test collector for the trace tests (tools/otelcol) is built once into .cache/ before the e2e run, so no
// test's setup pays the first build (minutes on two cores).
const collectorOk = step("build: OpenTelemetry test collector", [
  "--input-type=module",
  "-e",
  "await (await import('./scripts/lib/otelcol.mjs')).ensureOtelcol()",
]);
if (!collectorOk) results.push({ numPassedTests: 0, numFailedTests: 1 });
ok = collectorOk && ok;
ok = vitest("e2e", ["--project", "e2e"]) && ok;
// Installs Debian's chromium on first use (scripts/lib/chromium.mjs), then drives the workbench page.
ok = vitest("browser", ["--project", "browser"]) && ok;

// The evidence bundle (.evidence/): the SLO gate (short), junit + coverage of this run, SBOM, vulnerability and
// policy reports, dashboard and alert rules (promtool), provenance manifest. Last, so it sees this run's reports.
// Each of its gates (SBOM, vulnerabilities, dashboards and alert rules, deploy dry-run, SLO gate …) counts once.
rmSync(join(root, ".tmp", "evidence-results.json"), { force: true });
const evidenceOk = step("evidence bundle (npm run evidence)", [join(root, "scripts", "evidence.mjs")]);
countFrom("evidence-results.json", evidenceOk);
ok = evidenceOk && ok;

const passed = results.reduce((n, r) => n + (r.numPassedTests ?? 0), 0);
const failed = results.reduce((n, r) => n + (r.numFailedTests ?? 0), 0);
process.stdout.write(`\n${ok ? "OK" : "FAILED"}: ${passed} passed, ${failed} failed\n`);
process.exit(ok && failed === 0 && passed > 0 ? 0 : 1);
