// `node scripts/lint-ci.mjs`: checks .github/workflows/*.yml with actionlint (syntax, expressions, action inputs,
// and the `run:` scripts through shellcheck). actionlint is built from the Go module proxy (`go install`) into
// .cache/ on first use; shellcheck comes from Debian (apt-get, root) and is skipped with a note when it cannot be
// installed. Plain Node, no dependencies. Exits non-zero on any finding.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { root } from "./lib/env.mjs";

export const ACTIONLINT_VERSION = "v1.7.12";
const binDir = join(root, ".cache", "actionlint", ACTIONLINT_VERSION);
const actionlintPath = join(binDir, "actionlint");
const SHELLCHECK = "/usr/bin/shellcheck";
const log = (/** @type {string} */ msg) => process.stderr.write(`[lint-ci] ${msg}\n`);

/** Path to actionlint, built with the machine's Go toolchain when it is not cached yet. */
export function ensureActionlint() {
  if (existsSync(actionlintPath)) return actionlintPath;
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) throw new Error("actionlint is not cached in .cache/actionlint and Go is not installed");
  mkdirSync(binDir, { recursive: true });
  log(`building actionlint ${ACTIONLINT_VERSION} from the Go module proxy into ${binDir} (once)`);
  const r = spawnSync("go", ["install", `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`], {
    cwd: root,
    env: { ...process.env, GOBIN: binDir, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0 || !existsSync(actionlintPath)) throw new Error(`go install of actionlint failed`);
  return actionlintPath;
}

/** Debian's shellcheck, installed when missing and we are root; `null` when it cannot be had. */
export function ensureShellcheck() {
  if (existsSync(SHELLCHECK)) return SHELLCHECK;
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  log("installing Debian's shellcheck (once)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    // Another apt-get (a parallel install by another script) holds dpkg's lock: wait for it.
    const wait = ["-o", "DPkg::Lock::Timeout=600"];
    for (const args of [
      [...wait, "-q", "update"],
      [...wait, "-q", "install", "-y", "--no-install-recommends", "shellcheck"],
    ]) {
      const r = spawnSync("apt-get", args, { env, stdio: ["ignore", process.stderr, process.stderr] });
      if (r.status !== 0) return null;
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  return existsSync(SHELLCHECK) ? SHELLCHECK : null;
}

/**
 * Runs actionlint over every workflow; resolves with its exit code and combined output.
 * @returns {{ ok: boolean; output: string; shellcheck: string | null; files: string[] }}
 */
export function lintWorkflows() {
  const actionlint = ensureActionlint();
  const shellcheck = ensureShellcheck();
  const dir = join(root, ".github", "workflows");
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(".github", "workflows", f));
  // `-shellcheck=` (empty) turns the integration off explicitly when shellcheck is missing.
  const args = ["-no-color", `-shellcheck=${shellcheck ?? ""}`, "-pyflakes=", ...files];
  const r = spawnSync(actionlint, args, { cwd: root, encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}`, shellcheck, files };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = lintWorkflows();
  process.stdout.write(result.output);
  if (!result.shellcheck) log("shellcheck is not installed: `run:` scripts were not checked");
  log(
    `${result.files.join(", ")}: ${result.ok ? "no findings" : "findings above"} (actionlint ${ACTIONLINT_VERSION}${result.shellcheck ? " + shellcheck" : ""})`,
  );
  process.exit(result.ok ? 0 : 1);
}
