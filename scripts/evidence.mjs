// `npm run evidence`: the seed's evidence bundle in .evidence/ (run by CI after `npm test`, uploaded as an artifact).
//
//   slo/            read_p95.json, write_p95.json, error_rate.json   the SLO gate, short (scripts/slo.mjs)
//   tests/          junit.xml                     every suite of the last `npm test` (vitest JSON reports in .tmp/)
//                                                 plus each `opa test` case
//                   coverage.md, coverage.lcov,   coverage of the unit + workerd integration run: the per-folder
//                   coverage-summary.json         table and the thresholds it is gated on (scripts/lib/coverage.mjs);
//                                                 that run happens here when no report exists (or with --run-tests)
//   security/       sbom.cyclonedx.json           CycloneDX 1.6 from package-lock.json (@cyclonedx/cyclonedx-npm)
//                   vulns.npm-audit.json          `npm audit`, or why it could not run, plus offline lockfile checks
//                   opa_report.json               `opa test` results, coverage, authz.wasm up to date (the record
//                                                 of `npm test`'s policy step when it judged the same files)
//   observability/  dashboards.json, alert_rules.yaml,  from observability/, checked with promtool and amtool
//                   alertmanager.yml
//   ui/             workbench-1280.png, workbench-360.png   the workbench as the browser tests left it
//   provenance/     run_manifest.json             sha256 of every input and output, tool versions, each step
//
// Options: --slo-duration S (default 10, per workload), --run-tests. Exits 1 when a gate fails (SLO, policy,
// rules, SBOM, bundle build) after writing everything it could; a step that cannot run here is recorded as such.
// `npm run evidence -- --verify` checks an existing bundle instead: every output against the manifest's sha256, and
// which inputs in the working tree differ from the ones the bundle was made from.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, release } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { coverageMarkdown, thresholdChecks } from "./lib/coverage.mjs";
import { root, toolEnv } from "./lib/env.mjs";
import { OPA_VERSION } from "./lib/opa.mjs";
import { ensureAlertmanagerInstalled, ensurePrometheusInstalled } from "./lib/prometheus.mjs";

const { values: opts } = parseArgs({
  options: {
    "slo-duration": { type: "string", default: "10" },
    "run-tests": { type: "boolean", default: false },
    verify: { type: "boolean", default: false },
  },
});
const OUT = join(root, ".evidence");
const node = join(root, "node_modules", ".bin", "node");
const env = toolEnv();
/**
 * A vitest JSON report (the jest-compatible shape of `--reporter=json`), the parts read here.
 * @typedef {{ startTime: number; numPassedTests: number; numFailedTests: number; numPendingTests?: number;
 *   numTodoTests?: number; testResults?: Array<{ name: string; status: string; message?: string; startTime?: number;
 *   endTime?: number; assertionResults?: Array<{ fullName?: string; title: string; status: string; duration?: number;
 *   failureMessages?: string[] }> }> }} VitestReport
 */
/** One case of `opa test --format=json`. @typedef {{ package: string; name: string; duration?: number; fail?: boolean; error?: unknown; skip?: boolean }} OpaResult */
/**
 * One step of the bundle: `gate` steps decide `ok` of the whole bundle; `reused` ones reported a result of an
 * earlier step of the same run (see `policy`).
 * @typedef {{ name: string; gate: boolean; seconds: number; ok: boolean; error?: string; reused?: boolean;
 *   [detail: string]: unknown }} Step
 */

const log = (/** @type {string} */ msg) => process.stderr.write(`[evidence] ${msg}\n`);
/** @type {Step[]} */
const steps = [];
/** @type {string[]} */
const notes = [];

const sha256 = (/** @type {string | Buffer} */ data) => createHash("sha256").update(data).digest("hex");
const fileDigest = (/** @type {string} */ path) => {
  const data = readFileSync(path);
  return { sha256: sha256(data), bytes: data.length };
};
const writeJson = (/** @type {string} */ path, /** @type {unknown} */ value) =>
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
const out = (/** @type {string[]} */ ...parts) => join(OUT, ...parts);

/**
 * Runs a command, echoing its output to stderr as it comes; resolves with its exit code and output.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ timeoutMs?: number; quiet?: boolean }} [opts]
 * @returns {Promise<{ code: number; stdout: string; stderr: string }>}
 */
