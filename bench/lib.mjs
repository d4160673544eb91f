// Helpers shared by the benchmarks: sleeps, percentiles, what a report says about the run, and the end of a run.
// Services, Workers, tokens and logs come from the test harness (test/support/harness.ts), as in the tests.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** The p-th percentile (nearest rank) of an ascending array, or `null` when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** The installed version of a package, or "unknown". */
export function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}

/** The commit measured: HEAD, marked when the Worker's sources differ from it. */
export function gitRevision() {
  try {
    const git = (...args) =>
      execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const head = git("rev-parse", "--short", "HEAD").trim();
    const dirty = git("status", "--porcelain", "--", "src", "durable-objects", "wrangler.toml").trim() !== "";
    return dirty ? `${head} + uncommitted changes to the Worker` : head;
  } catch {
    return "unknown";
  }
}

/** The machine and toolchain every report names: cores, CPU, memory, Node (the load client) and wrangler. */
export function hostInfo() {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model?.trim() ?? "unknown",
    memGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    wrangler: packageVersion("wrangler"),
  };
}

/** The load averages over 1, 5 and 15 minutes, as a report prints them. */
export const loadText = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/** Reports a run that could not be carried out; its exit code. */
export function runFailed(log, err) {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
}

/** Removes a run's scratch directory (state, logs) unless BENCH_KEEP_STATE asks to keep it. */
export function dropScratch(scratch, log) {
  if (!process.env.BENCH_KEEP_STATE) rmSync(scratch, { recursive: true, force: true });
  else log(`kept ${scratch}`);
}
