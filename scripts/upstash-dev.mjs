// Local Upstash Redis (REST) for trying things by hand: a Redis (Debian's, installed with apt on first use) and the
// REST dev server in front of it, both on 127.0.0.1:
//   node scripts/upstash-dev.mjs [--port 56380] [--redis-port 56379] [--data-dir .cache/upstash-dev] [--token T]
//                                [--verbose]
// Prints UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, and stops both on Ctrl-C (SIGINT) or SIGTERM.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_REDIS_PORT, startRedis } from "./lib/redis.mjs";
import { DEFAULT_UPSTASH_DEV_PORT, startUpstashDev } from "./lib/upstash-dev.mjs";

const root = resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    port: { type: "string", default: String(DEFAULT_UPSTASH_DEV_PORT) },
    "redis-port": { type: "string", default: String(DEFAULT_REDIS_PORT) },
    "data-dir": { type: "string", default: join(root, ".cache", "upstash-dev") },
    token: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

const redis = await startRedis({ dataDir: values["data-dir"], port: Number(values["redis-port"]) });
let rest;
try {
  rest = await startUpstashDev({
    redisPort: redis.port,
    port: Number(values.port),
    token: values.token ?? process.env.UPSTASH_REDIS_REST_TOKEN ?? "upstash-dev-token",
    verbose: values.verbose,
  });
} catch (err) {
  await redis.stop();
  throw err;
}

process.stdout.write(
  [
    `UPSTASH_REDIS_REST_URL=${rest.url}`,
    `UPSTASH_REDIS_REST_TOKEN=${rest.token}`,
    "",
    `Try: curl -s ${rest.url}/incr/hello -H "authorization: Bearer ${rest.token}"`,
    `Redis itself: redis-cli -p ${redis.port} (data in ${redis.dataDir}). Ctrl-C stops both.`,
    "",
  ].join("\n"),
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[upstash-dev] ${signal}: stopping the REST server and Redis\n`);
    await rest.stop();
    await redis.stop();
    process.exit(0);
  });
}
