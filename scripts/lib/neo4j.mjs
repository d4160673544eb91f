// A real Neo4j 5.26 Community server for tests and local runs, from Maven Central's Neo4j test harness
// (tools/neo4j-harness). Plain Node (built-ins only, Node 20 and 22); everything it prints goes to stderr.
//
// First use builds the launcher with Maven into .cache/ (gitignored): the jars land in .cache/m2, the build in
// .cache/neo4j-harness. Later starts are a plain `java` command with no Maven. The first start after a build
// also records a class-data-sharing archive (.cache/neo4j-harness/app.jsa) when the server stops; starts that
// find it take a few seconds instead of ten to twenty.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { supervise } from "./child.mjs";
import { root } from "./env.mjs";
import { withDirLock } from "./lock.mjs";

const projectDir = join(root, "tools", "neo4j-harness");
const cacheDir = join(root, ".cache");
const m2Dir = join(cacheDir, "m2");
const outDir = join(cacheDir, "neo4j-harness");
const stampPath = join(outDir, "build.stamp");
const jarPath = join(outDir, "target", "neo4j-harness-launcher-1.0.0.jar");
const classpathPath = join(outDir, "classpath.txt");
const cdsPath = join(outDir, "app.jsa");
const lockDir = join(cacheDir, "neo4j-harness.lock");

const MAIN_CLASS = "dev.coherence.neo4jharness.Neo4jHarnessMain";
/** The password the launcher sets for user neo4j (Neo4j wants at least 8 characters). */
export const NEO4J_TEST_USER = "neo4j";
export const NEO4J_TEST_PASSWORD = "coherence-test";

/**
 * A running Neo4j started by {@link startNeo4j}.
 * @typedef {object} RunningNeo4j
 * @property {string} httpUrl `http://127.0.0.1:<port>`; the Query API is `POST {httpUrl}/db/{database}/query/v2`.
 * @property {string} boltUrl `bolt://127.0.0.1:<port>`
 * @property {string} user Basic auth: user `neo4j`.
 * @property {string} password
 * @property {string} database Always `neo4j` (Community has one user database).
 * @property {number} pid The JVM's process id.
 * @property {() => string} output What the JVM printed.
 * @property {Promise<import("./child.mjs").ChildExit>} exited Settles when the JVM exits, for whatever reason.
 * @property {() => Promise<void>} stop Stops the JVM (SIGTERM, SIGKILL after 60 s) and removes the store directory
 *   it made.
 */

