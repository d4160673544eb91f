// `npm run check`: every static check of the project, each run even when one before it failed, so one run lists
// every problem. Exits 1 when any check failed. Writes `.tmp/check.json` (one entry per check) for `npm test`'s
// summary, where each check counts as one test.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root, toolEnv } from "./lib/env.mjs";

const node = join(root, "node_modules", ".bin", "node");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const biome = join(root, "node_modules", "@biomejs", "biome", "bin", "biome");

/** @type {Array<[name: string, args: string[]]>} each run with the project's Node 22 */
const CHECKS = [
  ["workbench bundle up to date", [join(root, "scripts", "workbench-bundle.mjs"), "--check"]],
  ["biome (format + lint)", [biome, "check", "."]],
  ["tsc: worker", [tsc, "-p", "."]],
  ["tsc: unit and integration tests", [tsc, "-p", "test"]],
  ["tsc: e2e tests", [tsc, "-p", "test/e2e"]],
  ["tsc: browser tests", [tsc, "-p", "test/browser"]],
  ["tsc: kafka bridge", [tsc, "-p", "bridges/kafka"]],
  // @coherence/client: its SDL, manifest and operation types match the service's (a schema change that breaks a
  // registered operation fails here), then its code typechecks against them without Node or Worker types.
  ["client: SDL, manifest and operation types up to date", [join(root, "scripts", "client-codegen.mjs"), "--check"]],
  ["tsc: client package", [tsc, "-p", "packages/client"]],
  ["tsc: client tests", [tsc, "-p", "packages/client/test"]],
  // The Node scripts' JSDoc types (what the tests import from scripts/ is typed there, nowhere else).
  ["tsc: scripts (JSDoc)", [tsc, "-p", "scripts"]],
  // .github/workflows/*.yml (actionlint is built from the Go module proxy into .cache/ on first use).
  ["actionlint (CI workflow)", [join(root, "scripts", "lint-ci.mjs")]],
];

const env = toolEnv();
/** @type {Array<{ name: string; ok: boolean; exit: number | null; seconds: number }>} */
const checks = [];
for (const [name, args] of CHECKS) {
  process.stdout.write(`\n--- check: ${name}\n`);
  const started = Date.now();
  const r = spawnSync(node, args, { cwd: root, env, stdio: "inherit" });
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  checks.push({ name, ok: r.status === 0, exit: r.status, seconds });
}

mkdirSync(join(root, ".tmp"), { recursive: true });
writeFileSync(join(root, ".tmp", "check.json"), `${JSON.stringify({ checks }, null, 2)}\n`);
const failed = checks.filter((c) => !c.ok);
process.stdout.write(`\n${checks.map((c) => `${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.seconds} s)`).join("\n")}\n`);
process.stdout.write(
  failed.length === 0 ? `check: all ${checks.length} passed\n` : `check: ${failed.length} of ${checks.length} FAILED\n`,
);
process.exit(failed.length === 0 ? 0 : 1);
