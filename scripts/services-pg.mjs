// Local PostgreSQL plus Neon's wsproxy, for running against `@neondatabase/serverless` by hand:
//   node scripts/services-pg.mjs [--pg-port 54329] [--ws-port 54330] [--data-dir .cache/pg] [--verbose]
// Prints DATABASE_URL and the neonConfig.wsProxy value, and stops both on Ctrl-C (SIGINT) or SIGTERM.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_PG_PORT, DEFAULT_WSPROXY_PORT, startPostgres, startWsproxy } from "./lib/postgres.mjs";

const root = resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    "pg-port": { type: "string", default: String(DEFAULT_PG_PORT) },
    "ws-port": { type: "string", default: String(DEFAULT_WSPROXY_PORT) },
    "data-dir": { type: "string", default: join(root, ".cache", "pg") },
    verbose: { type: "boolean", default: false },
  },
});

// On a fresh machine this installs Debian's postgresql first (about half a minute).
const pg = await startPostgres({ dataDir: values["data-dir"], port: Number(values["pg-port"]) });
let ws;
try {
  ws = await startWsproxy({ pgPort: pg.port, port: Number(values["ws-port"]), verbose: values.verbose });
} catch (err) {
  await pg.stop();
  throw err;
}

process.stdout.write(
  [
    `DATABASE_URL=${pg.url}`,
    `NEON_WS_PROXY=${ws.url}`,
    "",
    "With @neondatabase/serverless (Pool/Client):",
    `  neonConfig.wsProxy = "${ws.url}";  // the driver appends ?address=<host>:<port>`,
    "  neonConfig.useSecureWebSocket = false;",
    "  neonConfig.pipelineConnect = false;",
    '  neonConfig.webSocketConstructor = ws;  // import ws from "ws"',
    `psql: psql ${pg.url}`,
    "Ctrl-C stops both.",
    "",
  ].join("\n"),
);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[services-pg] ${signal}: stopping wsproxy and postgres\n`);
  await ws.stop();
  await pg.stop();
  process.exit(0);
}
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGHUP", () => shutdown("SIGHUP"));
