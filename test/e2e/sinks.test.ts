// The sinks end to end (docs/api.md §7): `npm start` with real Neo4j (Query API) and Postgres (Neon driver over
// our WebSocket proxy), signals through the Durable Objects and the queue, verified with neo4j-driver over Bolt
// and psql — never with the code under test.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import neo4jDriver from "neo4j-driver";
import { afterAll, describe, expect, it } from "vitest";
import { type LedgerEntry, verifyChain } from "../../src/domain/ledger";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { ingest, readScore } from "./helpers";
import { eventually, SinkStack, signalBatch } from "./sink-stack";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);

let stack: SinkStack;
let svc: RunningService;

/** A tenant's provenance-ledger rows in Postgres, in chain order, as ledger entries. */
async function ledgerRows(tenant: string): Promise<LedgerEntry[]> {
  const json = await psql(
    `SELECT coalesce(json_agg(json_build_object('tenantId', tenant_id, 'seq', seq, 'provenanceId', provenance_id,
       'requestSha256', request_sha256, 'signalCount', signal_count, 'policyTags', policy_tags,
       'receivedAtMs', received_at_ms, 'prevHash', prev_hash, 'hash', hash) ORDER BY seq), '[]')
     FROM provenance_ledger WHERE tenant_id = '${tenant}'`,
  );
  return JSON.parse(json) as LedgerEntry[];
}

const psql = (sql: string, url?: string) => stack.psql(sql, url);
const cypher = <T>(statement: string, params: Record<string, unknown> = {}) => stack.cypher<T>(statement, params);

beforeAllOrFail(async () => {
  stack = await SinkStack.start("pg-sinks");
  svc = await startService({ env: { ...stack.serviceEnv(), RPS_MAX: "100000" } });
}, 600_000);

afterAll(async () => {
  await svc?.stop();
  await stack?.close();
});

const TENANTS = 20;
const PER_TENANT = 500;
/** One base instant for the whole file, so a re-sent signal carries the same ts (a true duplicate). */
const BASE_MS = Date.now() - 3_600_000;

function batch(tenantId: string, from: number, count: number) {
  return signalBatch(tenantId, from, count, BASE_MS, "sink-e2e");
}

async function signalsInGraph(tenantPrefix: string): Promise<number> {
  const [row] = await cypher<{ n: { toNumber(): number } }>(
    "MATCH (t:Tenant)-[:EMITS]->(s:Signal) WHERE t.tenant_id STARTS WITH $p RETURN count(s) AS n",
    { p: tenantPrefix },
  );
  return row?.n.toNumber() ?? 0;
}

