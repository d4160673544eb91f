// A local PostgreSQL cluster and Neon's WebSocket proxy (wsproxy) in front of it, so tests and local runs can use
// `@neondatabase/serverless` over its real WebSocket path. Plain Node (no dependencies); progress goes to stderr.
//
// Postgres comes from Debian's `postgresql` package (installed with apt-get when missing) and runs as the
// `postgres` OS user (it refuses root) in a cluster of our own: listening on 127.0.0.1 only, its Unix socket
// inside the data directory, SCRAM password auth for the `coherence` role. The WebSocket proxy is our own, below.
import { spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";

export const DEFAULT_PG_PORT = 54329;
export const DEFAULT_WSPROXY_PORT = 54330;
/** The role, its password and its database that {@link startPostgres} creates. */
export const PG_USER = "coherence";
export const PG_PASSWORD = "coherence";
export const PG_DATABASE = "coherence";
/** Where the wsproxy source is vendored and where its binary is cached. */

const HOST = "127.0.0.1";
const PG_OS_USER = "postgres";
const PG_LIB = "/usr/lib/postgresql";
const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;
const log = (/** @type {string} */ tag, /** @type {string} */ msg) => process.stderr.write(`[${tag}] ${msg}\n`);

/**
 * A cluster started (or reused) by {@link startPostgres}.
 * @typedef {object} RunningPostgres
 * @property {string} url `postgres://coherence:coherence@127.0.0.1:<port>/coherence`
 * @property {number} port
 * @property {string} dataDir
 * @property {() => Promise<void>} stop `pg_ctl -m fast stop`; a no-op when it is not running.
 */
/**
 * The WebSocket proxy started by {@link startWsproxy}.
 * @typedef {object} RunningWsproxy
 * @property {string} url The value for `neonConfig.wsProxy`: `127.0.0.1:<port>/v1` (the driver appends
 *   `?address=<host>:<port>`).
 * @property {number} port
 * @property {() => Promise<void>} stop
 */
/**
 * @typedef {{ asPostgres?: boolean; cwd?: string; env?: NodeJS.ProcessEnv; input?: string; echo?: boolean }} RunOptions
 */

/**
 * Runs a command and resolves with its exit code and output. `asPostgres` runs it as the `postgres` OS user when
 * we are root (via runuser). `echo` forwards its output to stderr as it comes (for long steps such as apt-get).
 * @param {string} cmd
 * @param {string[]} args
 * @param {RunOptions} [opts]
 * @returns {Promise<{ code: number; stdout: string; stderr: string }>}
 */
function run(cmd, args, { asPostgres = false, cwd, env, input, echo = false } = {}) {
  /** @type {[string, string[]]} */
  const [file, argv] = asPostgres && isRoot() ? ["runuser", ["-u", PG_OS_USER, "--", cmd, ...args]] : [cmd, args];
  return new Promise((ok, fail) => {
    const stdin = input === undefined ? "ignore" : "pipe";
    const child = spawn(file, argv, { cwd, env: env ?? process.env, stdio: [stdin, "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
      if (echo) process.stderr.write(d);
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
      if (echo) process.stderr.write(d);
    });
    child.once("error", (err) => fail(new Error(`could not run ${file}: ${err.message}`)));
    child.once("close", (code) => ok({ code: code ?? 1, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on("error", () => {}); // a child that exits before reading its input (the exit code tells)
      child.stdin.end(input);
    }
  });
}

/**
 * @param {string} tag
 * @param {string} cmd
 * @param {string[]} args
 * @param {RunOptions} [opts]
 */
async function mustRun(tag, cmd, args, opts) {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    const output = `${result.stdout}${result.stderr}`.trim();
    throw new Error(`[${tag}] ${cmd} ${args.join(" ")} failed (exit ${result.code})${output ? `:\n${output}` : ""}`);
  }
  return result;
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:port (true), or false after one failed try.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function portAnswers(port) {
  return new Promise((ok) => {
    const socket = connect({ host: HOST, port });
    const done = (/** @type {boolean} */ answered) => {
      socket.destroy();
      ok(answered);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

/** The newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl, or null. */
function findPgBin() {
  if (!existsSync(PG_LIB)) return null;
  const majors = readdirSync(PG_LIB)
    .filter((v) => /^\d+$/.test(v))
    .filter((v) => existsSync(join(PG_LIB, v, "bin", "initdb")) && existsSync(join(PG_LIB, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] !== undefined ? join(PG_LIB, majors[0], "bin") : null;
}

/**
 * Makes sure the PostgreSQL server is installed, installing Debian's `postgresql` with apt-get when it is missing
 * (needs root, as on the project's machines and CI). The package creates and may start a cluster `main` on port
 * 5432 through Debian's wrapper; that one is stopped and set to manual start: we run our own clusters.
 * Returns the server's bin directory.
 */
export async function ensurePostgresInstalled() {
  const found = findPgBin();
  if (found) return found;
  if (!isRoot()) {
    throw new Error(
      "[postgres] PostgreSQL is not installed and we are not root; install it with " +
        "apt-get update && apt-get install -y --no-install-recommends postgresql",
    );
  }
  const started = Date.now();
  log("postgres", "initdb/pg_ctl not found under /usr/lib/postgresql; installing Debian's postgresql (a minute)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Debian's invoke-rc.d asks policy-rc.d whether to start services; 101 means "no" (the usual container setup).
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    log("postgres", "apt-get update");
    await mustRun("postgres", "apt-get", ["update"], { env, echo: true });
    log("postgres", "apt-get install -y --no-install-recommends postgresql");
    await mustRun("postgres", "apt-get", ["install", "-y", "--no-install-recommends", "postgresql"], {
      env,
      echo: true,
    });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  await disableDebianClusters();
  const bin = findPgBin();
  if (!bin) throw new Error("[postgres] apt-get installed postgresql but initdb/pg_ctl are still missing");
  log("postgres", `installed (${bin}) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bin;
}

/** Stops the clusters that Debian's package made (e.g. 15/main on 5432) and keeps them from starting again. */
async function disableDebianClusters() {
  const listed = await run("pg_lsclusters", ["--no-header"]);
  if (listed.code !== 0) return;
  for (const line of listed.stdout.split("\n")) {
    const [version, cluster, port, status] = line.trim().split(/\s+/);
    if (!version || !cluster) continue;
    if (status?.startsWith("online")) {
      log("postgres", `stopping Debian's cluster ${version}/${cluster} on port ${port}`);
      await run("pg_ctlcluster", [version, cluster, "stop"]);
    }
    const startConf = `/etc/postgresql/${version}/${cluster}/start.conf`;
    if (existsSync(startConf)) writeFileSync(startConf, "manual\n");
  }
}

/**
 * The port in a running cluster's postmaster.pid (4th line), or null.
 * @param {string} dataDir
 */
function runningPort(dataDir) {
  try {
    const port = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[3]);
    return Number.isInteger(port) && port > 0 ? port : null;
  } catch {
    return null;
  }
}

/** @param {string} file */
function tail(file, lines = 30) {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

const confString = (/** @type {string} */ s) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;

/**
 * Starts (creating it on first use) a PostgreSQL cluster in `dataDir`, listening on 127.0.0.1:`port` only, with a
 * role and database `coherence` (password `coherence`, SCRAM auth). Reuses an existing cluster in `dataDir`; a
 * cluster already running there on the same port is reused as is. Resolves with its connection URL and `stop()`
 * (`pg_ctl -m fast stop`).
 * @param {{ dataDir: string; port?: number }} opts
 * @returns {Promise<RunningPostgres>}
 */
export async function startPostgres({ dataDir, port = DEFAULT_PG_PORT }) {
  const started = Date.now();
  const bin = await ensurePostgresInstalled();
  const pgCtl = join(bin, "pg_ctl");
  dataDir = resolve(dataDir);
  const logFile = join(dataDir, "server.log");
  // The Unix socket's path (dataDir/.s.PGSQL.<port>) must fit in sockaddr_un (107 bytes).
  if (`${dataDir}/.s.PGSQL.${port}`.length > 100) {
    throw new Error(`[postgres] dataDir path is too long for a Unix socket inside it: ${dataDir}`);
  }

  // Parents get the default mode (the postgres user must be able to search them); only the cluster is 0700.
  // (`recursive` with `mode` would give every created parent 0700 too.)
  mkdirSync(dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    const ids = await mustRun("postgres", "id", ["-u", PG_OS_USER]);
    const gids = await mustRun("postgres", "id", ["-g", PG_OS_USER]);
    const [uid, gid] = [Number(ids.stdout), Number(gids.stdout)];
    const st = statSync(dataDir);
    if (st.uid !== uid) {
      await mustRun("postgres", "chown", ["-R", `${uid}:${gid}`, dataDir]);
    } else if (st.gid !== gid) {
      chownSync(dataDir, uid, gid);
    }
  }
  chmodSync(dataDir, 0o700);
  const pgEnv = { ...process.env, LC_ALL: "C", LANG: "C" };
  const asPg = { asPostgres: true, cwd: dataDir, env: pgEnv };
  if ((await run("test", ["-w", dataDir, "-a", "-x", dataDir], asPg)).code !== 0) {
    throw new Error(
      `[postgres] the ${PG_OS_USER} OS user cannot use ${dataDir}: every folder above it must be searchable by ` +
        "others (chmod o+x), e.g. not inside a mode-0700 temp folder",
    );
  }

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    if (readdirSync(dataDir).length > 0) {
      throw new Error(`[postgres] ${dataDir} is neither empty nor a PostgreSQL cluster; refusing to initdb there`);
    }
    log("postgres", `initdb ${dataDir}`);
    await mustRun(
      "postgres",
      join(bin, "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        PG_OS_USER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
      ],
      asPg,
    );
    // Our own settings live in coherence.conf (rewritten on every start), included last so they win.
    const conf = join(dataDir, "postgresql.conf");
    writeFileSync(conf, `${readFileSync(conf, "utf8")}\ninclude_if_exists = 'coherence.conf'\n`);
    // Local (Unix socket, inside the 0700 data dir) trusts the OS user; TCP needs a SCRAM password.
    writeFileSync(
      join(dataDir, "pg_hba.conf"),
      "# TYPE  DATABASE  USER  ADDRESS       METHOD\nlocal   all       all                 trust\n" +
        "host    all       all   127.0.0.1/32  scram-sha-256\n",
    );
  }

  const current = runningPort(dataDir);
  const alive = (await run(pgCtl, ["-D", dataDir, "status"], asPg)).code === 0;
  if (alive && current !== port) {
    log("postgres", `cluster in ${dataDir} is running on port ${current}; restarting it on ${port}`);
    await mustRun("postgres", pgCtl, ["-D", dataDir, "-m", "fast", "-w", "stop"], asPg);
  }
  if (!alive || current !== port) {
    if (await portAnswers(port)) throw new Error(`[postgres] port ${port} on ${HOST} is already in use`);
    writeFileSync(
      join(dataDir, "coherence.conf"),
      [
        "# Written by scripts/lib/postgres.mjs on every start.",
        `listen_addresses = '${HOST}'`,
        `port = ${port}`,
        `unix_socket_directories = ${confString(dataDir)}`,
        "password_encryption = 'scram-sha-256'",
        "",
      ].join("\n"),
    );
    if (isRoot()) {
      const st = statSync(dataDir);
      for (const f of ["postgresql.conf", "pg_hba.conf", "coherence.conf"]) chownSync(join(dataDir, f), st.uid, st.gid);
    }
    const result = await run(pgCtl, ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"], asPg);
    if (result.code !== 0) {
      throw new Error(
        `[postgres] pg_ctl start failed (exit ${result.code}):\n${result.stdout}${result.stderr}\n` +
          `--- ${logFile} ---\n${tail(logFile)}`,
      );
    }
  }

  // The role and database, once (CREATE DATABASE cannot run inside DO, hence \gexec).
  const sql = [
    `SELECT 'CREATE ROLE ${PG_USER} LOGIN CREATEDB PASSWORD ''${PG_PASSWORD}'''`,
    `  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_USER}') \\gexec`,
    // The owner role creates the Worker's least-privileged roles in migrations, as Neon's owner role can.
    `ALTER ROLE ${PG_USER} CREATEROLE;`,
    `SELECT 'CREATE DATABASE ${PG_DATABASE} OWNER ${PG_USER}'`,
    `  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${PG_DATABASE}') \\gexec`,
    "",
  ].join("\n");
  await mustRun(
    "postgres",
    join(bin, "psql"),
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", dataDir, "-p", String(port), "-U", PG_OS_USER, "-d", "postgres"],
    { ...asPg, input: sql },
  );

  const url = `postgres://${PG_USER}:${PG_PASSWORD}@${HOST}:${port}/${PG_DATABASE}`;
  log("postgres", `ready on ${HOST}:${port} (${dataDir}) in ${Date.now() - started} ms`);
  let stopped = false;
  return {
    url,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      if ((await run(pgCtl, ["-D", dataDir, "status"], asPg)).code !== 0) return;
      await mustRun("postgres", pgCtl, ["-D", dataDir, "-m", "fast", "-w", "stop"], asPg);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket → TCP proxy (what Neon's wsproxy does), in this process.
//
// Neon's wsproxy (Go) cannot be had here: the Go module proxy refuses github.com/neondatabase/wsproxy. Its job is
// small and well defined, so this is our own: accept a WebSocket on /v1?address=host:port, open TCP to that
// address (only the one Postgres allowed), and copy bytes both ways, one binary frame per chunk.

/**
 * The part of `ws` 8 the proxy uses (the package ships no types, and @types/ws is not installed).
 * @typedef {object} WsSocket
 * @property {number} readyState
 * @property {number} OPEN
 * @property {number} CONNECTING
 * @property {(data: Buffer, opts: { binary: boolean }) => void} send
 * @property {() => void} close
 * @property {() => void} terminate
 * @property {((event: "message", fn: (data: Buffer | Buffer[]) => void) => void)
 *   & ((event: "close" | "error", fn: () => void) => void)} on
 */
/**
 * @typedef {{ WebSocketServer: new (opts: { noServer: boolean; perMessageDeflate: boolean }) => {
 *   clients: Set<WsSocket>;
 *   handleUpgrade(req: import("node:http").IncomingMessage, socket: import("node:stream").Duplex, head: Buffer,
 *     cb: (ws: WsSocket) => void): void } }} WsModule
 */
/** A variable, not a literal, so TypeScript does not look for the package's (absent) types; {@link WsModule} says them. */
const WS_PACKAGE = "ws";

/**
 * Starts the proxy on 127.0.0.1:`port`, allowed to reach only 127.0.0.1:`pgPort`. Resolves once listening, with
 * `url`: the value for `neonConfig.wsProxy` (the driver appends `?address=host:port`), and `stop()`.
 * @param {{ pgPort?: number; port?: number; verbose?: boolean }} opts
 * @returns {Promise<RunningWsproxy>}
 */
export async function startWsproxy({ pgPort = DEFAULT_PG_PORT, port = DEFAULT_WSPROXY_PORT, verbose = false }) {
  const { WebSocketServer } = /** @type {WsModule} */ (await import(WS_PACKAGE));
  const { createServer } = await import("node:http");
  const allowed = `${HOST}:${pgPort}`;
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("websocket only\n");
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", `http://${HOST}`);
    const address = url.searchParams.get("address");
    if (url.pathname !== "/v1" || address !== allowed) {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tcp = connect({ host: HOST, port: pgPort });
      sockets.add(tcp);
      if (verbose) log("wsproxy", `connection → ${allowed}`);
      /** @type {Buffer[]} */
      const pending = [];
      tcp.on("connect", () => {
        for (const chunk of pending.splice(0)) tcp.write(chunk);
      });
      ws.on("message", (data) => {
        const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        if (tcp.connecting) pending.push(chunk);
        else tcp.write(chunk);
      });
      tcp.on("data", (chunk) => {
        if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
      });
      const end = () => {
        sockets.delete(tcp);
        tcp.destroy();
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
      };
      ws.on("close", end);
      ws.on("error", end);
      tcp.on("close", end);
      tcp.on("error", end);
    });
  });
  await /** @type {Promise<void>} */ (
    new Promise((ok, fail) => {
      server.once("error", fail);
      server.listen(port, HOST, () => ok());
    })
  );
  log("wsproxy", `ready on ${HOST}:${port} → ${allowed}`);
  return {
    url: `${HOST}:${port}/v1`,
    port,
    async stop() {
      for (const s of sockets) s.destroy();
      for (const c of wss.clients) c.terminate();
      await /** @type {Promise<void>} */ (new Promise((ok) => server.close(() => ok())));
    },
  };
}
