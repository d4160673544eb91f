// `npm start`: installs what is missing, then serves the Worker with wrangler dev (workerd) on 127.0.0.1.
// PORT overrides 8787; COHERENCE_STATE_DIR overrides where Durable Object state persists (.wrangler/state).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { devKeys } from "./lib/dev-jwt.mjs";
import { root, toolEnv } from "./lib/env.mjs";
import { localSettings } from "./lib/settings.mjs";

ensureDeps();
const keys = await devKeys();
const settings = localSettings(keys.publicPem);
const port = process.env.PORT ?? "8787";
const stateDir = process.env.COHERENCE_STATE_DIR ?? join(root, ".wrangler", "state");

const args = [
  join(root, "node_modules", "wrangler", "bin", "wrangler.js"),
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  port,
  "--persist-to",
  stateDir,
  "--show-interactive-dev-session=false",
  // Local only: GET /__scheduled runs the retention cron on demand (wrangler dev's test hook).
  "--test-scheduled",
  "--log-level",
  process.env.WRANGLER_LOG ?? "log",
];
// --var values cannot hold newlines reliably; PEMs travel with literal "\n" (src/config.ts undoes it).
for (const [key, value] of Object.entries(settings))
  args.push("--var", `${key}:${String(value).replace(/\n/g, "\\n")}`);

const child = spawn(join(root, "node_modules", ".bin", "node"), args, { cwd: root, env: toolEnv(), stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
