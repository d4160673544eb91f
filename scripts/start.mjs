// `npm start`: installs what is missing, then serves the Worker with wrangler dev (workerd) on 127.0.0.1.
// PORT overrides 8787; COHERENCE_STATE_DIR overrides where Durable Object state persists (.wrangler/state).
// Without UPSTASH_REDIS_REST_URL it also runs the local Upstash (scripts/lib/upstash-dev.mjs in front of
// Debian's redis-server, data under the state directory, so counters persist with the objects).
// Unless IDP=off or the Worker is given token keys of its own (JWT_PUBLIC_KEY / JWT_JWKS_URL), it also runs the
// dev OpenID Provider (scripts/lib/idp.mjs) on 127.0.0.1:IDP_PORT (8788) and the Worker trusts it as it would a
// production IdP: JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE point at it.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDeps } from "./lib/deps.mjs";
import { devKeys } from "./lib/dev-jwt.mjs";
import { root, toolEnv, wranglerDevCommand } from "./lib/env.mjs";
import { DEFAULT_AUDIENCE, DEFAULT_IDP_PORT, idpDir, idpWanted, startIdp } from "./lib/idp.mjs";
import { freePort } from "./lib/net.mjs";
import { redisCommand, startRedis } from "./lib/redis.mjs";
import { explicitSettings, localSettings } from "./lib/settings.mjs";
import { startUpstashDev } from "./lib/upstash-dev.mjs";

ensureDeps();
// The workbench's files are bundled into the Worker: edits to public/workbench/ show after a restart.
execFileSync(process.execPath, [join(root, "scripts", "workbench-bundle.mjs")], { stdio: "inherit" });
const keys = await devKeys();
const settings = localSettings(keys.publicPem);
const port = process.env.PORT ?? "8787";
const stateDir = process.env.COHERENCE_STATE_DIR ?? join(root, ".wrangler", "state");

/** The local Upstash: redis-server (its port kept in the state directory across restarts) + the REST server. */
async function localUpstash() {
  const dataDir = join(stateDir, "redis");
  mkdirSync(dataDir, { recursive: true });
  const portFile = join(dataDir, "port");
  let redisPort = existsSync(portFile) ? Number(readFileSync(portFile, "utf8")) : 0;
  // A Redis left running by a killed `npm start` keeps its port; otherwise take a fresh free one.
  const alive =
    redisPort > 0 && (await redisCommand(redisPort, ["PING"], { timeoutMs: 500 }).catch(() => null)) !== null;
  if (!alive) redisPort = await freePort();
  writeFileSync(portFile, String(redisPort));
  const redis = await startRedis({ dataDir, port: redisPort });
  const upstash = await startUpstashDev({ redisPort: redis.port, port: 0 });
  process.stderr.write(`[start] FinOps counters: local Upstash at ${upstash.url} (redis-server on ${redis.port})\n`);
  const stop = async () => {
    await upstash.stop();
    await redis.stop();
  };
  return { url: upstash.url, token: upstash.token, stop };
}

const sidecar = settings.UPSTASH_REDIS_REST_URL ? null : await localUpstash();
if (sidecar) {
  settings.UPSTASH_REDIS_REST_URL = sidecar.url;
  settings.UPSTASH_REDIS_REST_TOKEN = sidecar.token;
}

const idp = idpWanted(explicitSettings())
  ? await startIdp({
      port: Number(process.env.IDP_PORT ?? DEFAULT_IDP_PORT),
      dir: idpDir(),
      audience: settings.JWT_AUDIENCE || DEFAULT_AUDIENCE,
    })
  : null;
if (idp) {
  delete settings.JWT_PUBLIC_KEY;
  settings.JWT_JWKS_URL = idp.jwksUrl;
  settings.JWT_ISSUER = idp.issuer;
  settings.JWT_AUDIENCE = idp.audience;
}

const { command, args } = wranglerDevCommand({
  port,
  logLevel: process.env.WRANGLER_LOG ?? "log",
  // Local only: GET /__scheduled runs the retention cron on demand (wrangler dev's test hook).
  extraArgs: ["--persist-to", stateDir, "--test-scheduled"],
});
// --var values cannot hold newlines reliably; PEMs travel with literal "\n" (src/config.ts undoes it).
for (const [key, value] of Object.entries(settings))
  args.push("--var", `${key}:${String(value).replace(/\n/g, "\\n")}`);

const child = spawn(command, args, { cwd: root, env: toolEnv(), stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", async (code, signal) => {
  await sidecar?.stop().catch(() => {});
  await idp?.stop().catch(() => {});
  process.exit(code ?? (signal ? 1 : 0));
});
