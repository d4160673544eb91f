// `npm run policy:build`: compiles policy/authz.rego to Wasm (policy/authz.wasm, committed, imported by the Worker).
// `npm run policy:test`: `opa test` with coverage (fails below 95 %), writes the report to .evidence/security/,
// and fails when policy/authz.wasm is not what the .rego compiles to (so the Worker never runs a stale policy).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./lib/env.mjs";
import { ensureOpa } from "./lib/opa.mjs";

const ENTRYPOINT = "coherence/authz/decision";
const MIN_COVERAGE = 95;
const policyDir = join(root, "policy");
const wasmPath = join(policyDir, "authz.wasm");

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw r.error;
  return r;
}

/** The Wasm module `opa build -t wasm` makes from the policy (tests excluded). */
function compile(opa) {
  const dir = mkdtempSync(join(root, ".tmp", "opa-build-"));
  try {
    const bundle = join(dir, "bundle.tar.gz");
    const b = run(opa, ["build", "-t", "wasm", "-e", ENTRYPOINT, "-o", bundle, join("policy", "authz.rego")]);
    if (b.status !== 0) throw new Error(`opa build failed:\n${b.stderr}`);
    const x = run("tar", ["-xzf", bundle, "-C", dir, "/policy.wasm"]);
    if (x.status !== 0) throw new Error(`could not unpack policy.wasm:\n${x.stderr}`);
    return readFileSync(join(dir, "policy.wasm"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function build(opa) {
  const wasm = compile(opa);
  writeFileSync(wasmPath, wasm);
  process.stdout.write(`policy/authz.wasm: ${wasm.length} bytes (entrypoint ${ENTRYPOINT})\n`);
}

/**
 * Results of `policy:test` for `npm test`'s summary (.tmp/policy-results.json): each `opa test` case, the coverage
 * minimum and the compiled module's freshness count as one test each.
 */
function writeResults(results) {
  writeFileSync(join(root, ".tmp", "policy-results.json"), `${JSON.stringify(results)}\n`);
}

function test(opa) {
  const verbose = run(opa, ["test", "policy", "-v"]);
  process.stdout.write(verbose.stdout);
  const cases = {
    passed: (verbose.stdout.match(/: PASS\b/g) ?? []).length,
    failed: (verbose.stdout.match(/: (FAIL|ERROR)\b/g) ?? []).length,
  };
  if (verbose.status !== 0) {
    process.stderr.write(verbose.stderr);
    writeResults({ passed: cases.passed, failed: Math.max(1, cases.failed) });
    return false;
  }
  const cov = run(opa, ["test", "policy", "--coverage", "--format=json"]);
  if (cov.status !== 0) {
    process.stderr.write(cov.stderr);
    writeResults({ passed: cases.passed, failed: cases.failed + 1 });
    return false;
  }
  const report = JSON.parse(cov.stdout);
  const evidence = join(root, ".evidence", "security");
  mkdirSync(evidence, { recursive: true });
  writeFileSync(join(evidence, "opa_coverage.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(evidence, "opa_report.txt"), verbose.stdout);
  const coverage = Number(report.coverage ?? 0);
  process.stdout.write(`policy coverage: ${coverage.toFixed(1)} % (minimum ${MIN_COVERAGE} %)\n`);
  const coverageOk = coverage >= MIN_COVERAGE;
  let ok = coverageOk;
  if (!ok) process.stderr.write(`policy coverage ${coverage} % is below ${MIN_COVERAGE} %\n`);
  const compiled = compile(opa);
  let committed = Buffer.alloc(0);
  try {
    committed = readFileSync(wasmPath);
  } catch {}
  if (!compiled.equals(committed)) {
    process.stderr.write(
      "policy/authz.wasm is stale: it is not what policy/authz.rego compiles to; run `npm run policy:build`\n",
    );
    ok = false;
  } else {
    process.stdout.write("policy/authz.wasm matches policy/authz.rego\n");
  }
  const wasmOk = compiled.equals(committed);
  writeResults({
    passed: cases.passed + (coverageOk ? 1 : 0) + (wasmOk ? 1 : 0),
    failed: cases.failed + (coverageOk ? 0 : 1) + (wasmOk ? 0 : 1),
  });
  return ok;
}

const command = process.argv[2];
mkdirSync(join(root, ".tmp"), { recursive: true });
const opa = ensureOpa();
if (command === "build") build(opa);
else if (command === "test") process.exit(test(opa) ? 0 : 1);
else {
  process.stderr.write("usage: node scripts/policy.mjs build|test\n");
  process.exit(2);
}