describe("sinks (§9)", () => {
  it("lands 10,000 signals over 20 tenants in Neo4j and their scores in Neo4j and Postgres, duplicates once", async () => {
    const prefix = `sink-${Date.now().toString(36)}-`;
    const tenants = Array.from({ length: TENANTS }, (_, i) => `${prefix}${i}`);
    const tokens = await Promise.all(tenants.map((t) => mintToken(t, "coherence:read coherence:write")));
    for (let chunk = 0; chunk < PER_TENANT; chunk += 250) {
      const answers = await Promise.all(
        tenants.map((t, i) => ingest(svc.baseUrl, { signals: batch(t, chunk, 250) }, tokens[i])),
      );
      for (const a of answers) expect(a.status).toBe(202);
    }
    // Duplicates: the first 50 of every tenant again.
    const dup = await Promise.all(tenants.map((t, i) => ingest(svc.baseUrl, { signals: batch(t, 0, 50) }, tokens[i])));
    for (const a of dup) expect(a.body).toMatchObject({ accepted: 0, duplicates: 50 });

    await eventually(
      "10,000 signals in Neo4j",
      async () => (await signalsInGraph(prefix)) === TENANTS * PER_TENANT,
      120_000,
    );
    const scores = await Promise.all(tenants.map((t, i) => readScore(svc.baseUrl, t, tokens[i] as string)));
    await eventually(
      "every tenant's score in Postgres",
      async () =>
        Number(await psql(`SELECT count(*) FROM coherence_scores WHERE tenant_id LIKE '${prefix}%'`)) === TENANTS,
      60_000,
    );
    for (const [i, tenant] of tenants.entries()) {
      const view = scores[i];
      await eventually(
        `${tenant}'s score materialized`,
        async () => {
          const row = await psql(
            `SELECT score::text, status, signal_count FROM coherence_scores WHERE tenant_id = '${tenant}'`,
          );
          return row === `${view?.score.toFixed(4)}|${view?.status}|${view?.signalCount}`;
        },
        30_000,
      );
      const [graph] = await cypher<{ score: number; status: string }>(
        "MATCH (:Tenant {tenant_id: $t})-[:HAS_SCORE]->(c:CoherenceScore) RETURN c.score AS score, c.status AS status",
        { t: tenant },
      );
      expect(graph).toEqual({ score: view?.score, status: view?.status });
    }
    // Exactly one node per signal (the dedupe key is unique), with provenance and policy tags.
    const [sample] = await cypher<{ p: string; purpose: string; residency: string }>(
      "MATCH (s:Signal {tenant_id: $t, signal_id: 's-7'}) RETURN s.provenance_id AS p, s.purpose AS purpose, s.residency AS residency",
      { t: tenants[0] },
    );
    expect(sample?.p).toMatch(/^[0-9a-f-]{36}$/);
    expect(sample).toMatchObject({ purpose: "benchmarking", residency: "US" });

    // The provenance ledger reached Postgres with the signals: one entry per accepted request (the duplicate
    // requests added none), and each tenant's chain holds (src/domain/ledger.ts).
    const requests = PER_TENANT / 250;
    await eventually(
      "every accepted request's ledger entry in Postgres",
      async () =>
        Number(await psql(`SELECT count(*) FROM provenance_ledger WHERE tenant_id LIKE '${prefix}%'`)) ===
        TENANTS * requests,
      60_000,
    );
    const chain = await ledgerRows(tenants[0] as string);
    expect(chain.map((e) => [e.seq, e.signalCount])).toEqual(Array.from({ length: requests }, (_, i) => [i + 1, 250]));
    expect(verifyChain(chain, null)).toBeNull();
    // An edited row breaks its chain where it was edited.
    const edited = chain.map((e) => (e.seq === 1 ? { ...e, signalCount: 999 } : e));
    expect(verifyChain(edited, null)).toMatchObject({ seq: 1, reason: "hash" });
  });

  it("loses nothing when Neo4j and Postgres are down for 30 s while ingest goes on", async () => {
    const prefix = `outage-${Date.now().toString(36)}-`;
    const tenants = [`${prefix}a`, `${prefix}b`];
    const tokens = await Promise.all(tenants.map((t) => mintToken(t, "coherence:read coherence:write")));
    await Promise.all(tenants.map((t, i) => ingest(svc.baseUrl, { signals: batch(t, 0, 100) }, tokens[i])));
    await eventually("the first 200 in Neo4j", async () => (await signalsInGraph(prefix)) === 200, 60_000);

    await stack.stopStores();
    const downSince = Date.now();
    let sent = 100;
    while (Date.now() - downSince < 30_000) {
      const answers = await Promise.all(
        tenants.map((t, i) => ingest(svc.baseUrl, { signals: batch(t, sent, 50) }, tokens[i])),
      );
      for (const a of answers) expect(a.status).toBe(202); // ingest never depends on the sinks
      sent += 50;
      await new Promise((r) => setTimeout(r, 3000));
    }
    await stack.restart();

    await eventually(
      "every signal in Neo4j after the outage",
      async () => (await signalsInGraph(prefix)) === sent * 2,
      180_000,
    );
    for (const [i, tenant] of tenants.entries()) {
      const view = await readScore(svc.baseUrl, tenant, tokens[i] as string);
      await eventually(
        `${tenant}'s latest score in Postgres`,
        async () => (await stack.scoreRow(tenant)) === `${view.score.toFixed(4)}|${view.signalCount}`,
        120_000,
      );
    }
  }, 400_000);

  it("reports each sink in /readyz: ok while up, down (503) while Postgres is stopped", async () => {
    const up = await fetch(`${svc.baseUrl}/readyz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: "ok", sinks: { neo4j: "ok", postgres: "ok" } });
    await stack.stopPostgres();
    try {
      // The route answers from a probe up to 5 s old (READY_CACHE_MS, src/http/routes/ops.ts).
      const readyz = () => fetch(`${svc.baseUrl}/readyz`);
      await eventually("/readyz to see Postgres down", async () => (await readyz()).status === 503, 15_000);
      const down = await readyz(); // answered from the probe that saw it down
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: "degraded", sinks: { neo4j: "ok", postgres: "down" } });
    } finally {
      await stack.restartPostgres();
    }
  });

  it("removes signals older than 365 days from Neo4j on the retention cron, and keeps the rest", async () => {
    const tenant = `retention-${Date.now().toString(36)}`;
    const day = 24 * 3600 * 1000;
    await cypher(
      `MERGE (t:Tenant {tenant_id: $t})
       WITH t UNWIND $rows AS r
       CREATE (t)-[:EMITS]->(:Signal {key: r.key, tenant_id: $t, signal_id: r.id, ts: datetime({epochMillis: r.ts})})`,
      {
        t: tenant,
        rows: [
          // Bolt sends JS numbers as floats; datetime({epochMillis}) needs an integer.
          { key: `${tenant}-old`, id: "old", ts: neo4jDriver.int(Date.now() - 400 * day) },
          { key: `${tenant}-edge`, id: "edge", ts: neo4jDriver.int(Date.now() - 364 * day) },
          { key: `${tenant}-new`, id: "new", ts: neo4jDriver.int(Date.now() - day) },
        ],
      },
    );
    const res = await fetch(`${svc.baseUrl}/__scheduled?cron=${encodeURIComponent("17 3 * * *")}`);
    expect(res.status).toBe(200);
    await eventually(
      "the old signal gone",
      async () => {
        const rows = await cypher<{ id: string }>(
          "MATCH (s:Signal {tenant_id: $t}) RETURN s.signal_id AS id ORDER BY id",
          {
            t: tenant,
          },
        );
        return JSON.stringify(rows.map((r) => r.id)) === JSON.stringify(["edge", "new"]);
      },
      30_000,
    );
  });

  it("serves tenantCoherence from Postgres with READ_MODE=postgres (ADR-001 fallback)", async () => {
    const tenant = `readmode-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    await ingest(svc.baseUrl, { signals: batch(tenant, 0, 5) }, token);
    const view = await readScore(svc.baseUrl, tenant, token);
    await eventually(
      "the score in Postgres",
      async () => (await psql(`SELECT signal_count FROM coherence_scores WHERE tenant_id = '${tenant}'`)) === "5",
      60_000,
    );
    const fallback = await startService({
      env: { DATABASE_URL: stack.workerUrl(), NEON_WSPROXY: stack.proxy.url, READ_MODE: "postgres" },
      stateDir: mkdtempSync(join(tmpdir(), "coherence-readmode-")), // an empty object: only Postgres knows
    });
    try {
      const read = await readScore(fallback.baseUrl, tenant, token);
      expect(read).toMatchObject({ tenantId: tenant, score: view.score, status: view.status, signalCount: 5 });
    } finally {
      await fallback.stop();
    }
  });

  it("dead-letters a message the store rejects, and converges after the fix and `npm run dlq:replay`", async () => {
    const tenant = `poison-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    // Break the store so score upserts fail permanently (undefined table, SQLSTATE 42P01).
    await psql("ALTER TABLE coherence_scores RENAME TO coherence_scores_broken");
    try {
      await ingest(svc.baseUrl, { signals: batch(tenant, 0, 10) }, token);
      const ops = await mintToken("*", "metrics:read");
      await eventually(
        "the score message in the dead-letter store",
        async () => {
          const res = await fetch(`${svc.baseUrl}/v1/ops/dlq`, { headers: { authorization: `Bearer ${ops}` } });
          const body = (await res.json()) as { count: number };
          return body.count > 0;
        },
        60_000,
      );
    } finally {
      await psql("ALTER TABLE coherence_scores_broken RENAME TO coherence_scores");
    }
    const { stdout } = await run("npm", ["run", "dlq:replay"], {
      cwd: root,
      env: { ...process.env, COHERENCE_URL: svc.baseUrl },
    });
    expect(JSON.parse(stdout)).toMatchObject({ replayed: expect.any(Number) });
    const view = await readScore(svc.baseUrl, tenant, token);
    await eventually(
      "the replayed score in Postgres",
      async () => (await stack.scoreRow(tenant)) === `${view.score.toFixed(4)}|${view.signalCount}`,
      60_000,
    );
  }, 200_000);

  it("`npm run sinks:inspect` reports each store as the runbook's inspect step needs it", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "sinks:inspect", "--", "--json"], {
      cwd: root,
      env: { ...process.env, ...stack.serviceEnv(), DATABASE_URL: stack.pg.url },
    });
    const report = JSON.parse(stdout) as {
      neo4j: { signals: number; gc: Array<{ collector: string; count: number }>; heapMaxMiB: number; cpus: number };
      postgres: { scores: number; connections: Record<string, number>; freshestScoreAgeS: number };
    };
    const [graph] = await cypher<{ n: { toNumber(): number } }>("MATCH (s:Signal) RETURN count(s) AS n");
    expect(report.neo4j.signals).toBe(graph?.n.toNumber());
    expect(report.neo4j.gc.length).toBeGreaterThan(0);
    expect(report.neo4j.heapMaxMiB).toBeGreaterThan(0);
    expect(report.neo4j.cpus).toBeGreaterThan(0);
    expect(report.postgres.scores).toBe(Number(await psql("SELECT count(*) FROM coherence_scores")));
    expect(report.postgres.connections.active).toBeGreaterThanOrEqual(1);
  });

  it("connects as a least-privileged user: it upserts scores but cannot drop, delete or create (STRIDE: elevation)", async () => {
    const tenant = `sink-lp-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    expect((await ingest(svc.baseUrl, { signals: batch(tenant, 0, 3) }, token)).status).toBe(202);
    await eventually(
      "the score written by coherence_worker",
      async () => (await psql(`SELECT signal_count FROM coherence_scores WHERE tenant_id = '${tenant}'`)) === "3",
      60_000,
    );
    for (const sql of [
      "DROP TABLE coherence_scores",
      `DELETE FROM coherence_scores WHERE tenant_id = '${tenant}'`,
      "CREATE TABLE escalated (x int)",
      "ALTER TABLE coherence_scores ADD COLUMN x int",
      // The provenance ledger is append-only for the writer.
      "UPDATE provenance_ledger SET signal_count = 0",
      "DELETE FROM provenance_ledger",
    ]) {
      await expect(psql(sql, stack.workerUrl()), sql).rejects.toThrow(/permission denied|must be owner/);
    }
    expect(await psql(`SELECT signal_count FROM coherence_scores WHERE tenant_id = '${tenant}'`)).toBe("3");
  }, 90_000);

  it("stores hostile strings verbatim: Cypher and SQL are parameterized (STRIDE: elevation, tampering)", async () => {
    const tenant = `sink-inj-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const hostile = [
      "x'}) MATCH (n) DETACH DELETE n //",
      '"}) WITH 1 AS x MATCH (n) DETACH DELETE n RETURN 1 //',
      "'); DROP TABLE coherence_scores; --",
      "$t {tenant_id: 'other'} \\u0027 `backtick`",
    ];
    const before = await cypher<{ n: { toNumber(): number } }>("MATCH (n) RETURN count(n) AS n");
    const signals = hostile.map((text, i) => ({
      tenantId: tenant,
      signalId: text.slice(0, 40) + i,
      type: text,
      source: text,
      value: 0.5,
      ts: new Date(BASE_MS + i).toISOString(),
    }));
    expect((await ingest(svc.baseUrl, { signals }, token)).status).toBe(202);
    await eventually(
      "the hostile signals in Neo4j",
      async () => (await signalsInGraph(tenant)) === hostile.length,
      60_000,
    );
    const stored = await cypher<{ id: string; type: string; source: string }>(
      "MATCH (:Tenant {tenant_id: $t})-[:EMITS]->(s:Signal) RETURN s.signal_id AS id, s.type AS type, s.source AS source ORDER BY id",
      { t: tenant },
    );
    expect(stored).toEqual(
      signals.map((x) => ({ id: x.signalId, type: x.type, source: x.source })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    const after = await cypher<{ n: { toNumber(): number } }>("MATCH (n) RETURN count(n) AS n");
    // Nothing was deleted: the graph only grew (by the tenant's signals, its node and its score).
    expect(after[0]?.n.toNumber()).toBeGreaterThan(before[0]?.n.toNumber() ?? 0);
    expect(await psql("SELECT to_regclass('coherence_scores') IS NOT NULL")).toBe("t");
  }, 90_000);
});
