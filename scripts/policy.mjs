// `npm run policy:build`: compiles policy/authz.rego to Wasm (policy/authz.wasm, committed, imported by the Worker).
// `npm run policy:test`: `opa test` with coverage (fails below 95 %), writes the report to .evidence/security/,
// and fails when policy/authz.wasm is not what the .rego compiles to (so the Worker never runs a stale policy).
// Its record goes to .tmp/opa-test.json (outcome, each case's result, the policy files judged): `npm test` counts
// the cases and the evidence bundle reports that run instead of repeating it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./lib/env.mjs";
import { ensureOpa, OPA_VERSION } from "./lib/opa.mjs";

const ENTRYPOINT = "coherence/authz/decision";
const MIN_COVERAGE = 95;
const policyDir = join(root, "policy");
const wasmPath = join(policyDir, "authz.wasm");
/** The record of the last `test` run (see `test`). */
const resultsPath = join(root, ".tmp", "opa-test.json");

/**
 * @param {string} cmd
 * @param {string[]} args
 */
function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

/**
 * The Wasm module `opa build -t wasm` makes from the policy (tests excluded).
 * @param {string} opa
 */
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

/** @param {string} opa */
function build(opa) {
  const wasm = compile(opa);
  writeFileSync(wasmPath, wasm);
  process.stdout.write(`policy/authz.wasm: ${wasm.length} bytes (entrypoint ${ENTRYPOINT})\n`);
}

/** sha256 of each policy file and the OPA version: whether the record still describes the working tree. */
function policyInputs() {
  /** @type {Record<string, string>} */
  const inputs = { opa: OPA_VERSION };
  for (const f of readdirSync(policyDir).sort())
    inputs[`policy/${f}`] = createHash("sha256")
      .update(readFileSync(join(policyDir, f)))
      .digest("hex");
  return inputs;
}

/**
 * `opa test` (each case, then coverage) and the Wasm check. Writes its record to .tmp/opa-test.json whatever the
 * outcome: `ok`, each case's result, the checks that ran after them (the coverage minimum, the compiled module up
 * to date: `npm test` counts each as a test too), the coverage and the policy files it judged (`policyInputs`).
 * @param {string} opa
 */
function test(opa) {
  rmSync(resultsPath, { force: true });
  /** @type {Array<{ name: string; ok: boolean }>} */
  const checks = [];
  const record = { ok: false, coverage: /** @type {number | null} */ (null), minimum_coverage: MIN_COVERAGE, checks };
  const finish = (/** @type {boolean} */ ok, /** @type {unknown[]} */ results, wasmMatches = false) => {
    Object.assign(record, { ok, wasm_matches_rego: wasmMatches, inputs: policyInputs(), results });
    writeFileSync(resultsPath, `${JSON.stringify(record, null, 2)}\n`);
    return ok;
  };
  // One test per case in `npm test`'s summary; not an array when the policy does not compile.
  const json = run(opa, ["test", "policy", "--format=json"]);
  /** @type {unknown[]} */
  let results = [];
  try {
    const parsed = JSON.parse(json.stdout);
    if (Array.isArray(parsed)) results = parsed;
  } catch {}
  const verbose = run(opa, ["test", "policy", "-v"]);
  process.stdout.write(verbose.stdout);
  if (verbose.status !== 0) {
    process.stderr.write(verbose.stderr);
    return finish(false, results);
  }
  const cov = run(opa, ["test", "policy", "--coverage", "--format=json"]);
  if (cov.status !== 0) {
    process.stderr.write(cov.stderr);
    return finish(false, results);
  }
  const report = JSON.parse(cov.stdout);
  const evidence = join(root, ".evidence", "security");
  mkdirSync(evidence, { recursive: true });
  writeFileSync(join(evidence, "opa_coverage.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(evidence, "opa_report.txt"), verbose.stdout);
  const coverage = Number(report.coverage ?? 0);
  record.coverage = coverage;
  process.stdout.write(`policy coverage: ${coverage.toFixed(1)} % (minimum ${MIN_COVERAGE} %)\n`);
  let ok = coverage >= MIN_COVERAGE;
  checks.push({ name: `policy coverage >= ${MIN_COVERAGE} %`, ok });
  if (!ok) process.stderr.write(`policy coverage ${coverage} % is below ${MIN_COVERAGE} %\n`);
  const compiled = compile(opa);
  let committed = Buffer.alloc(0);
  try {
    committed = readFileSync(wasmPath);
  } catch {}
  const wasmMatches = compiled.equals(committed);
  checks.push({ name: "policy/authz.wasm is what policy/authz.rego compiles to", ok: wasmMatches });
  if (!wasmMatches) {
    process.stderr.write(
      "policy/authz.wasm is stale: it is not what policy/authz.rego compiles to; run `npm run policy:build`\n",
    );
    ok = false;
  } else {
    process.stdout.write("policy/authz.wasm matches policy/authz.rego\n");
  }
  return finish(ok, results, wasmMatches);
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
