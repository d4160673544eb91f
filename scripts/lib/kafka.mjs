// A real Apache Kafka 4.1 broker for tests, benchmarks and local runs: KRaft combined mode (one process is both
// broker and controller), from Maven Central's jars. Plain Node (built-ins only, Node 20 and 22); everything it
// prints goes to stderr.
//
// First use downloads the broker's runtime jars (~45 MB, the closure of org.apache.kafka:kafka_2.13 plus an SLF4J →
// Log4j 2 binding so the broker's own log reaches us) into .cache/kafka-<version>/lib (gitignored). Each jar is
// pinned here by its SHA-1 (the value Maven Central publishes beside it, checked again at download time), so a later
// start is a plain `java` command with no network. Jars already in the Maven cache the Neo4j harness uses
// (.cache/m2) are copied instead of downloaded. No Maven, no Docker.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { supervise } from "./child.mjs";
import { root } from "./env.mjs";
import { withDirLock } from "./lock.mjs";
import { freePort } from "./net.mjs";

export const KAFKA_VERSION = "4.1.1";

/**
 * The broker's runtime classpath: `mvn dependency:list -DincludeScope=runtime` of org.apache.kafka:kafka_2.13:4.1.1
 * (45 jars), plus log4j-slf4j-impl (the binding Kafka's own distribution ships). [groupId, artifactId, version, sha1]
 * — the SHA-1s are Maven Central's `.jar.sha1` files. Regenerate the list when KAFKA_VERSION changes.
 * @typedef {[groupId: string, artifactId: string, version: string, sha1: string]} Jar
 * @type {Jar[]}
 */
