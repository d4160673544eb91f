// `npm run fuzz -- --runs N --seed S`: the long fuzz run. Runs the protocol-machine fuzz (test/unit/protocol-fuzz.test.ts)
// and the end-to-end fuzz against `npm start` (test/e2e/fuzz.test.ts) with FUZZ_RUNS=N and FUZZ_SEED=S. Without
// --seed a fresh seed is drawn, so each long run explores new cases; the seed is printed first and last, and
// `npm run fuzz -- --runs N --seed S` replays a run exactly. CI runs the same tests with their fixed defaults.
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureDeps } from "./lib/deps.mjs";
import { root, toolEnv } from "./lib/env.mjs";

const DEFAULT_RUNS = 50_000;

function usage(problem) {
  process.stderr.write(`${problem}\nusage: npm run fuzz -- [--runs N] [--seed S] [--only unit|e2e]\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: { runs: { type: "string" }, seed: { type: "string" }, only: { type: "string" } },
    strict: true,
  }));
} catch (err) {
  usage(err.message);
}
const runs = values.runs === undefined ? DEFAULT_RUNS : Number(values.runs);
if (!Number.isSafeInteger(runs) || runs < 1) usage(`--runs must be a positive integer, not ${values.runs}`);
// fast-check seeds are 32-bit integers.
const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(seed) || Math.abs(seed) >= 2 ** 31)
  usage(`--seed must be a 32-bit integer, not ${values.seed}`);
if (values.only !== undefined && !["unit", "e2e"].includes(values.only)) usage(`--only must be unit or e2e`);

ensureDeps();
const node = join(root, "node_modules", ".bin", "node");
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const env = toolEnv({ FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed) });
process.stdout.write(`fuzz: seed ${seed}, ${runs} runs per suite\n`);

const suites = [
  ["unit", "test/unit/protocol-fuzz.test.ts"],
  ["e2e", "test/e2e/fuzz.test.ts"],
].filter(([project]) => values.only === undefined || values.only === project);
let ok = true;
for (const [project, file] of suites) {
  process.stdout.write(`\n=== ${project}: ${file} ===\n`);
  const r = spawnSync(node, [vitest, "run", "--project", project, file], { cwd: root, env, stdio: "inherit" });
  ok = r.status === 0 && ok;
}
process.stdout.write(
  `\nfuzz ${ok ? "passed" : "FAILED"}: seed ${seed}, ${runs} runs; replay: npm run fuzz -- --runs ${runs} --seed ${seed}\n`,
);
process.exit(ok ? 0 : 1);