function run(cmd, args, { timeoutMs = 30 * 60_000, quiet = false } = {}) {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.stdout.on("data", (d) => {
      stdout += d;
      if (!quiet) process.stderr.write(d);
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      if (!quiet) process.stderr.write(d);
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      ok({ code: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      ok({ code: code ?? 1, stdout, stderr });
    });
  });
}

/**
 * Runs one step, timing it; a thrown error fails the step (and the bundle) but not the steps after it.
 * @param {string} name
 * @param {boolean} gate
 * @param {() => Promise<Record<string, unknown>>} fn resolves with details recorded in the manifest
 */
async function step(name, gate, fn) {
  log(`── ${name}`);
  const started = Date.now();
  /** @type {{ ok: boolean; error?: string } & Record<string, unknown>} */
  let result;
  try {
    result = { ok: true, ...(await fn()) };
  } catch (err) {
    // `details`: what the step knew before it failed (e.g. that it reported an earlier run's result).
    const details =
      err instanceof Error && "details" in err ? /** @type {Record<string, unknown>} */ (err.details) : {};
    result = { ok: false, error: err instanceof Error ? err.message : String(err), ...details };
    log(`${name}: ${result.error}`);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  steps.push({ name, gate, seconds, ...result });
  log(`${name}: ${result.ok ? "ok" : "FAILED"} (${seconds} s)`);
}

// ------------------------------------------------------------------------------------------------ tests

const xmlEscape = (/** @type {unknown} */ s) =>
  String(s)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these; ANSI colour codes are among them
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");

/**
 * @typedef {{ classname: string; name: string; time: number; failure: string | null; skipped?: boolean }} JunitCase
 */

/**
 * JUnit XML testsuites from vitest JSON reports (jest-compatible shape) and `opa test --format=json`.
 * @param {Array<{ project: string; report: VitestReport }>} reports
 * @param {OpaResult[] | null} opaResults
 */
function junitXml(reports, opaResults) {
  /** @type {Array<{ name: string; timestamp: number | undefined; time: number; cases: JunitCase[] }>} */
  const suites = [];
  for (const { project, report } of reports) {
    for (const file of report.testResults ?? []) {
      const path = relative(root, file.name);
      // One run can hold several tiers (unit + integration): name each case by its own tier, test/<tier>/….
      const tier = /^test\/([^/]+)\//.exec(path)?.[1] ?? project;
      const cases = (file.assertionResults ?? []).map(
        (a) =>
          /** @type {JunitCase} */ ({
            classname: `${tier}.${path}`,
            name: a.fullName ?? a.title,
            time: (a.duration ?? 0) / 1000,
            failure: a.status === "failed" ? (a.failureMessages ?? []).join("\n") || "failed" : null,
            skipped: ["skipped", "pending", "todo"].includes(a.status),
          }),
      );
      // A file that failed before any test ran (import error, hook failure) is one errored case.
      if (file.status === "failed" && !cases.some((c) => c.failure))
        cases.push({ classname: `${tier}.${path}`, name: "(file)", time: 0, failure: file.message || "failed" });
      const time = ((file.endTime ?? file.startTime ?? 0) - (file.startTime ?? 0)) / 1000;
      suites.push({ name: `${tier}: ${path}`, timestamp: file.startTime, time, cases });
    }
  }
  if (opaResults) {
    const cases = opaResults.map((t) => ({
      classname: `policy.${t.package}`,
      name: t.name,
      time: (t.duration ?? 0) / 1e9,
      failure: t.fail || t.error ? JSON.stringify(t.error ?? "failed") : null,
      skipped: Boolean(t.skip),
    }));
    suites.push({
      name: "policy: opa test policy/",
      timestamp: Date.now(),
      time: cases.reduce((a, c) => a + c.time, 0),
      cases,
    });
  }
  const count = (/** @type {JunitCase[]} */ cs, /** @type {(c: JunitCase) => unknown} */ f) => cs.filter(f).length;
  const all = suites.flatMap((s) => s.cases);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="coherence-service" tests="${all.length}" failures="${count(all, (c) => c.failure)}" errors="0" skipped="${count(all, (c) => c.skipped)}" time="${suites.reduce((a, s) => a + s.time, 0).toFixed(3)}">`,
  ];
  for (const s of suites) {
    lines.push(
      `  <testsuite name="${xmlEscape(s.name)}" tests="${s.cases.length}" failures="${count(s.cases, (c) => c.failure)}" errors="0" skipped="${count(s.cases, (c) => c.skipped)}" time="${s.time.toFixed(3)}" timestamp="${new Date(s.timestamp ?? Date.now()).toISOString()}">`,
    );
    for (const c of s.cases) {
      const open = `    <testcase classname="${xmlEscape(c.classname)}" name="${xmlEscape(c.name)}" time="${c.time.toFixed(3)}"`;
      if (c.failure) {
        const first = c.failure.split("\n")[0] ?? "";
        lines.push(
          `${open}>`,
          `      <failure message="${xmlEscape(first.slice(0, 500))}">${xmlEscape(c.failure)}</failure>`,
          "    </testcase>",
        );
      } else if (c.skipped) lines.push(`${open}>`, "      <skipped/>", "    </testcase>");
      else lines.push(`${open}/>`);
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>");
  return { xml: `${lines.join("\n")}\n`, tests: all.length, failures: count(all, (c) => c.failure) };
}

/** The vitest runs of `npm test` (scripts/test.mjs), by the name of their JSON report in .tmp/. */
const VITEST_RUNS = ["unit-integration", "kafka-bridge-unit", "e2e", "browser"];

/** @param {OpaResult[] | null} opaResults */
async function tests(opaResults) {
  mkdirSync(out("tests"), { recursive: true });
  const report = (/** @type {string} */ p) => join(root, ".tmp", `vitest-${p}.json`);
  const coverageDir = join(root, "coverage");
  if (
    opts["run-tests"] ||
    !existsSync(report("unit-integration")) ||
    !existsSync(join(coverageDir, "coverage-summary.json"))
  ) {
    log("running the unit and integration tests with coverage (no report of a previous `npm test`, or --run-tests)");
    const r = await run(node, [
      join(root, "node_modules", "vitest", "vitest.mjs"),
      "run",
      "--project",
      "unit",
      "--project",
      "integration",
      "--coverage",
      "--reporter=dot",
      "--reporter=json",
      `--outputFile.json=${report("unit-integration")}`,
    ]);
    if (r.code !== 0) notes.push(`the unit and integration tests run by evidence exited ${r.code}`);
  }
  /** @type {Array<{ project: string; report: VitestReport }>} */
  const reports = [];
  /** @type {Record<string, unknown>} */
  const sources = {};
  for (const name of VITEST_RUNS) {
    if (!existsSync(report(name))) {
      notes.push(`tests/junit.xml: no ${name} report in .tmp/ (run \`npm test\` first for the whole suite)`);
      continue;
    }
    /** @type {VitestReport} */
    const parsed = JSON.parse(readFileSync(report(name), "utf8"));
    reports.push({ project: name, report: parsed });
    sources[name] = {
      report: relative(root, report(name)),
      started: new Date(parsed.startTime).toISOString(),
      passed: parsed.numPassedTests,
      failed: parsed.numFailedTests,
      skipped: (parsed.numPendingTests ?? 0) + (parsed.numTodoTests ?? 0),
    };
  }
  const junit = junitXml(reports, opaResults);
  writeFileSync(out("tests", "junit.xml"), junit.xml);
  // Coverage: reported here, gated by the vitest run itself (vitest.config.ts), so a shortfall counts once.
  let coverage = null;
  const summaryPath = join(coverageDir, "coverage-summary.json");
  if (existsSync(summaryPath)) {
    const summary = JSON.parse(readFileSync(summaryPath, "utf8"));
    writeFileSync(out("tests", "coverage.md"), coverageMarkdown(summary, root));
    copyFileSync(summaryPath, out("tests", "coverage-summary.json"));
    copyFileSync(join(coverageDir, "lcov.info"), out("tests", "coverage.lcov"));
    const checks = thresholdChecks(summary, root);
    coverage = { lines_pct: summary.total.lines.pct, thresholds_met: checks.every((c) => c.ok) };
    if (!coverage.thresholds_met) notes.push("tests/coverage.md: a coverage threshold is not met");
  } else notes.push("tests/coverage.md: no coverage/coverage-summary.json (run `npm run test:coverage`)");
  return { tests: junit.tests, failures: junit.failures, sources, coverage };
}