const JARS = [
  ["com.dynatrace.hash4j", "hash4j", "0.22.0", "2d61bfb5b38469cb76141b06dc68d36a9007e9ad"],
  ["com.fasterxml.jackson.core", "jackson-annotations", "2.19.0", "fd1e7c56de1e5b658563c8c66d5074cceb4e3a0b"],
  ["com.fasterxml.jackson.core", "jackson-core", "2.19.0", "a90640e59ea42632a8e331ff1d6b706cf306050a"],
  ["com.fasterxml.jackson.core", "jackson-databind", "2.19.0", "b3f7506f6414fb04760561eec11a0880165c2a4a"],
  ["com.fasterxml.jackson.dataformat", "jackson-dataformat-csv", "2.19.0", "b7275a6795c70304e8b399db31b11ac72d6bc954"],
  ["com.fasterxml.jackson.dataformat", "jackson-dataformat-yaml", "2.19.0", "2d735ab4ecebf5c2bf248d4036fd4ba6d73d0cc1"],
  ["com.fasterxml.jackson.datatype", "jackson-datatype-jdk8", "2.19.0", "69312135ff6d6646203b9681fa48505f369210a6"],
  ["com.github.ben-manes.caffeine", "caffeine", "3.2.0", "35eba09997476a39492ac7f7b2bb0e8292c09d17"],
  ["com.github.luben", "zstd-jni", "1.5.6-10", "7e146ecb598af55d1f64d1c118af27569a848558"],
  ["com.google.re2j", "re2j", "1.8", "12c25e923e9e4fb1575a7640a2698745c6f19a94"],
  ["com.typesafe.scala-logging", "scala-logging_2.13", "3.9.5", "d5a0f61168371d8cff1c510f55407aa46bea8366"],
  ["com.yammer.metrics", "metrics-core", "2.2.0", "f82c035cfa786d3cbec362c38c22a5f5b1bc8724"],
  ["commons-beanutils", "commons-beanutils", "1.9.4", "d52b9abcd97f38c81342bb7e7ae1eee9b73cba51"],
  ["commons-collections", "commons-collections", "3.2.2", "8ad72fe39fa8c91eaaf12aadb21e0c3661fe26d5"],
  ["commons-digester", "commons-digester", "2.1", "73a8001e7a54a255eef0f03521ec1805dc738ca0"],
  ["commons-logging", "commons-logging", "1.3.2", "3dc966156ef19d23c839715165435e582fafa753"],
  ["commons-validator", "commons-validator", "1.9.0", "26e49d333890ccad072eb530a85fceb9c07818df"],
  ["net.sf.jopt-simple", "jopt-simple", "5.0.4", "4fdac2fbe92dfad86aa6e9301736f6b4342a3f5c"],
  ["net.sourceforge.argparse4j", "argparse4j", "0.7.0", "6f0621d0c3888de39e0f06d01f37ba53a798e657"],
  ["org.apache.kafka", "kafka-clients", "4.1.1", "094cb8f39c3157038ec9577634d310a2bf5fb516"],
  ["org.apache.kafka", "kafka-coordinator-common", "4.1.1", "a404eaac7fc653d63453005ab003bf308599f87d"],
  ["org.apache.kafka", "kafka-group-coordinator-api", "4.1.1", "40b61cb614687a50188f3c5fa7cf65dbcd059221"],
  ["org.apache.kafka", "kafka-group-coordinator", "4.1.1", "5d0e09fc27c29c7186fe94116712a09d00f29979"],
  ["org.apache.kafka", "kafka-metadata", "4.1.1", "a11c8a6e27aa783ec3e8b4b7f5c318281fa494a8"],
  ["org.apache.kafka", "kafka-raft", "4.1.1", "b5bae33d2adf96738119e40f76c283d24cc58361"],
  ["org.apache.kafka", "kafka-server-common", "4.1.1", "1bf567866482bd9d7a8ad3eb73b3ffbab51a6b5b"],
  ["org.apache.kafka", "kafka-server", "4.1.1", "947c8b919656c51c431bae9cd9196f8d0911c5b6"],
  ["org.apache.kafka", "kafka-share-coordinator", "4.1.1", "eed38c6dba008d378cfa24f8d9212ece225a56bd"],
  ["org.apache.kafka", "kafka-storage-api", "4.1.1", "b571e6253b711ad633174a283232e5f26b107718"],
  ["org.apache.kafka", "kafka-storage", "4.1.1", "9419c2775056356d815db7681dda97e2670e8dd7"],
  ["org.apache.kafka", "kafka-tools-api", "4.1.1", "e9dd9701e3d13cfd6c6b84ce7bfd11769641e937"],
  ["org.apache.kafka", "kafka-transaction-coordinator", "4.1.1", "d0f94fcfb53a7574262750ebf465b484d0841859"],
  ["org.apache.kafka", "kafka_2.13", "4.1.1", "3183b1bb5d0209dce5634cf56e8893cf42b17467"],
  ["org.apache.logging.log4j", "log4j-api", "2.24.3", "b02c125db8b6d295adf72ae6e71af5d83bce2370"],
  ["org.apache.logging.log4j", "log4j-core", "2.24.3", "7f6a261243ca767c7f38fd4b542bcde626c8894e"],
  ["org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3", "182894dfec8b730639c9ea065f1084ba85fcbaa3"],
  ["org.bitbucket.b_c", "jose4j", "0.9.6", "357a3836bb5da16f314f3a1e954518e5468cd915"],
  ["org.hdrhistogram", "HdrHistogram", "2.2.2", "7959933ebcc0f05b2eaa5af0a0c8689fa257b15c"],
  ["org.jspecify", "jspecify", "1.0.0", "7425a601c1c7ec76645a78d22b8c6a627edee507"],
  ["org.lz4", "lz4-java", "1.8.0", "4b986a99445e49ea5fbf5d149c4b63f6ed6c6780"],
  ["org.pcollections", "pcollections", "4.0.2", "c8398b4443deae11e6eaffbc04a371b4eb8f6b8e"],
  ["org.scala-lang", "scala-library", "2.13.16", "9e064d9304904fd7b6bd2b55a9e601b8c1c9006e"],
  ["org.scala-lang", "scala-reflect", "2.13.16", "4958d4e43faf2d6d66f18ce2aa9a3e5ba141f87b"],
  ["org.slf4j", "slf4j-api", "1.7.36", "6c62681a2f655b49963a5983b8b0950a6120ae14"],
  ["org.xerial.snappy", "snappy-java", "1.1.10.7", "3049f95640f4625a945cfab85715f603fa4c8f80"],
  ["org.yaml", "snakeyaml", "2.4", "e0666b825b796f85521f02360e77f4c92c5a7a07"],
];

/** Maven Central (MAVEN_REPO_URL overrides, e.g. for a mirror). */
const repoUrl = () => (process.env.MAVEN_REPO_URL ?? "https://repo.maven.apache.org/maven2").replace(/\/+$/, "");
const cacheDir = join(root, ".cache");
const homeDir = join(cacheDir, `kafka-${KAFKA_VERSION}`);
const libDir = join(homeDir, "lib");
const lockDir = join(cacheDir, `kafka-${KAFKA_VERSION}.lock`);
const m2Dir = join(cacheDir, "m2");
const cdsPath = join(homeDir, "app.jsa");
const cdsStampPath = join(homeDir, "app.jsa.stamp");

