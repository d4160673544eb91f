// The real stores behind the sinks, for e2e tests: Postgres with our Neon WebSocket proxy and Neo4j (Query API
// for the service, Bolt for the test's own reads), migrated as `npm run migrate` does, with the least-privileged
// login user the Worker connects as. The tests verify through psql and neo4j-driver — never through the code under
// test. Stores can be stopped and started again on the same ports (the running service keeps its URLs).
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import neo4jDriver, { type Driver } from "neo4j-driver";
import { type RunningNeo4j, startNeo4j } from "../../scripts/lib/neo4j.mjs";
import { type RunningPostgres, type RunningWsproxy, startPostgres, startWsproxy } from "../../scripts/lib/postgres.mjs";
import { migrateNeo4j, migratePostgres } from "../../scripts/migrate.mjs";
import { freePort } from "../support/harness";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);
const WORKER_PASSWORD = "worker-least-privilege";

/** Postgres (+ proxy) and Neo4j, started and migrated. */
export class SinkStack {
  pg!: RunningPostgres;
  proxy!: RunningWsproxy;
  neo4j!: RunningNeo4j;
  driver!: Driver;
  private readonly ports = { neo4jHttp: 0, neo4jBolt: 0, pg: 0, proxy: 0 };
  private neo4jDir = "";
  private pgDir = "";

  /** Starts both stores (Postgres's data under `.cache/<pgDirName>`), migrates them and creates the Worker's user. */
  static async start(pgDirName: string): Promise<SinkStack> {
    const stack = new SinkStack();
    stack.ports.pg = await freePort();
    stack.ports.proxy = await freePort();
    stack.neo4jDir = mkdtempSync(join(tmpdir(), "coherence-neo4j-"));
    stack.pgDir = join(root, ".cache", pgDirName);
    await stack.startStores();
    await stack.psql("DROP TABLE IF EXISTS coherence_scores");
    migratePostgres(stack.pg.url);
    // The Worker connects as a login user holding only coherence_writer (migrations/postgres/0002).
    await stack.psql("DROP ROLE IF EXISTS coherence_worker");
    await stack.psql(`CREATE ROLE coherence_worker LOGIN PASSWORD '${WORKER_PASSWORD}' IN ROLE coherence_writer`);
    const { neo4j } = stack;
    await migrateNeo4j({ url: neo4j.httpUrl, user: neo4j.user, password: neo4j.password, database: neo4j.database });
    stack.connectDriver();
    return stack;
  }

  private connectDriver(): void {
    this.driver = neo4jDriver.driver(this.neo4j.boltUrl, neo4jDriver.auth.basic(this.neo4j.user, this.neo4j.password));
  }

  /** Starts the stores; a restart reuses the first start's ports, since the running service's URLs name them. */
  private async startStores(): Promise<void> {
    this.pg = await startPostgres({ dataDir: this.pgDir, port: this.ports.pg });
    this.proxy = await startWsproxy({ pgPort: this.pg.port, port: this.ports.proxy });
    // First start: Neo4j picks its own free ports (no window for another process to take them).
    this.neo4j = await startNeo4j({
      httpPort: this.ports.neo4jHttp,
      boltPort: this.ports.neo4jBolt,
      dataDir: this.neo4jDir,
    });
    this.ports.neo4jHttp = Number(new URL(this.neo4j.httpUrl).port);
    this.ports.neo4jBolt = Number(new URL(this.neo4j.boltUrl).port);
  }

  /** Stops both stores (an outage); {@link restart} brings them back with their data. */
  async stopStores(): Promise<void> {
    await Promise.all([this.neo4j.stop(), this.pg.stop(), this.proxy.stop()]);
  }

  /** Stops Postgres alone (the proxy stays up, as it would in front of a failed database). */
  async stopPostgres(): Promise<void> {
    await this.pg.stop();
  }

  async restartPostgres(): Promise<void> {
    this.pg = await startPostgres({ dataDir: this.pgDir, port: this.ports.pg });
  }

  async restart(): Promise<void> {
    await this.startStores();
    await this.driver.close();
    this.connectDriver();
  }

  /** The settings that point `npm start` at these stores. */
  serviceEnv(): Record<string, string> {
    return {
      NEO4J_URL: this.neo4j.httpUrl,
      NEO4J_USER: this.neo4j.user,
      NEO4J_PASSWORD: this.neo4j.password,
      DATABASE_URL: this.workerUrl(),
      NEON_WSPROXY: this.proxy.url,
    };
  }

  /** DATABASE_URL of the Worker's least-privileged login user. */
  workerUrl(): string {
    const url = new URL(this.pg.url);
    url.username = "coherence_worker";
    url.password = WORKER_PASSWORD;
    return url.toString();
  }

  /** Runs SQL with psql (as the owner unless `url` says otherwise); rows `|`-separated, trimmed. */
  async psql(sql: string, url = this.pg.url): Promise<string> {
    const { stdout } = await run("psql", [url, "-At", "-F", "|", "-c", sql]);
    return stdout.trim();
  }

  /** A tenant's materialized score as `score|signal_count` (4 decimals), `""` when it has no row. */
  scoreRow(tenant: string): Promise<string> {
    return this.psql(`SELECT score::text, signal_count FROM coherence_scores WHERE tenant_id = '${tenant}'`);
  }

  /** Runs Cypher over Bolt; rows as objects. */
  async cypher<T>(statement: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const session = this.driver.session({ database: "neo4j" });
    try {
      const result = await session.run(statement, params);
      return result.records.map((r) => r.toObject() as T);
    } finally {
      await session.close();
    }
  }

  async close(): Promise<void> {
    await this.driver?.close();
    await this.neo4j?.stop();
    await this.proxy?.stop();
    await this.pg?.stop();
  }
}

/** Waits until `check` holds, polling (convergence is asynchronous by design: queue, retries, backoff). */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * `count` signals of `tenantId` numbered from `from`, with values and weights that vary by number and `ts` derived
 * from `baseMs` (one base per file: a re-sent signal carries the same ts, a true duplicate).
 */
export function signalBatch(tenantId: string, from: number, count: number, baseMs: number, source: string) {
  return Array.from({ length: count }, (_, i) => ({
    tenantId,
    signalId: `s-${from + i}`,
    type: "latency",
    source,
    value: ((from + i) % 97) / 96,
    weight: 1 + ((from + i) % 3),
    ts: new Date(baseMs + from + i).toISOString(),
  }));
}
