// A local Redis for the Upstash dev server (scripts/lib/upstash-dev.mjs) and the tests, plus the small RESP2
// client both use. Plain Node (no dependencies); progress goes to stderr.
//
// Redis comes from Debian's `redis-server` package (installed with apt-get when missing). We run our own server,
// not Debian's service: a child of this process, on 127.0.0.1 only, its files in `dataDir`. The counters it holds
// must not be lost, so persistence is the append-only file with `appendfsync always`: Redis fsyncs the AOF before
// it answers a write (one fsync per event-loop turn, shared by every write in that turn), which is what Upstash
// promises ("every write operation is stored in both memory and the block storage"). `everysec` would survive a
// killed process too, but not a power loss or kernel crash (up to a second, or two when the disk lags), and the
// cost of `always` does not matter at a dev server's volume. No RDB snapshots: the AOF is the one copy.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { redisCommand } from "./resp.mjs";

export { encodeCommands, parseReply, RedisConnection, redisCommand } from "./resp.mjs";

export const DEFAULT_REDIS_PORT = 56379;

const HOST = "127.0.0.1";
const REDIS_SERVER = "/usr/bin/redis-server";
const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;
const log = (/** @type {string} */ tag, /** @type {string} */ msg) => process.stderr.write(`[${tag}] ${msg}\n`);
const sleep = (/** @type {number} */ ms) => new Promise((ok) => setTimeout(ok, ms));

/** @typedef {import("./resp.mjs").RedisReply} RedisReply */
/** @typedef {import("./resp.mjs").RedisCommand} RedisCommand */

/**
 * A Redis server started (or reused) by {@link startRedis}.
 * @typedef {object} RunningRedis
 * @property {number} port
 * @property {string} url `redis://127.0.0.1:<port>`
 * @property {string} dataDir The real path of the data directory (AOF in `appendonlydir/`, `redis.conf`, `redis.log`).
 * @property {number} pid The redis-server process id.
 * @property {Promise<{ code: number | null; signal: NodeJS.Signals | null }>} exited Settles when the process
 *   exits, for whatever reason (signal and code unknown for a reused server).
 * @property {() => Promise<void>} stop SHUTDOWN and wait for the exit (SIGKILL after 10 s); a no-op once it has
 *   exited or when it was reused.
 */

// ---------------------------------------------------------------------------------------------------------------
// The server

/**
 * Runs a command; resolves with its exit code and output (echoed to stderr as it comes when `echo`).
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv; echo?: boolean }} [opts]
 * @returns {Promise<{ code: number; output: string }>}
 */
function run(cmd, args, { env, echo = false } = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (/** @type {Buffer} */ d) => {
      output += d;
      if (echo) process.stderr.write(d);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("error", (err) => fail(new Error(`could not run ${cmd}: ${err.message}`)));
    child.once("close", (code) => ok({ code: code ?? 1, output }));
  });
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv; echo?: boolean }} [opts]
 */
async function mustRun(cmd, args, opts) {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    const output = result.output.trim();
    throw new Error(`[redis] ${cmd} ${args.join(" ")} failed (exit ${result.code})${output ? `:\n${output}` : ""}`);
  }
}

/**
 * Makes sure `redis-server` is installed, installing Debian's `redis-server` with apt-get when it is missing
 * (needs root, as on the project's machines and CI). The package's own service (port 6379) is kept from
 * starting and disabled: we run our own servers. Returns the server's path.
 */
export async function ensureRedisInstalled() {
  if (existsSync(REDIS_SERVER)) return REDIS_SERVER;
  if (!isRoot()) {
    throw new Error(
      "[redis] redis-server is not installed and we are not root; install it with " +
        "apt-get update && apt-get install -y --no-install-recommends redis-server",
    );
  }
  const started = Date.now();
  log("redis", `${REDIS_SERVER} not found; installing Debian's redis-server…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Debian's invoke-rc.d asks policy-rc.d whether to start services; 101 means "no" (the usual container setup).
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    log("redis", "apt-get update");
    await mustRun("apt-get", ["-q", "update"], { env, echo: true });
    log("redis", "apt-get install -y --no-install-recommends redis-server");
    await mustRun("apt-get", ["-q", "install", "-y", "--no-install-recommends", "redis-server"], { env, echo: true });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  // Under systemd the package enables its service for the next boot; we never use it.
  if (existsSync("/run/systemd/system")) await run("systemctl", ["disable", "--now", "redis-server"]);
  if (!existsSync(REDIS_SERVER))
    throw new Error(`[redis] apt-get installed redis-server but ${REDIS_SERVER} is missing`);
  log("redis", `installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return REDIS_SERVER;
}

/**
 * Whether `pid` is a live redis-server (not a zombie, not another program that got the number).
 * @param {number} pid
 */
function isRedisAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    return stat.slice(stat.indexOf("(") + 1, close) === "redis-server" && stat[close + 2] !== "Z";
  } catch {
    return false;
  }
}

