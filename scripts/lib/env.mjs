// Environment for every tool the project runs: wrangler offline and quiet, its config and temp files inside
// the project. Plain Node (no dependencies) so it also runs on the system Node before `npm ci`.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "..", "..");
export const bin = (/** @type {string} */ name) => join(root, "node_modules", ".bin", name);

/**
 * Process environment for child tools.
 * @param {Record<string, string>} [extra]
 * @returns {NodeJS.ProcessEnv}
 */
export function toolEnv(extra = {}) {
  const tmp = join(root, ".tmp");
  mkdirSync(join(tmp, "xdg"), { recursive: true });
  return {
    ...process.env,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    // wrangler dev's local observability collector stores every invocation's tail events on disk for its local
    // explorer: a local-dev cost production does not have, and on this stack the largest one (bench/RESULTS.md,
    // "cost of each layer"). Off unless asked for (X_LOCAL_OBSERVABILITY=true npm start).
    X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
    XDG_CONFIG_HOME: join(tmp, "xdg"),
    TMPDIR: tmp,
    PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
    ...extra,
  };
}

/**
 * The command that serves a Worker with `wrangler dev` on loopback under the project's Node 22: `npm start` and
 * the bench's baseline Worker run exactly this, so their figures compare like with like.
 * @param {{ port: number | string, logLevel?: string, extraArgs?: string[] }} opts
 * @returns {{ command: string, args: string[] }}
 */
export function wranglerDevCommand({ port, logLevel = "log", extraArgs = [] }) {
  return {
    command: join(root, "node_modules", ".bin", "node"),
    args: [
      join(root, "node_modules", "wrangler", "bin", "wrangler.js"),
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--show-interactive-dev-session=false",
      "--log-level",
      logLevel,
      ...extraArgs,
    ],
  };
}
