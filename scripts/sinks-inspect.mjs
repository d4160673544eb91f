// `npm run sinks:inspect`: the stores behind the sinks, as the on-call runbook's "inspect the store" step needs
// them (docs/runbooks.md). Neo4j over its Query API: process CPU and load, heap, garbage collections (count and
// time per collector), open transactions and the longest, signals stored. Postgres with psql: connections by state,
// database size, scores materialized and how stale the stalest and freshest are. Settings as `npm run migrate`
// reads them (environment or .dev.vars): NEO4J_URL/NEO4J_USER/NEO4J_PASSWORD/NEO4J_DATABASE, DATABASE_URL.
// `--json` prints one JSON object. Exit 1 when a configured store cannot be read.
// Neo4j Aura does not expose JMX procedures: there, use the console's metrics (the script says so).
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { localSettings } from "./lib/settings.mjs";

const { values: flags } = parseArgs({ options: { json: { type: "boolean", default: false } } });
const settings = localSettings("");

/**
 * Runs read-only statements over the Query API; each answer as rows of objects.
 * @param {string[]} statements
 * @returns {Promise<Array<Array<Record<string, unknown>>>>}
 */
async function cypher(statements) {
  const url = (settings.NEO4J_URL ?? "").replace(/\/+$/, "");
  const endpoint = `${url}/db/${settings.NEO4J_DATABASE || "neo4j"}/query/v2`;
  const auth = `Basic ${Buffer.from(`${settings.NEO4J_USER ?? "neo4j"}:${settings.NEO4J_PASSWORD ?? ""}`).toString("base64")}`;
  const out = [];
  for (const statement of statements) {
    const res = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: auth },
      body: JSON.stringify({ statement, accessMode: "READ" }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${res.status} ${text.slice(0, 300)}`);
    const { data } = JSON.parse(text);
    out.push(
      data.values.map((/** @type {unknown[]} */ row) => Object.fromEntries(data.fields.map((f, i) => [f, row[i]]))),
    );
  }
  return out;
}

/** @returns {Promise<Record<string, unknown>>} */
async function inspectNeo4j() {
  const [[signals], [tx]] = await cypher([
    "MATCH (s:Signal) RETURN count(s) AS signals",
    "SHOW TRANSACTIONS YIELD elapsedTime RETURN count(*) AS open, max(elapsedTime) AS longest",
  ]);
  /** @type {Record<string, unknown>} */
  const report = { signals: signals?.signals, openTransactions: tx?.open, longestTransaction: tx?.longest };
  try {
    const [[os], [memory], gcs] = await cypher([
      `CALL dbms.queryJmx("java.lang:type=OperatingSystem") YIELD attributes
       RETURN attributes.ProcessCpuLoad.value AS cpu, attributes.SystemLoadAverage.value AS load,
         attributes.AvailableProcessors.value AS cpus`,
      `CALL dbms.queryJmx("java.lang:type=Memory") YIELD attributes RETURN attributes.HeapMemoryUsage.value.properties AS heap`,
      `CALL dbms.queryJmx("java.lang:type=GarbageCollector,*") YIELD name, attributes
       RETURN name, attributes.CollectionCount.value AS count, attributes.CollectionTime.value AS ms`,
    ]);
    const heap = /** @type {{ used: number; max: number }} */ (memory?.heap);
    report.processCpu = os?.cpu;
    report.loadAverage = os?.load;
    report.cpus = os?.cpus;
    report.heapUsedMiB = Math.round(heap.used / 2 ** 20);
    report.heapMaxMiB = Math.round(heap.max / 2 ** 20);
    report.gc = gcs.map((g) => ({
      collector: String(g.name).replace(/^java\.lang:name=|,type=GarbageCollector$/g, ""),
      count: g.count,
      totalMs: g.ms,
    }));
  } catch (err) {
    report.jmx = `unavailable (${err instanceof Error ? err.message.slice(0, 120) : String(err)}); on Aura read CPU and GC in the console's metrics`;
  }
  return report;
}

/** @returns {Record<string, unknown>} */
function inspectPostgres() {
  const sql = `SELECT json_build_object(
    'connections', (SELECT coalesce(json_object_agg(coalesce(state, 'background'), n), '{}')
                      FROM (SELECT state, count(*) AS n FROM pg_stat_activity GROUP BY state) s),
    'databaseMiB', round(pg_database_size(current_database()) / 1048576.0, 1),
    'scores', (SELECT count(*) FROM coherence_scores),
    'stalestScoreAgeS', (SELECT round(extract(epoch FROM now() - min(updated_at))) FROM coherence_scores),
    'freshestScoreAgeS', (SELECT round(extract(epoch FROM now() - max(updated_at))) FROM coherence_scores))`;
  const r = spawnSync("psql", [settings.DATABASE_URL ?? "", "-At", "-c", sql], { encoding: "utf8", timeout: 15_000 });
  if (r.error) throw new Error(`psql: ${r.error.message}`);
  if (r.status !== 0) throw new Error(r.stderr.trim().slice(0, 300));
  return JSON.parse(r.stdout);
}

/** @type {Record<string, unknown>} */
const result = {};
let failed = false;
for (const [name, configured, inspect] of /** @type {const} */ ([
  ["neo4j", Boolean(settings.NEO4J_URL), inspectNeo4j],
  ["postgres", Boolean(settings.DATABASE_URL), inspectPostgres],
])) {
  if (!configured) {
    result[name] = "off (not configured)";
    continue;
  }
  try {
    result[name] = await inspect();
  } catch (err) {
    failed = true;
    result[name] = { error: err instanceof Error ? err.message : String(err) };
  }
}

if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  for (const [name, report] of Object.entries(result)) {
    process.stdout.write(`${name}:\n`);
    if (typeof report === "string") process.stdout.write(`  ${report}\n`);
    else for (const [k, v] of Object.entries(report)) process.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
  }
}
process.exit(failed ? 1 : 0);