/** @param {string} file */
function tail(file, lines = 20) {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

const confString = (/** @type {string} */ s) => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
const text = (/** @type {RedisReply} */ reply) =>
  Buffer.isBuffer(reply) ? reply.toString("utf8") : JSON.stringify(reply);

/**
 * The data directory of whatever Redis answers on `port`, or null when nothing does.
 * @param {number} port
 */
async function servedDir(port) {
  try {
    const reply = await redisCommand(port, ["CONFIG", "GET", "dir"], { timeoutMs: 1000 });
    return Array.isArray(reply) && Buffer.isBuffer(reply[1]) ? reply[1].toString("utf8") : "?";
  } catch {
    return null;
  }
}

// Children still running when this process exits get SIGTERM (Redis then shuts down cleanly).
/** @type {Set<import("node:child_process").ChildProcess>} */
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGTERM");
});

/**
 * Starts `redis-server` as a child of this process, on 127.0.0.1:`port` only, with its files (config, AOF, log,
 * pid file) in `dataDir` and the AOF persistence above. Resolves once it answers with `{ port, url, dataDir,
 * pid, exited, stop() }`. When our Redis of `dataDir` already runs on `port` (another process's), that one is used and
 * `stop()` leaves it alone; on another port, this fails rather than run two servers on one AOF.
 * @param {{ dataDir: string; port?: number }} opts
 * @returns {Promise<RunningRedis>}
 */
export async function startRedis({ dataDir, port = DEFAULT_REDIS_PORT }) {
  const started = Date.now();
  const bin = await ensureRedisInstalled();
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  dataDir = realpathSync(resolve(dataDir)); // what Redis reports as its `dir`
  const conf = join(dataDir, "redis.conf");
  const logFile = join(dataDir, "redis.log");
  const pidFile = join(dataDir, "redis.pid");
  const url = `redis://${HOST}:${port}`;

  const runningPid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
  if (runningPid > 0 && isRedisAlive(runningPid)) {
    if ((await servedDir(port)) === dataDir) {
      log("redis", `reusing the Redis already running on ${HOST}:${port} (${dataDir}, pid ${runningPid})`);
      /** @type {RunningRedis["exited"]} */
      const exited = new Promise((ok) => {
        const timer = setInterval(() => {
          if (isRedisAlive(runningPid)) return;
          clearInterval(timer);
          ok({ code: null, signal: null });
        }, 200).unref();
      });
      return { port, url, dataDir, pid: runningPid, exited, stop: async () => {} };
    }
    throw new Error(`[redis] a Redis (pid ${runningPid}) already runs in ${dataDir}, not on port ${port}`);
  }
  const other = await servedDir(port);
  if (other !== null) throw new Error(`[redis] port ${port} on ${HOST} is already in use (a Redis of ${other})`);

  writeFileSync(
    conf,
    [
      "# Written by scripts/lib/redis.mjs on every start.",
      `bind ${HOST}`,
      `port ${port}`,
      "protected-mode yes", // loopback clients need no password; nothing else can reach us anyway
      "daemonize no",
      `dir ${confString(dataDir)}`,
      `pidfile ${confString(pidFile)}`,
      `logfile ${confString(logFile)}`,
      'save ""',
      "appendonly yes",
      "appendfsync always",
      "",
    ].join("\n"),
  );

  const child = spawn(bin, [conf], { cwd: dataDir, stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  /** @type {RunningRedis["exited"]} */
  const exited = new Promise((ok) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      ok({ code, signal });
    });
  });
  child.once("error", (err) => {
    stderr += `could not run ${bin}: ${err.message}`;
  });

  const failed = (/** @type {string} */ why) =>
    new Error(`[redis] ${why}\n${stderr.trim()}\n--- ${logFile} ---\n${tail(logFile)}`.trimEnd());
  for (let waited = 0; ; waited += 50) {
    if (child.exitCode !== null || child.signalCode !== null) throw failed("redis-server exited while starting");
    if ((await servedDir(port)) === dataDir) break;
    if (waited > 10_000) {
      child.kill("SIGKILL");
      throw failed(`redis-server did not answer on ${HOST}:${port} within 10 s`);
    }
    await sleep(50);
  }
  log("redis", `ready on ${HOST}:${port} (${dataDir}) in ${Date.now() - started} ms`);

  return {
    port,
    url,
    dataDir,
    pid: /** @type {number} */ (child.pid), // defined: the server answered, so the spawn succeeded
    exited,
    /** SHUTDOWN (the AOF is already on disk); SIGKILL if it has not exited after 10 s. Idempotent. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const reply = await redisCommand(port, ["SHUTDOWN"]).catch(() => null); // success: closed, no reply
      if (reply !== null) log("redis", `SHUTDOWN answered ${text(reply)}`);
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