// ------------------------------------------------------------------------------------------------ security

/** sha256 of each file in policy/ and the OPA version, as scripts/policy.mjs records them with its results. */
function policyInputs() {
  const dir = join(root, "policy");
  const files = readdirSync(dir).sort();
  return {
    opa: OPA_VERSION,
    ...Object.fromEntries(files.map((f) => [`policy/${f}`, sha256(readFileSync(join(dir, f)))])),
  };
}

/**
 * The policy gate: the record of `npm run policy:test` (.tmp/opa-test.json). `npm test` runs that earlier in the
 * same run, so a record that judged exactly the policy files of the working tree with the same OPA is reported as
 * it is (the gate runs once, and `npm test` counts its cases there); otherwise the test runs here.
 */
async function policy() {
  const recordPath = join(root, ".tmp", "opa-test.json");
  /** @returns {{ ok: boolean; coverage: number | null; minimum_coverage: number; wasm_matches_rego?: boolean;
   *   checks?: Array<{ name: string; ok: boolean }>; inputs?: Record<string, string>; results?: OpaResult[] } | null} */
  const read = () => (existsSync(recordPath) ? JSON.parse(readFileSync(recordPath, "utf8")) : null);
  let record = read();
  const reused = record !== null && JSON.stringify(record.inputs) === JSON.stringify(policyInputs());
  if (!reused) {
    await run(node, [join(root, "scripts", "policy.mjs"), "test"]);
    record = read();
  }
  const results = record?.results ?? [];
  writeJson(out("security", "opa_report.json"), {
    tool: `opa test (OPA ${OPA_VERSION})`,
    command: "npm run policy:test",
    ran: reused
      ? "earlier, on the same policy files with the same OPA (npm test's policy step)"
      : "by npm run evidence",
    ok: record?.ok ?? false,
    passed: results.filter((x) => !x.fail && !x.error && !x.skip).length,
    failed: results.filter((x) => x.fail || x.error).length,
    coverage_percent: record?.coverage ?? null,
    minimum_coverage_percent: record?.minimum_coverage ?? null,
    wasm_matches_rego: record?.wasm_matches_rego ?? false,
    checks: record?.checks ?? [],
    policy_files_sha256: record?.inputs ?? null,
    coverage_report: "opa_coverage.json",
    verbose_report: "opa_report.txt",
    results: results.map((x) => ({
      package: x.package,
      name: x.name,
      pass: !x.fail && !x.error,
      duration_ns: x.duration,
    })),
  });
  if (!record?.ok) {
    const err = new Error(record ? "npm run policy:test failed" : "npm run policy:test wrote no record");
    throw Object.assign(err, { details: { reused } });
  }
  return { results, reused };
}

