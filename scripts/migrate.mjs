// `npm run migrate`: applies migrations/postgres/*.sql (with psql) and migrations/neo4j/*.cypher (over the
// Query API) to the stores named by DATABASE_URL and NEO4J_URL (environment or .dev.vars). Every statement is
// idempotent (IF NOT EXISTS), so running it again changes nothing. A store whose setting is absent is skipped.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseRetention } from "../src/domain/retention.ts";
import { root } from "./lib/env.mjs";
import { localSettings } from "./lib/settings.mjs";

const settings = localSettings("");
const files = (/** @type {string} */ dir, /** @type {string} */ ext) =>
  readdirSync(join(root, "migrations", dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => join(root, "migrations", dir, f));

/**
 * Applies the Postgres migrations to `url`.
 * @param {string} url
 */
export function migratePostgres(url) {
  for (const file of files("postgres", ".sql")) {
    const r = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-q", "-f", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`postgres migration ${file} failed: ${r.stderr}`);
    process.stderr.write(`[migrate] postgres ${file.slice(root.length + 1)}\n`);
  }
}

/**
 * Records the retention policy's days in Postgres (migrations/postgres/0005), as the owner: the floor below which
 * the Worker's purge refuses to remove anything.
 * @param {string} url
 * @param {string} policy e.g. standard-365d
 */
export function setRetentionPolicy(url, policy) {
  const parsed = parseRetention(policy);
  if (!parsed.ok) throw new Error(`POLICY_RETENTION: ${parsed.message}`);
  const { days } = parsed;
  const r = spawnSync(
    "psql",
    [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `UPDATE retention_policy SET days = ${days}`],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`setting the retention policy failed: ${r.stderr}`);
  process.stderr.write(`[migrate] postgres retention_policy: ${days} days (${policy})\n`);
}

/**
 * Applies the Neo4j migrations over the Query API.
 * @param {{ url: string; user: string; password: string; database: string }} target
 * @returns {Promise<void>}
 */
export async function migrateNeo4j({ url, user, password, database }) {
  const endpoint = `${url.replace(/\/+$/, "")}/db/${database}/query/v2`;
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  for (const file of files("neo4j", ".cypher")) {
    const statements = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => !l.trim().startsWith("//"))
      .join("\n")
      .split(";")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const statement of statements) {
      const res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", authorization: auth },
        body: JSON.stringify({ statement }),
      });
      if (!res.ok) throw new Error(`neo4j migration ${file}: ${res.status} ${await res.text()}`);
    }
    process.stderr.write(`[migrate] neo4j ${file.slice(root.length + 1)} (${statements.length} statements)\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (settings.DATABASE_URL) {
    migratePostgres(settings.DATABASE_URL);
    setRetentionPolicy(settings.DATABASE_URL, settings.POLICY_RETENTION ?? "standard-365d");
  } else process.stderr.write("[migrate] DATABASE_URL not set: Postgres skipped\n");
  if (settings.NEO4J_URL) {
    await migrateNeo4j({
      url: settings.NEO4J_URL,
      user: settings.NEO4J_USER ?? "neo4j",
      password: settings.NEO4J_PASSWORD ?? "",
      database: settings.NEO4J_DATABASE ?? "neo4j",
    });
  } else process.stderr.write("[migrate] NEO4J_URL not set: Neo4j skipped\n");
}
