// Installs dependencies when the lockfile changed since the last install (or on a fresh clone).
// Runs on the system Node (20) before Node 22 exists in node_modules; everything it prints goes to stderr,
// so commands like `npm run token` keep stdout clean.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./env.mjs";

const stampPath = join(root, "node_modules", ".coherence-install-stamp");

function lockHash() {
  return createHash("sha256")
    .update(readFileSync(join(root, "package-lock.json")))
    .digest("hex");
}

/** Runs `npm ci` when node_modules is missing or older than package-lock.json. */
export function ensureDeps() {
  const want = lockHash();
  const have = existsSync(stampPath) ? readFileSync(stampPath, "utf8").trim() : "";
  if (have === want && existsSync(join(root, "node_modules", ".bin", "node"))) return;
  process.stderr.write("[deps] installing dependencies (package-lock.json changed or fresh clone)…\n");
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    stdio: ["ignore", process.stderr, process.stderr],
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  if (result.status !== 0) {
    process.stderr.write("[deps] npm ci failed\n");
    process.exit(result.status ?? 1);
  }
  writeFileSync(stampPath, `${want}\n`);
}