async function sbom() {
  const file = out("security", "sbom.cyclonedx.json");
  const r = await run(node, [
    join(root, "node_modules", "@cyclonedx", "cyclonedx-npm", "bin", "cyclonedx-npm-cli.js"),
    "--package-lock-only",
    "--output-reproducible",
    "--spec-version",
    "1.6",
    "--output-format",
    "JSON",
    "--output-file",
    file,
  ]);
  if (r.code !== 0 || !existsSync(file)) throw new Error(`cyclonedx-npm exited ${r.code}`);
  const bom = JSON.parse(readFileSync(file, "utf8"));
  /** @typedef {{ components?: BomComponent[] }} BomComponent */
  /** @type {(cs: BomComponent[] | undefined) => number} */
  const count = (cs) => (cs ?? []).reduce((n, c) => n + 1 + count(c.components), 0);
  return { components: count(bom.components), spec: bom.specVersion };
}

/** Offline supply-chain checks of package-lock.json: registry origin, integrity hashes, install scripts. */
function lockfileChecks() {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const allowed = new Set(Object.keys(pkg.allowScripts ?? {}));
  /** @type {string[]} */
  const problems = [];
  /** @type {Array<{ name: string; version: string; approved: boolean }>} */
  const installScripts = [];
  /** @type {Record<string, number>} */
  const licenses = {};
  let count = 0;
  /** @type {Array<[string, { name?: string; link?: boolean; resolved?: string; integrity?: string; version: string;
   *   hasInstallScript?: boolean; license?: unknown }]>} */
  const packages = Object.entries(lock.packages ?? {});
  for (const [path, p] of packages) {
    // The project itself, and its own workspace packages (packages/client): our code, not downloaded.
    if (path === "" || p.link || !path.includes("node_modules/")) continue;
    count++;
    const name = p.name ?? path.slice(path.lastIndexOf("node_modules/") + 13);
    // No `resolved` means the configured registry (the lockfile omits it); one that is present must be the registry.
    if (p.resolved !== undefined && !p.resolved.startsWith("https://registry.npmjs.org/"))
      problems.push(`${name}: resolved from ${p.resolved}`);
    if (!p.integrity?.startsWith("sha512-")) problems.push(`${name}: no sha512 integrity`);
    if (p.hasInstallScript) installScripts.push({ name, version: p.version, approved: allowed.has(name) });
    const license = typeof p.license === "string" ? p.license : "unknown";
    licenses[license] = (licenses[license] ?? 0) + 1;
  }
  return {
    lockfile_version: lock.lockfileVersion,
    packages: count,
    all_from_npm_registry_with_sha512: problems.length === 0,
    problems,
    install_scripts: installScripts,
    licenses,
  };
}