/**
 * A running broker started by {@link startKafka}.
 * @typedef {object} RunningKafka
 * @property {string} brokers `127.0.0.1:<port>`, the broker's PLAINTEXT listener (KAFKA_BROKERS).
 * @property {number} port
 * @property {number} controllerPort The KRaft controller listener (not for clients).
 * @property {string} dataDir Where the metadata and topic logs live; a restart on the same directory keeps them.
 * @property {number} pid The JVM's process id.
 * @property {() => string} output What the broker logged (warnings and errors, plus its start line).
 * @property {Promise<import("./child.mjs").ChildExit>} exited Settles when the JVM exits, for whatever reason.
 * @property {() => Promise<void>} stop Controlled shutdown (SIGTERM, SIGKILL after 30 s); removes the data
 *   directory when startKafka made it.
 * @property {() => Promise<void>} kill SIGKILL, for crash tests; the data directory stays.
 */

const log = (/** @type {string} */ msg) => process.stderr.write(`[kafka] ${msg}\n`);
const javaBin = () => (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java");
const sleep = (/** @type {number} */ ms) => new Promise((ok) => setTimeout(ok, ms));

/** @param {Jar} jar */
const relPath = ([group, artifact, version]) =>
  `${group.replaceAll(".", "/")}/${artifact}/${version}/${artifact}-${version}.jar`;
/** @param {Jar} jar */
const jarName = ([, artifact, version]) => `${artifact}-${version}.jar`;

/** @param {string} file */
function sha1Of(file) {
  return createHash("sha1").update(readFileSync(file)).digest("hex");
}

/** @param {string} url */
async function download(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (attempt >= 3)
        throw new Error(`[kafka] cannot download ${url}: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(1000 * attempt);
    }
  }
}

/**
 * Puts one jar into lib/, from .cache/m2 or Maven Central, and checks it against its pinned SHA-1.
 * @param {Jar} jar
 */
async function fetchJar(jar) {
  const want = jar[3];
  const dest = join(libDir, jarName(jar));
  const tmp = `${dest}.${process.pid}.tmp`;
  const fromM2 = join(m2Dir, relPath(jar));
  if (existsSync(fromM2) && sha1Of(fromM2) === want) {
    copyFileSync(fromM2, tmp);
  } else {
    const url = `${repoUrl()}/${relPath(jar)}`;
    const [body, published] = await Promise.all([download(url), download(`${url}.sha1`)]);
    const publishedSha1 = published.toString("utf8").trim().slice(0, 40).toLowerCase();
    if (publishedSha1 !== want) {
      throw new Error(`[kafka] ${url}.sha1 is ${publishedSha1}, pinned ${want}: refusing the jar`);
    }
    writeFileSync(tmp, body);
  }
  const got = sha1Of(tmp);
  if (got !== want) {
    rmSync(tmp, { force: true });
    throw new Error(`[kafka] ${jarName(jar)} has SHA-1 ${got}, expected ${want}`);
  }
  renameSync(tmp, dest);
}

function missingJars() {
  return JARS.filter((jar) => {
    const file = join(libDir, jarName(jar));
    return !existsSync(file) || sha1Of(file) !== jar[3];
  });
}

/**
 * Makes sure every broker jar is in .cache/kafka-<version>/lib with its pinned SHA-1, downloading what is missing
 * from Maven Central. Returns the `java` classpath.
 */
export async function ensureKafka() {
  if (missingJars().length > 0) {
    await withDirLock(
      lockDir,
      async () => {
        const missing = missingJars();
        if (missing.length === 0) return; // another process fetched them while we waited
        mkdirSync(libDir, { recursive: true });
        const started = Date.now();
        log(`fetching ${missing.length} jar(s) of Kafka ${KAFKA_VERSION} from Maven Central into ${libDir}…`);
        // A few at a time: Maven Central is fast, the machine has two cores.
        const queue = [...missing];
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            for (let jar = queue.shift(); jar; jar = queue.shift()) await fetchJar(jar);
          }),
        );
        log(`fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      },
      { staleMs: 10 * 60_000, waitMs: 10 * 60_000, pollMs: 300, what: "the Kafka download lock" },
    );
  }
  return JARS.map((jar) => join(libDir, jarName(jar))).join(":");
}

