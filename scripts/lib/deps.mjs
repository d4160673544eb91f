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

/** Installs dependencies when node_modules is missing or older than package-lock.json. */
export function ensureDeps() {
  const want = lockHash();
  const have = existsSync(stampPath) ? readFileSync(stampPath, "utf8").trim() : "";
  if (have === want && existsSync(join(root, "node_modules", ".bin", "node"))) return;
  // A fresh clone gets `npm ci`; an existing tree gets `npm install`, which updates it in place instead of
  // deleting node_modules under processes (servers, test runners) that are using it.
  const fresh = !existsSync(join(root, "node_modules", ".bin", "node"));
  process.stderr.write(`[deps] ${fresh ? "installing" : "updating"} dependencies (package-lock.json changed)…\n`);
  const result = spawnSync("npm", [fresh ? "ci" : "install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    stdio: ["ignore", process.stderr, process.stderr],
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  if (result.status !== 0) {
    process.stderr.write("[deps] npm failed\n");
    process.exit(result.status ?? 1);
  }
  writeFileSync(stampPath, `${want}\n`);
}