async function vulnerabilities() {
  const r = await run("npm", ["audit", "--json", "--package-lock-only"], { quiet: true, timeoutMs: 120_000 });
  let report = null;
  try {
    report = JSON.parse(r.stdout);
  } catch {}
  // npm audit exits 1 both when it finds vulnerabilities and when it cannot ask the registry: tell them apart.
  const available = report !== null && report.metadata?.vulnerabilities !== undefined;
  const reason = available ? null : (report?.message ?? (r.stderr.trim() || `exit ${r.code}`));
  if (!available) notes.push(`security/vulns.npm-audit.json: npm audit could not run here (${reason})`);
  const offline = lockfileChecks();
  writeJson(out("security", "vulns.npm-audit.json"), {
    tool: "npm audit --json --package-lock-only",
    npm_version: spawnSync("npm", ["--version"], { encoding: "utf8" }).stdout.trim(),
    status: available ? "ok" : "unavailable",
    ...(available
      ? { vulnerabilities: report.metadata.vulnerabilities, report }
      : {
          reason,
          meaning:
            "No vulnerability database could be consulted from this machine: npm's advisory endpoint " +
            "(POST /-/npm/v1/security/advisories/bulk) is not served by the registry it reaches, and OSV/GitHub " +
            "advisory data are not available offline. This report does NOT say the dependencies are free of known " +
            "vulnerabilities; run `npm audit` where the public registry is reachable (GitHub Actions is).",
        }),
    offline_checks: offline,
  });
  if (!offline.all_from_npm_registry_with_sha512)
    throw new Error(`lockfile: ${offline.problems.slice(0, 5).join("; ")}`);
  return {
    status: available ? "ok" : "unavailable",
    ...(available ? { counts: report.metadata.vulnerabilities } : {}),
  };
}

// ------------------------------------------------------------------------------------------------ ui

/** The workbench at 1280 px and 360 px, as the browser tests of the last `npm test` left it (.tmp/). */
async function screenshots() {
  const files = [];
  for (const name of ["workbench-1280.png", "workbench-360.png"]) {
    const src = join(root, ".tmp", name);
    if (!existsSync(src)) continue;
    copyFileSync(src, out("ui", name));
    files.push(`ui/${name}`);
  }
  if (files.length === 0) throw new Error("no workbench screenshots in .tmp/ (the browser tests write them: npm test)");
  return { files };
}

// ------------------------------------------------------------------------------------------------ observability

