// Runs wrangler with the project's offline, quiet environment: `node scripts/wrangler.mjs <args>`.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { root, toolEnv } from "./lib/env.mjs";

ensureDeps();
const result = spawnSync(
  join(root, "node_modules", ".bin", "node"),
  [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), ...process.argv.slice(2)],
  { cwd: root, env: toolEnv(), stdio: "inherit" },
);
process.exit(result.status ?? 1);
