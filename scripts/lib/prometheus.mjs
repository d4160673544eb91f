// Prometheus and promtool from Debian's `prometheus` package (installed with apt-get when missing), for checking
// the alert rules (`promtool check rules`, `promtool test rules`) and for scraping the local service. Plain Node
// (no dependencies); progress goes to stderr. Debian's own service is kept from starting: we run our own.
import { spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";

export const PROMETHEUS_PATH = "/usr/bin/prometheus";
export const PROMTOOL_PATH = "/usr/bin/promtool";

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;
const log = (/** @type {string} */ msg) => process.stderr.write(`[prometheus] ${msg}\n`);

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<string>}
 */
function mustRun(cmd, args, env) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (/** @type {Buffer} */ d) => {
      output += d;
      process.stderr.write(d);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("error", (err) => fail(new Error(`[prometheus] could not run ${cmd}: ${err.message}`)));
    child.once("close", (code) =>
      code === 0
        ? ok(output)
        : fail(new Error(`[prometheus] ${cmd} ${args.join(" ")} failed (exit ${code})\n${output.trim()}`)),
    );
  });
}

export const ALERTMANAGER_PATH = "/usr/bin/prometheus-alertmanager";
export const AMTOOL_PATH = "/usr/bin/amtool";

/**
 * Makes sure Debian's `prometheus` package is installed (needs root, as on the project's machines and CI) and
 * returns the paths of its two binaries.
 * @returns {Promise<{ prometheus: string; promtool: string }>}
 */
export async function ensurePrometheusInstalled() {
  await ensureDebianPackage("prometheus", [PROMETHEUS_PATH, PROMTOOL_PATH]);
  return { prometheus: PROMETHEUS_PATH, promtool: PROMTOOL_PATH };
}

/**
 * Makes sure Debian's `prometheus-alertmanager` package is installed; returns the paths of Alertmanager and amtool.
 * @returns {Promise<{ alertmanager: string; amtool: string }>}
 */
export async function ensureAlertmanagerInstalled() {
  await ensureDebianPackage("prometheus-alertmanager", [ALERTMANAGER_PATH, AMTOOL_PATH]);
  return { alertmanager: ALERTMANAGER_PATH, amtool: AMTOOL_PATH };
}

/**
 * Installs a Debian package with apt-get when one of `binaries` is missing. The package's service is kept from
 * starting (policy-rc.d answers 101, the usual container setup); its recommends are not installed.
 * @param {string} pkg
 * @param {string[]} binaries
 */
async function ensureDebianPackage(pkg, binaries) {
  const installed = () => binaries.every((b) => existsSync(b));
  if (installed()) return;
  if (!isRoot()) {
    throw new Error(
      `[prometheus] ${binaries.join(", ")} not installed and we are not root; install them with ` +
        `apt-get update && apt-get install -y --no-install-recommends ${pkg}`,
    );
  }
  const started = Date.now();
  log(`${binaries[0]} not found; installing Debian's ${pkg} (a minute)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    // Another apt-get (a parallel install by another script) holds dpkg's lock: wait for it.
    const wait = ["-o", "DPkg::Lock::Timeout=600"];
    await mustRun("apt-get", [...wait, "-q", "update"], env);
    await mustRun("apt-get", [...wait, "-q", "install", "-y", "--no-install-recommends", pkg], env);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  if (!installed()) throw new Error(`[prometheus] apt-get installed ${pkg} but its binaries are missing`);
  log(`${pkg} installed in ${Math.round((Date.now() - started) / 1000)} s`);
}
