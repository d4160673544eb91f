// `npm test`: the whole suite on a fresh clone. Installs dependencies when needed, runs `check` (format, lint,
// typecheck, actionlint), the OPA policy tests, the unit tests with coverage (100 % on the score) and the Kafka
// bridge's, then the workerd integration tests, the end-to-end tests against `npm start` (with real Postgres, Neo4j,
// Redis/Upstash, Kafka, Prometheus and an OpenTelemetry collector), the workbench in headless Chromium, and last the
// evidence bundle. Ends with one "N passed, N failed" line.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { root, toolEnv } from "./lib/env.mjs";

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
  if (existsSync(out)) results.push(JSON.parse(readFileSync(out, "utf8")));
  return ok;
}

let ok = true;
ok = step("check: biome", [join(root, "node_modules", "@biomejs", "biome", "bin", "biome"), "check", "."]) && ok;
ok = step("check: tsc (worker)", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."]) && ok;
ok = step("check: tsc (tests)", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "test"]) && ok;
ok = step("check: tsc (e2e)", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "test/e2e"]) && ok;
ok = step("check: tsc (browser)", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "test/browser"]) && ok;
ok =
  step("check: tsc (kafka bridge)", [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "bridges/kafka"]) &&
  ok;
// .github/workflows/ci.yml checked with actionlint (built from the Go module proxy into .cache/ on first use).
ok = step("check: actionlint", [join(root, "scripts", "lint-ci.mjs")]) && ok;
// OPA: `opa test` with coverage >= 95 % and the committed policy/authz.wasm checked against the .rego
// (builds OPA from the Go module proxy into .cache/ on first use).
const policyOk = step("policy: opa test + wasm", [join(root, "scripts", "policy.mjs"), "test"]);
results.push({ numPassedTests: policyOk ? 1 : 0, numFailedTests: policyOk ? 0 : 1 });
ok = policyOk && ok;
ok = vitest("unit", ["--project", "unit", "--coverage"]) && ok;
ok = vitest("kafka-bridge-unit", ["--config", "bridges/kafka/vitest.config.ts"]) && ok;
ok = vitest("integration", ["--project", "integration"]) && ok;
// The test collector for the trace tests (tools/otelcol) is built once into .cache/ before the e2e run, so no
// test's setup pays the first build (minutes on two cores).
ok =
  step("build: OpenTelemetry test collector", [
    "--input-type=module",
    "-e",
    "await (await import('./scripts/lib/otelcol.mjs')).ensureOtelcol()",
  ]) && ok;
ok = vitest("e2e", ["--project", "e2e"]) && ok;
// Installs Debian's chromium on first use (scripts/lib/chromium.mjs), then drives the workbench page.
ok = vitest("browser", ["--project", "browser"]) && ok;

// The evidence bundle (.evidence/): the SLO gate (short), junit + coverage of this run, SBOM, vulnerability and
// policy reports, dashboard and alert rules (promtool), provenance manifest. Last, so it sees this run's reports.
const evidenceOk = step("evidence bundle (npm run evidence)", [join(root, "scripts", "evidence.mjs")]);
results.push({ numPassedTests: evidenceOk ? 1 : 0, numFailedTests: evidenceOk ? 0 : 1 });
ok = evidenceOk && ok;

const passed = results.reduce((n, r) => n + (r.numPassedTests ?? 0), 0);
const failed = results.reduce((n, r) => n + (r.numFailedTests ?? 0), 0);
process.stdout.write(`\n${ok ? "OK" : "FAILED"}: ${passed} passed, ${failed} failed\n`);
process.exit(ok && failed === 0 && passed > 0 ? 0 : 1);