const log = (/** @type {string} */ msg) => process.stderr.write(`[neo4j] ${msg}\n`);
const javaBin = () => (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java");
const sleep = (/** @type {number} */ ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * @param {string} dir
 * @returns {string[]}
 */
function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Hash of what the build depends on: pom.xml, the Java sources and the JVM (a CDS archive fits one JVM). */
function buildHash() {
  const hash = createHash("sha256");
  const files = [join(projectDir, "pom.xml"), ...listFiles(join(projectDir, "src")).sort()];
  for (const file of files) hash.update(file.slice(projectDir.length)).update("\0").update(readFileSync(file));
  const java = spawnSync(javaBin(), ["-version"], { encoding: "utf8" });
  if (java.error || java.status !== 0) {
    throw new Error(
      `[neo4j] cannot run ${javaBin()} -version: install a JDK 17 or 21 (apt-get install openjdk-17-jdk)`,
    );
  }
  hash.update(java.stderr);
  return hash.digest("hex");
}

/**
 * The build is current when its stamp matches and the jar and every jar of the recorded classpath exist: the
 * classpath holds absolute paths into the Maven repository, which is gone when .cache/ was copied from another
 * checkout or the repository was cleaned.
 * @param {string} want
 */
function isBuilt(want) {
  if (!existsSync(stampPath) || readFileSync(stampPath, "utf8").trim() !== want) return false;
  if (!existsSync(jarPath) || !existsSync(classpathPath)) return false;
  const entries = readFileSync(classpathPath, "utf8").trim().split(":").filter(Boolean);
  return entries.length > 0 && entries.every((entry) => existsSync(entry));
}

/** @returns {Promise<void>} */
function runMaven() {
  return new Promise((ok, fail) => {
    const args = ["-q", "-B", "-Dstyle.color=never", `-Dmaven.repo.local=${m2Dir}`, "package"];
    const child = spawn("mvn", args, { cwd: projectDir, stdio: ["ignore", process.stderr, process.stderr] });
    child.on("error", (err) =>
      fail(new Error(`[neo4j] could not run mvn (${err.message}); install Maven: apt-get install maven`)),
    );
    child.on("exit", (code) =>
      code === 0 ? ok() : fail(new Error(`[neo4j] mvn ${args.join(" ")} failed (exit ${code}) in ${projectDir}`)),
    );
  });
}

/**
 * Builds tools/neo4j-harness with Maven when pom.xml, the sources or the JVM changed since the last build (or on a
 * fresh clone). Returns the `java` classpath. Needs Maven Central the first time only.
 */
export async function ensureNeo4jHarness() {
  const want = buildHash();
  if (!isBuilt(want)) {
    await withDirLock(
      lockDir,
      async () => {
        if (isBuilt(want)) return; // another process built it while we waited
        const started = Date.now();
        log(
          existsSync(m2Dir)
            ? "building the Neo4j harness launcher with Maven…"
            : "building the Neo4j harness launcher with Maven; the first build downloads about 190 MB from Maven Central…",
        );
        rmSync(stampPath, { force: true });
        rmSync(cdsPath, { force: true });
        await runMaven();
        if (!existsSync(jarPath) || !existsSync(classpathPath)) {
          throw new Error(`[neo4j] Maven finished but ${jarPath} or ${classpathPath} is missing`);
        }
        writeFileSync(stampPath, `${want}\n`);
        log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      },
      { waitMs: 20 * 60_000, what: "the Neo4j harness build lock" },
    );
  }
  return `${jarPath}:${readFileSync(classpathPath, "utf8").trim()}`;
}

/**
 * @param {string} url
 * @param {number} deadline
 */
async function waitForHttp(url, deadline) {
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(200);
  }
  throw new Error(`[neo4j] ${url} did not answer in time (${last})`);
}

/**
 * Starts Neo4j 5.26 Community (Neo4j's in-process test harness in a child JVM) with the HTTP connector (Query API:
 * `POST {httpUrl}/db/{database}/query/v2`) and Bolt, both on 127.0.0.1 only. Basic auth is on: user `neo4j`,
 * password {@link NEO4J_TEST_PASSWORD}.
 *
 * @param {{ httpPort?: number, boltPort?: number, dataDir?: string, timeoutMs?: number, profile?: "test" | "server" }} [opts]
 *   Ports default to 0: any free port (the returned URLs carry the real ones). `dataDir` is where the store goes
 *   (the harness makes a random sub-directory and deletes it on a clean stop); by default a fresh directory under
 *   .tmp/ that stop() removes. `timeoutMs` bounds the start after the build (default 180 s). `profile`: "test" (default)
 *   starts fast for a short-lived test server (C1 compiler only, 512 MB heap); "server" runs the JVM as a user would
 *   run a database (its normal optimizing compiler, a 2 GB heap): `npm run services` and the sinks benchmark.
 * @returns {Promise<RunningNeo4j>}
 */
export async function startNeo4j({ httpPort = 0, boltPort = 0, dataDir, timeoutMs = 180_000, profile = "test" } = {}) {
  const classpath = await ensureNeo4jHarness();
  /** @type {string | undefined} */
  let ownDataDir;
  if (!dataDir) {
    mkdirSync(join(root, ".tmp"), { recursive: true });
    ownDataDir = mkdtempSync(join(root, ".tmp", "neo4j-"));
  }
  const storeDir = dataDir ?? /** @type {string} */ (ownDataDir);
  mkdirSync(storeDir, { recursive: true });

  // Test profile: C1 only and class-data sharing, for a server that lives for one test run (start-up time is what
  // counts). Server profile: the JVM's normal tiered compiler and a 2 GB heap — on this machine ×2–2.5 the
  // throughput of the test profile once warm, at a slower start.
  const recordCds = !existsSync(cdsPath);
  const cdsTmp = `${cdsPath}.${process.pid}.tmp`;
  const jvmArgs = [
    ...(profile === "server" ? ["-Xms2g", "-Xmx2g"] : ["-Xms128m", "-Xmx512m", "-XX:TieredStopAtLevel=1"]),
    "-XX:+ExitOnOutOfMemoryError",
    // JVM warnings (e.g. a CDS archive from another JVM) to stderr, so stdout carries only the READY line.
    "-Xlog:disable",
    "-Xlog:all=warning:stderr",
    recordCds ? `-XX:ArchiveClassesAtExit=${cdsTmp}` : `-XX:SharedArchiveFile=${cdsPath}`,
    "-Dfile.encoding=UTF-8",
    ...(process.env.NEO4J_JAVA_OPTS ?? "").split(/\s+/).filter(Boolean),
  ];
  const args = [
    ...jvmArgs,
    "-cp",
    classpath,
    MAIN_CLASS,
    "--http-port",
    String(httpPort),
    "--bolt-port",
    String(boltPort),
    "--data-dir",
    storeDir,
    "--password",
    NEO4J_TEST_PASSWORD,
    "--exit-on-stdin-close",
  ];
  const started = Date.now();
  log(
    `starting Neo4j (HTTP ${httpPort || "any port"}, Bolt ${boltPort || "any port"})${recordCds ? "; recording a class-data archive for faster later starts" : ""}…`,
  );
  const child = spawn(javaBin(), args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  const proc = supervise(child);
  child.on("error", (err) => {
    output += `spawn error: ${err.message}\n`;
  });
  child.stderr.on("data", (d) => {
    output += d;
    if (process.env.NEO4J_VERBOSE) process.stderr.write(d);
  });

  const stop = async () => {
    // A clean stop takes a second or two; recording the CDS archive adds a few more.
    const result = await proc.terminate(60_000, () => child.stdin.end());
    if (result) {
      const { code } = result;
      if (recordCds && existsSync(cdsTmp)) {
        // Keep the archive only when the JVM exited by itself (0, or 130/143 after SIGINT/SIGTERM); a SIGKILL
        // may have cut it short.
        if (code !== null) renameSync(cdsTmp, cdsPath);
        else rmSync(cdsTmp, { force: true });
      }
    }
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
  };

  try {
    /** @type {{ httpUrl: string; boltUrl: string }} */
    const ready = await new Promise((ok, fail) => {
      const lines = createInterface({ input: child.stdout });
      const timer = setTimeout(() => fail(new Error(`[neo4j] no NEO4J_READY line within ${timeoutMs} ms`)), timeoutMs);
      lines.on("line", (line) => {
        output += `${line}\n`;
        const m = /^NEO4J_READY (\S+) (\S+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          ok({ httpUrl: String(m[1]), boltUrl: String(m[2]) });
        }
      });
      proc.exit.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`[neo4j] the harness exited (${signal ?? `code ${code}`}) before it was ready`));
      });
    });
    await waitForHttp(`${ready.httpUrl}/`, started + timeoutMs);
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${ready.httpUrl} ${ready.boltUrl}`);
    return {
      ...ready,
      user: NEO4J_TEST_USER,
      password: NEO4J_TEST_PASSWORD,
      database: "neo4j",
      pid: /** @type {number} */ (child.pid), // defined: the JVM printed its READY line
      output: () => output,
      exited: proc.exit,
      stop,
    };
  } catch (err) {
    await stop();
    process.stderr.write(output.slice(-4000));
    throw err;
  }
}