async function observability() {
  const { promtool } = await ensurePrometheusInstalled();
  const { amtool } = await ensureAlertmanagerInstalled();
  const dir = out("observability");
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, "observability", "grafana-dashboard.json"), join(dir, "dashboards.json"));
  copyFileSync(join(root, "observability", "alert-rules.yaml"), join(dir, "alert_rules.yaml"));
  copyFileSync(join(root, "observability", "alertmanager.yml"), join(dir, "alertmanager.yml"));
  // Every dashboard query must parse as PromQL: check them as recording rules (Grafana's $__rate_interval → 5m).
  /** @type {{ panels: Array<{ title: string; targets?: Array<{ expr: string }> }> }} */
  const dashboard = JSON.parse(readFileSync(join(root, "observability", "grafana-dashboard.json"), "utf8"));
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  const checkDir = join(root, ".tmp", "evidence-promql");
  mkdirSync(checkDir, { recursive: true });
  const rulesFile = join(checkDir, "dashboard-queries.yaml");
  const rules = exprs.map(
    (e, i) =>
      `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(e.expr.replaceAll("$__rate_interval", "5m"))}`,
  );
  writeFileSync(rulesFile, `groups:\n  - name: dashboard-queries\n    rules:\n${rules.join("\n")}\n`);
  /** @type {Array<[label: string, [cmd: string, args: string[], cwd?: string]]>} */
  const checks = [
    ["check rules", [promtool, ["check", "rules", join(dir, "alert_rules.yaml")]]],
    ["test rules", [promtool, ["test", "rules", "alert-rules.test.yaml"], join(root, "observability")]],
    [`dashboard queries (${exprs.length})`, [promtool, ["check", "rules", rulesFile]]],
    ["alertmanager config", [amtool, ["check-config", join(dir, "alertmanager.yml")]]],
  ];
  /** @type {string[]} */
  const lines = [];
  let ok = true;
  for (const [label, [cmd, args, cwd]] of checks) {
    const r = spawnSync(cmd, args, { cwd: cwd ?? root, encoding: "utf8" });
    ok = ok && r.status === 0;
    lines.push(
      `$ ${cmd === amtool ? "amtool" : "promtool"} ${args.join(" ").replaceAll(`${root}/`, "")}   # ${label}: exit ${r.status}`,
      `${r.stdout}${r.stderr}`.trim(),
      "",
    );
  }
  const version = spawnSync(promtool, ["--version"], { encoding: "utf8" });
  lines.unshift(`${(version.stdout || version.stderr).split("\n")[0]}`, "");
  writeFileSync(join(dir, "promtool_check.txt"), `${lines.join("\n")}\n`);
  rmSync(checkDir, { recursive: true, force: true });
  if (!ok) throw new Error("promtool found problems: see observability/promtool_check.txt");
  return { dashboard_queries: exprs.length };
}

// ------------------------------------------------------------------------------------------------ build, SLO

async function build() {
  const dir = join(root, ".tmp", "dry-run");
  rmSync(dir, { recursive: true, force: true });
  const r = await run(node, [join(root, "scripts", "wrangler.mjs"), "deploy", "--dry-run", "--outdir", dir], {
    quiet: true,
  });
  if (r.code !== 0) throw new Error(`wrangler deploy --dry-run exited ${r.code}: ${r.stderr.slice(-500)}`);
  /** @type {Record<string, { sha256: string; bytes: number }>} */
  const files = {};
  for (const f of readdirSync(dir).sort()) files[f] = fileDigest(join(dir, f));
  const upload = /Total Upload: ([^\n]+)/.exec(r.stdout)?.[1] ?? null;
  return { command: "npm run deploy -- --dry-run --outdir .tmp/dry-run", total_upload: upload, files };
}

async function slo() {
  const r = await run(node, [
    join(root, "scripts", "slo.mjs"),
    "--duration",
    opts["slo-duration"],
    "--out",
    out("slo"),
  ]);
  writeFileSync(out("slo", "gate.txt"), `$ npm run slo -- --duration ${opts["slo-duration"]}\n${r.stdout}${r.stderr}`);
  if (r.code !== 0)
    throw new Error(`the SLO gate failed (exit ${r.code}): ${r.stderr.match(/^FAIL [^\n]*/gm)?.join("; ") ?? ""}`);
  return { duration_s_per_workload: Number(opts["slo-duration"]) };
}

// ------------------------------------------------------------------------------------------------ provenance