/** A KRaft cluster id: 16 random bytes, base64url without padding (Kafka's `Uuid`), never starting with "-". */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

const LOG4J2 = `status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
`;

/** @param {{ dataDir: string; port: number; controllerPort: number; props: Record<string, string> }} opts */
function serverProperties({ dataDir, port, controllerPort, props }) {
  const base = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.voters": `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": join(dataDir, "logs"),
    "metadata.log.dir": join(dataDir, "metadata"),
    "num.partitions": "1",
    // One broker: every internal topic has one replica, and few partitions, so the first consumer group does not
    // wait for 50 __consumer_offsets partitions to be created.
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "share.coordinator.state.topic.num.partitions": "1",
    // A test group should not wait 3 s for more members before its first assignment.
    "group.initial.rebalance.delay.ms": "0",
    // Topics are created on purpose (tests, the bridge's dead-letter topic), never by a typo.
    "auto.create.topics.enable": "false",
    ...props,
  };
  return `${Object.entries(base)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

/**
 * @param {string[]} args
 * @param {string} what
 */
function runJava(args, what) {
  const r = spawnSync(javaBin(), args, { cwd: root, encoding: "utf8" });
  if (r.error) throw new Error(`[kafka] cannot run ${javaBin()} (${r.error.message}): install a JDK 17 or 21`);
  if (r.status !== 0) throw new Error(`[kafka] ${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function javaVersion() {
  const r = spawnSync(javaBin(), ["-version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(
      `[kafka] cannot run ${javaBin()} -version: install a JDK 17 or 21 (apt-get install openjdk-17-jdk)`,
    );
  }
  return r.stderr;
}

/**
 * @param {number} port
 * @param {number} deadline
 * @returns {Promise<void>}
 */
function waitForPort(port, deadline) {
  return new Promise((ok, fail) => {
    const attempt = () => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        ok();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) fail(new Error(`[kafka] 127.0.0.1:${port} did not accept connections in time`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Starts Kafka 4.1 in KRaft combined mode on 127.0.0.1 (broker listener `port`, controller listener
 * `controllerPort`), formatting `dataDir` on first use (a cluster id is generated and kept in the directory, so a
 * restart on the same directory keeps topics, offsets and committed group offsets). Resolves once the broker
 * logged "Kafka Server started" and accepts connections.
 *
 * @param {{ dataDir?: string, port?: number, controllerPort?: number, heapMb?: number, timeoutMs?: number,
 *   props?: Record<string, string> }} [opts] ports default to free ones; without `dataDir` a fresh directory
 *   under .tmp/ is used and removed by stop(). `props` adds or overrides server properties.
 * @returns {Promise<RunningKafka>}
 */
export async function startKafka({
  dataDir,
  port = 0,
  controllerPort = 0,
  heapMb = 512,
  timeoutMs = 120_000,
  props = {},
} = {}) {
  const classpath = await ensureKafka();
  /** @type {string | undefined} */
  let ownDir;
  if (!dataDir) {
    mkdirSync(join(root, ".tmp"), { recursive: true });
    ownDir = mkdtempSync(join(root, ".tmp", "kafka-"));
  }
  const dir = dataDir ?? /** @type {string} */ (ownDir);
  mkdirSync(dir, { recursive: true });
  const brokerPort = port || (await freePort());
  let ctlPort = controllerPort || (await freePort());
  while (ctlPort === brokerPort) ctlPort = await freePort();

  const propsFile = join(dir, "server.properties");
  writeFileSync(propsFile, serverProperties({ dataDir: dir, port: brokerPort, controllerPort: ctlPort, props }));
  const log4jFile = join(dir, "log4j2.properties");
  writeFileSync(log4jFile, LOG4J2);
  // C1 only and class-data sharing, as for Neo4j: a test broker lives for one run, so start-up time is what counts
  // (measured here: ~12 s plain, ~6 s with C1 only, ~2.5 s with C1 and the archive). The archive is recorded when
  // a broker without one stops cleanly, and fits one JVM: a different `java -version` discards it.
  const jvmId = javaVersion();
  if (existsSync(cdsPath) && (!existsSync(cdsStampPath) || readFileSync(cdsStampPath, "utf8") !== jvmId)) {
    rmSync(cdsPath, { force: true });
  }
  const recordCds = !existsSync(cdsPath);
  const cdsTmp = `${cdsPath}.${process.pid}.tmp`;
  const baseJvmArgs = [
    `-Xms${Math.min(256, heapMb)}m`,
    `-Xmx${heapMb}m`,
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    // JVM warnings (e.g. about the archive) to stderr with the broker's log.
    "-Xlog:disable",
    "-Xlog:all=warning:stderr",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${log4jFile}`,
    "-Dfile.encoding=UTF-8",
    ...(process.env.KAFKA_JAVA_OPTS ?? "").split(/\s+/).filter(Boolean),
  ];
  const jvmArgs = [
    ...baseJvmArgs,
    recordCds ? `-XX:ArchiveClassesAtExit=${cdsTmp}` : `-XX:SharedArchiveFile=${cdsPath}`,
  ];

  const started = Date.now();
  if (!existsSync(join(dir, "metadata", "meta.properties"))) {
    // Static quorum (controller.quorum.voters): `format` needs only the cluster id.
    runJava(
      [...baseJvmArgs, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", clusterId(), "-c", propsFile],
      "kafka-storage format",
    );
  }
  log(
    `starting Kafka ${KAFKA_VERSION} (KRaft, broker 127.0.0.1:${brokerPort}, controller 127.0.0.1:${ctlPort})${recordCds ? "; recording a class-data archive for faster later starts" : ""}…`,
  );
  const child = spawn(javaBin(), [...jvmArgs, "-cp", classpath, "kafka.Kafka", propsFile], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const proc = supervise(child);
  child.on("error", (err) => {
    output += `spawn error: ${err.message}\n`;
  });
  const keep = (/** @type {Buffer | string} */ d) => {
    output += d;
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
    if (process.env.KAFKA_VERBOSE) process.stderr.write(d);
  };
  child.stdout.on("data", keep);

  const stop = async () => {
    // A controlled shutdown of a single combined node takes a second or two.
    const result = await proc.terminate(30_000);
    if (result) {
      const { code } = result;
      // Keep the archive only when the JVM exited by itself (0 or 143 after SIGTERM); a SIGKILL cuts it short.
      if (recordCds && existsSync(cdsTmp)) {
        if (code !== null) {
          renameSync(cdsTmp, cdsPath);
          writeFileSync(cdsStampPath, jvmId);
        } else rmSync(cdsTmp, { force: true });
      }
    }
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  };
  const kill = async () => {
    await proc.kill();
    rmSync(cdsTmp, { force: true });
  };

  try {
    await /** @type {Promise<void>} */ (
      new Promise((ok, fail) => {
        const lines = createInterface({ input: child.stderr });
        const timer = setTimeout(() => fail(new Error(`[kafka] not started within ${timeoutMs} ms`)), timeoutMs);
        lines.on("line", (line) => {
          keep(`${line}\n`);
          if (line.includes("Kafka Server started")) {
            clearTimeout(timer);
            ok();
          }
        });
        proc.exit.then(({ code, signal }) => {
          clearTimeout(timer);
          fail(new Error(`[kafka] the broker exited (${signal ?? `code ${code}`}) before it was ready`));
        });
      })
    );
    await waitForPort(brokerPort, started + timeoutMs);
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: 127.0.0.1:${brokerPort}`);
    return {
      brokers: `127.0.0.1:${brokerPort}`,
      port: brokerPort,
      controllerPort: ctlPort,
      dataDir: dir,
      pid: /** @type {number} */ (child.pid), // defined: the broker logged its start
      output: () => output,
      exited: proc.exit,
      stop,
      kill,
    };
  } catch (err) {
    await stop();
    process.stderr.write(output.slice(-4000));
    throw err;
  }
}

/**
 * Creates topics (those that exist already are left alone) with the project's Kafka client, @platformatic/kafka
 * (imported here on use, so this file still loads before `npm ci`).
 *
 * @param {string} brokers `host:port[,host:port…]`
 * @param {Array<{ name: string, partitions?: number }>} topics
 */
export async function createTopics(brokers, topics) {
  const { Admin } = await import("@platformatic/kafka");
  const admin = new Admin({ clientId: "coherence-kafka-lib", bootstrapBrokers: brokers.split(",") });
  try {
    const existing = new Set(await admin.listTopics());
    for (const { name, partitions = 1 } of topics) {
      if (existing.has(name)) continue;
      await admin.createTopics({ topics: [name], partitions, replicas: 1 });
    }
  } finally {
    await admin.close();
  }
}
