// `npm run check`: every static check, each on its own line — the workbench bundle is up to date, Biome (format and
// lint), TypeScript for the Worker, the tests, the e2e and browser tests and the Kafka bridge, and actionlint on the
// CI workflow. Runs them all, writes .tmp/check-results.json (one entry per check, for `npm test`'s summary) and
// exits 1 when any failed. (`wrangler deploy --dry-run` is a gate of the evidence bundle, the last step of `npm test`.)
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root, toolEnv } from "./lib/env.mjs";

const node = process.execPath;
const bin = (...p) => join(root, "node_modules", ...p);
const tsc = (project) => ({ name: `tsc -p ${project}`, args: [bin("typescript", "bin", "tsc"), "-p", project] });

export const CHECKS = [
  { name: "workbench bundle up to date", args: [join(root, "scripts", "workbench-bundle.mjs"), "--check"] },
  { name: "biome check", args: [bin("@biomejs", "biome", "bin", "biome"), "check", "."] },
  tsc("."),
  tsc("test"),
  tsc("test/e2e"),
  tsc("test/browser"),
  tsc("bridges/kafka"),
  // actionlint is built from the Go module proxy into .cache/ on first use (a minute or two, once).
  { name: "actionlint (.github/workflows)", args: [join(root, "scripts", "lint-ci.mjs")] },
];

const results = [];
for (const check of CHECKS) {
  process.stdout.write(`\n--- check: ${check.name} ---\n`);
  const r = spawnSync(node, check.args, { cwd: root, env: toolEnv(), stdio: "inherit" });
  results.push({ name: check.name, ok: r.status === 0 });
}
mkdirSync(join(root, ".tmp"), { recursive: true });
writeFileSync(join(root, ".tmp", "check-results.json"), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write("\n");
for (const r of results) process.stdout.write(`${r.ok ? "ok  " : "FAIL"} ${r.name}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