/**
 * @param {string} dir
 * @returns {string[]}
 */
function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

/**
 * One digest for a folder: sha256 over its sorted "sha256  path" lines (like `sha256sum` output).
 * @param {string} dir
 */
function treeDigest(dir) {
  const files = walk(join(root, dir)).sort();
  const lines = files.map((f) => `${fileDigest(f).sha256}  ${relative(root, f)}`);
  const gitTree = spawnSync("git", ["rev-parse", `HEAD:${dir}`], { cwd: root, encoding: "utf8" }).stdout.trim();
  return { sha256: sha256(`${lines.join("\n")}\n`), files: files.length, git_tree_at_head: gitTree || null };
}

/** @param {string[]} args */
function git(...args) {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function toolVersions() {
  const pkgVersion = (/** @type {string} */ name) => {
    try {
      return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return null;
    }
  };
  const first = (/** @type {string} */ cmd, /** @type {string[]} */ args) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split("\n")[0] : null;
  };
  return {
    node: spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim(),
    npm: first("npm", ["--version"]),
    wrangler: pkgVersion("wrangler"),
    vitest: pkgVersion("vitest"),
    autocannon: pkgVersion("autocannon"),
    "@cyclonedx/cyclonedx-npm": pkgVersion("@cyclonedx/cyclonedx-npm"),
    opa: OPA_VERSION,
    promtool: first("/usr/bin/promtool", ["--version"]),
  };
}

/**
 * @param {number} started
 * @param {unknown} build
 */
function manifest(started, build) {
  /** @type {Record<string, { sha256: string; bytes: number }>} */
  const inputs = {};
  const files = [
    "package.json",
    "package-lock.json",
    "wrangler.toml",
    "tsconfig.json",
    "vitest.config.ts",
    "policy/authz.rego",
    "policy/authz_test.rego",
    "policy/authz.wasm",
    ".maestro/persisted-queries.json",
    ".maestro/ci_budget.json",
    ".maestro/scripts/parse-k6.js",
    "observability/grafana-dashboard.json",
    "observability/alert-rules.yaml",
    "observability/alert-rules.test.yaml",
    "scripts/slo.mjs",
    "scripts/evidence.mjs",
    ...walk(join(root, "migrations")).map((f) => relative(root, f)),
  ];
  for (const f of files.sort()) if (existsSync(join(root, f))) inputs[f] = fileDigest(join(root, f));
  const trees = Object.fromEntries(["src", "durable-objects", "public"].map((d) => [`${d}/`, treeDigest(d)]));
  /** @type {Record<string, { sha256: string; bytes: number }>} */
  const outputs = {};
  for (const f of walk(OUT).sort()) {
    const rel = relative(root, f);
    if (rel !== ".evidence/provenance/run_manifest.json") outputs[rel] = fileDigest(f);
  }
  const dirty = git("status", "--porcelain");
  return {
    schema: "coherence-service/evidence-run-manifest@1",
    generator: "npm run evidence (scripts/evidence.mjs)",
    started: new Date(started).toISOString(),
    finished: new Date().toISOString(),
    ok: steps.every((s) => s.ok || !s.gate),
    git: {
      commit: git("rev-parse", "HEAD"),
      branch: git("rev-parse", "--abbrev-ref", "HEAD"),
      dirty: dirty === null ? null : dirty !== "",
      changed_files: dirty ? dirty.split("\n").map((l) => l.slice(3)) : [],
    },
    ci: Object.fromEntries(
      ["CI", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_SHA", "GITHUB_REF", "GITHUB_WORKFLOW", "GITHUB_REPOSITORY"]
        .filter((k) => process.env[k] !== undefined)
        .map((k) => [k, process.env[k]]),
    ),
    machine: {
      platform: platform(),
      release: release(),
      arch: arch(),
      cpus: cpus().length,
      cpu: cpus()[0]?.model?.trim(),
    },
    tools: toolVersions(),
    inputs,
    input_trees: trees,
    steps: steps.map(({ results: _omit, ...s }) => s),
    worker_bundle: build,
    outputs,
    substitutions: {
      "security/sbom.syft.json": "security/sbom.cyclonedx.json (@cyclonedx/cyclonedx-npm; Syft is not installed here)",
      "security/vulns.grype.json": "security/vulns.npm-audit.json (npm audit; Grype needs its online database)",
      k6: "autocannon load, summaries in k6's handleSummary JSON shape (k6 is not used)",
    },
    notes,
  };
}

// ------------------------------------------------------------------------------------------------ verify

/** Checks .evidence/ against its run_manifest.json; exit 0 when every output matches. */
function verify() {
  const path = out("provenance", "run_manifest.json");
  if (!existsSync(path)) {
    process.stderr.write(`no ${relative(root, path)}: run \`npm run evidence\` first\n`);
    return 2;
  }
  const m = JSON.parse(readFileSync(path, "utf8"));
  const problems = [];
  for (const [file, want] of Object.entries(m.outputs)) {
    const abs = join(root, file);
    if (!existsSync(abs)) problems.push(`missing   ${file}`);
    else if (fileDigest(abs).sha256 !== want.sha256) problems.push(`modified  ${file}`);
  }
  const listed = new Set([...Object.keys(m.outputs), ".evidence/provenance/run_manifest.json"]);
  for (const f of walk(OUT)) if (!listed.has(relative(root, f))) problems.push(`unlisted  ${relative(root, f)}`);
  const changedInputs = Object.entries(m.inputs)
    .filter(([f, want]) => !existsSync(join(root, f)) || fileDigest(join(root, f)).sha256 !== want.sha256)
    .map(([f]) => f);
  for (const [dir, want] of Object.entries(m.input_trees ?? {}))
    if (treeDigest(dir.replace(/\/$/, "")).sha256 !== want.sha256) changedInputs.push(dir);
  process.stdout.write(
    `bundle of ${m.finished} at commit ${m.git?.commit}${m.git?.dirty ? " (+ uncommitted changes)" : ""}, gates ${m.ok ? "passed" : "FAILED"}\n`,
  );
  for (const p of problems) process.stdout.write(`${p}\n`);
  process.stdout.write(
    changedInputs.length === 0
      ? "inputs: the working tree matches the inputs the bundle was made from\n"
      : `inputs changed since (the bundle does not describe this tree): ${changedInputs.join(", ")}\n`,
  );
  process.stdout.write(
    problems.length === 0
      ? `OK: ${Object.keys(m.outputs).length} outputs match their sha256\n`
      : `FAILED: ${problems.length} output(s) differ from the manifest\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const started = Date.now();
  for (const d of ["slo", "tests", "observability", "provenance", "ui"])
    rmSync(out(d), { recursive: true, force: true });
  for (const d of ["slo", "tests", "security", "observability", "provenance", "ui"])
    mkdirSync(out(d), { recursive: true });
  /** @type {OpaResult[] | null} */
  let opaResults = null;
  await step("security: opa test", true, async () => {
    const r = await policy();
    opaResults = r.results;
    return { tests: r.results.length, reused: r.reused };
  });
  await step("tests: junit.xml, coverage", false, () => tests(opaResults));
  await step("security: CycloneDX SBOM", true, sbom);
  await step("security: vulnerability report", true, vulnerabilities);
  await step("observability: dashboard and alert rules", true, observability);
  let bundle = null;
  await step("build: wrangler deploy --dry-run", true, async () => {
    bundle = await build();
    return { total_upload: bundle.total_upload };
  });
  await step("slo: the SLO gate", true, slo);
  await step("ui: workbench screenshots", false, screenshots);
  mkdirSync(out("provenance"), { recursive: true });
  const m = manifest(started, bundle);
  writeJson(out("provenance", "run_manifest.json"), m);
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(
    `\n${steps.map((s) => `${s.ok ? "ok  " : "FAIL"} ${s.name} (${s.seconds} s)${s.error ? `: ${s.error}` : ""}`).join("\n")}\n`,
  );
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(
    `\n.evidence/ written in ${seconds} s: ${Object.keys(m.outputs).length + 1} files; ${m.ok ? "all gates passed" : "a gate FAILED"}\n`,
  );
  return m.ok ? 0 : 1;
}

(opts.verify ? Promise.resolve(verify()) : main()).then(
  (code) => process.exit(code),
  (err) => {
    log(`error: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(2);
  },
);
