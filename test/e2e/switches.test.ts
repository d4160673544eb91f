// Runtime switches end to end (docs/api.md §4.11, issue 15): `npm start` with real Neo4j and Postgres, each switch
// flipped with `npm run ops` as an operator would, its effect seen over HTTP within 5 s with no restart, and the
// data kept — checked in the stores with psql and neo4j-driver, never through the code under test.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import neo4jDriver from "neo4j-driver";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import {
  bearer,
  expectGraphqlError,
  expectRestError,
  graphql,
  type HttpResult,
  ingest,
  readScore,
  send,
} from "./helpers";
import { eventually, SinkStack } from "./sink-stack";

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);
/** The bound: a change takes effect within this, everywhere. */
const EFFECT_MS = 5000;

let stack: SinkStack;
let svc: RunningService;
let opsToken: string;

beforeAllOrFail(async () => {
  stack = await SinkStack.start("pg-switches");
  svc = await startService({ env: { ...stack.serviceEnv(), RPS_MAX: "100000" } });
  opsToken = await mintToken("*", "ops:write metrics:read");
}, 600_000);

// A test that fails midway must not leave a switch flipped for the next one.
afterEach(async () => {
  const listing = await send(`${svc.baseUrl}/v1/ops/switches`, { headers: bearer(opsToken) });
  for (const s of (listing.body as { switches: Array<{ name: string; source: string }> }).switches) {
    if (s.source === "switch") await ops(s.name, "reset");
  }
});

afterAll(async () => {
  await svc?.stop();
  await stack?.close();
});

/** `npm run ops -- <args>` against the service, as an operator runs it; its JSON answer. */
async function ops(...args: string[]): Promise<{ change?: { name: string; value: string | null; id: number } }> {
  const { stdout } = await run("npm", ["run", "--silent", "ops", "--", ...args, "--json"], {
    cwd: root,
    env: { ...process.env, COHERENCE_URL: svc.baseUrl },
  });
  return JSON.parse(stdout);
}

/** Polls `probe` until `done` holds; returns how long after `since` it first held (fails past `EFFECT_MS`). */
async function takesEffect(
  what: string,
  probe: () => Promise<HttpResult>,
  done: (r: HttpResult) => boolean,
  since: number,
): Promise<number> {
  for (;;) {
    const r = await probe();
    const elapsed = Date.now() - since;
    if (done(r)) return elapsed;
    if (elapsed > EFFECT_MS)
      throw new Error(`${what} not in effect ${elapsed} ms after the change: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

function signals(tenantId: string, rows: Array<[value: number, weight: number]>, tag = "s") {
  return rows.map(([value, weight], i) => ({
    tenantId,
    signalId: `${tag}-${i}`,
    type: "latency",
    source: "switches-e2e",
    value,
    weight,
    ts: new Date(Date.now() - 60_000 - i).toISOString(),
  }));
}

/** The contract's score, computed here: weighted mean, 4 decimals. */
function expectedScore(rows: Array<[number, number]>): number {
  const sumW = rows.reduce((a, [, w]) => a + w, 0);
  return Number((rows.reduce((a, [v, w]) => a + v * w, 0) / sumW).toFixed(4));
}

async function signalsInGraph(tenant: string): Promise<number> {
  const [row] = await stack.cypher<{ n: { toNumber(): number } }>(
    "MATCH (:Tenant {tenant_id: $t})-[:EMITS]->(s:Signal) RETURN count(s) AS n",
    { t: tenant },
  );
  return row ? row.n.toNumber() : 0;
}

const scoreRow = (tenant: string) => stack.scoreRow(tenant);

describe("runtime switches (npm run ops)", () => {
  it("refuses a change without ops:write, an unknown switch and a bad value", async () => {
    const put = (name: string, body: unknown, token?: string) =>
      send(`${svc.baseUrl}/v1/ops/switches/${encodeURIComponent(name)}`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...bearer(token) },
        body: JSON.stringify(body),
      });
    expectRestError(await put("coherence", { value: "off" }), 401);
    expectRestError(await put("coherence", { value: "off" }, await mintToken("*", "metrics:read")), 403, "FORBIDDEN");
    const tenantToken = await mintToken("t-switch", "coherence:read coherence:write ops:write");
    expectRestError(await put("coherence", { value: "off" }, tenantToken), 403, "FORBIDDEN");
    expectRestError(await put("no-such-switch", { value: "on" }, opsToken), 400, "VALIDATION_FAILED");
    expectRestError(await put("read-mode", { value: "redis" }, opsToken), 400, "VALIDATION_FAILED");
    expectRestError(await put("op:pq_nope_v1", { value: "on" }, opsToken), 400, "VALIDATION_FAILED");
    // Nothing was changed by any of them.
    const listing = await send(`${svc.baseUrl}/v1/ops/switches`, { headers: bearer(opsToken) });
    expect(listing.status, listing.text).toBe(200);
    const body = listing.body as { switches: Array<{ source: string }>; history: unknown[] };
    expect(body.switches.every((s) => s.source === "default")).toBe(true);
    expect(body.history).toEqual([]);
  });

  it("coherence off answers 503 FEATURE_DISABLED within 5 s; on again serves the same data", async () => {
    const tenant = `sw-flag-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const rows: Array<[number, number]> = [
      [0.9, 1],
      [0.4, 2],
      [0.7, 1],
    ];
    expect((await ingest(svc.baseUrl, { signals: signals(tenant, rows) }, token)).status).toBe(202);
    const before = await readScore(svc.baseUrl, tenant, token);
    expect(before.score).toBe(expectedScore(rows));

    const changed = await ops("coherence", "off", "--reason", "e2e: incident drill");
    const at = Date.now();
    expect(changed.change).toMatchObject({ name: "coherence", value: "off" });
    const read = () =>
      graphql(svc.baseUrl, { id: "pq_tenant_coherence_full_v1", variables: { tenantId: tenant } }, token);
    await takesEffect("coherence off (graphql)", read, (r) => r.status === 503, at);
    expectGraphqlError(await read(), 503, "FEATURE_DISABLED");
    expectRestError(
      await ingest(svc.baseUrl, { signals: signals(tenant, [[0.1, 1]], "off") }, token),
      503,
      "FEATURE_DISABLED",
    );

    await ops("coherence", "on");
    await takesEffect("coherence on", read, (r) => r.status === 200, Date.now());
    expect(await readScore(svc.baseUrl, tenant, token)).toEqual(before);
    // Audited: the log line names the switch, its old and new value, the reason and a pseudonym (never `sub`).
    const audit = svc
      .output()
      .split("\n")
      .filter((l) => l.includes('"op":"switch_change"') && l.includes('"switch":"coherence"'));
    expect(audit.length).toBeGreaterThanOrEqual(2);
    expect(audit[0]).toContain('"reason":"e2e: incident drill"');
    expect(audit[0]).toMatch(/"subject_hash":"[A-Za-z0-9_-]{16,}"/);
    const listing = await send(`${svc.baseUrl}/v1/ops/switches`, { headers: bearer(opsToken) });
    const history = (listing.body as { history: Array<{ name: string; value: string | null }> }).history;
    expect(history.slice(0, 2).map((h) => [h.name, h.value])).toEqual([
      ["coherence", "on"],
      ["coherence", "off"],
    ]);
  });

  it("op:<name> on answers that persisted operation with a static 503 and leaves the others", async () => {
    const tenant = `sw-op-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    await ingest(svc.baseUrl, { signals: signals(tenant, [[0.8, 1]]) }, token);
    await ops("op:pq_tenant_coherence_v1", "on", "--reason", "e2e: repoint");
    const at = Date.now();
    const short = () => graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId: tenant } }, token);
    await takesEffect("op switch", short, (r) => r.status === 503, at);
    const refused = await short();
    expect(refused.text).toContain("OPERATION_DISABLED");
    expect(refused.headers.get("retry-after")).toBe("60");
    // The same query by GET is refused too; the other operations answer.
    const viaGet = await send(
      `${svc.baseUrl}/graphql?id=pq_tenant_coherence_v1&variables=${encodeURIComponent(JSON.stringify({ tenantId: tenant }))}`,
      { headers: bearer(token) },
    );
    expect(viaGet.status, viaGet.text).toBe(503);
    expect((await readScore(svc.baseUrl, tenant, token)).score).toBe(0.8);
    expect((await ingest(svc.baseUrl, { signals: signals(tenant, [[0.6, 1]], "more") }, token)).status).toBe(202);

    await ops("op:pq_tenant_coherence_v1", "reset");
    await takesEffect("op switch reset", short, (r) => r.status === 200, Date.now());
    expect((await short()).body).toMatchObject({ data: { tenantCoherence: { score: 0.7 } } });
  });

  it("read-mode postgres and neo4j read those stores (ADR-001), durable-object again after reset", async () => {
    const tenant = `sw-read-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const rows: Array<[number, number]> = [
      [0.95, 3],
      [0.35, 1],
      [0.6, 2],
      [0.2, 1],
    ];
    await ingest(svc.baseUrl, { signals: signals(tenant, rows) }, token);
    const own = await readScore(svc.baseUrl, tenant, token);
    expect(own.score).toBe(expectedScore(rows));
    await eventually("the signals in Neo4j", async () => (await signalsInGraph(tenant)) === rows.length, 60_000);
    await eventually(
      "the score in Postgres",
      async () => (await scoreRow(tenant)) === `${own.score.toFixed(4)}|4`,
      60_000,
    );

    // Postgres: a value only Postgres holds shows the read goes there.
    await stack.psql(`UPDATE coherence_scores SET score = 0.1234 WHERE tenant_id = '${tenant}'`);
    await ops("read-mode", "postgres");
    const read = () => readScore(svc.baseUrl, tenant, token);
    const at = Date.now();
    for (;;) {
      if ((await read()).score === 0.1234) break;
      expect(Date.now() - at, "read-mode postgres within 5 s").toBeLessThan(EFFECT_MS);
      await new Promise((r) => setTimeout(r, 100));
    }

    // Neo4j: computed from the graph's signals; one added to the graph alone changes it as computed here.
    await ops("read-mode", "neo4j");
    const fromGraph = await read();
    expect(fromGraph).toMatchObject({ score: expectedScore(rows), status: own.status, signalCount: rows.length });
    await stack.cypher(
      `MATCH (t:Tenant {tenant_id: $t})
       CREATE (t)-[:EMITS]->(:Signal {key: $t + '-graph-only', tenant_id: $t, signal_id: 'graph-only', value: 0.0,
         weight: 5.0, source: 'test', ts: datetime({epochMillis: $ts}), accepted_at: datetime({epochMillis: $ts})})`,
      { t: tenant, ts: neo4jDriver.int(Date.now() - 120_000) },
    );
    const withExtra: Array<[number, number]> = [...rows, [0, 5]];
    expect(await read()).toMatchObject({ score: expectedScore(withExtra), signalCount: withExtra.length });

    await ops("read-mode", "reset");
    expect(await read()).toEqual(own);
  });

  it("materializer off keeps the stores' backlog parked; on again converges exactly", async () => {
    const tenant = `sw-mat-${Date.now().toString(36)}`;
    const token = await mintToken(tenant, "coherence:read coherence:write");
    await ops("materializer", "off", "--reason", "e2e: uninstall materializer");
    // Every isolate's copy is at most 5 s old; the first batch after that is parked.
    await new Promise((r) => setTimeout(r, EFFECT_MS));
    const rows = Array.from({ length: 40 }, (_, i): [number, number] => [((i * 7) % 11) / 10, 1 + (i % 3)]);
    for (let i = 0; i < rows.length; i += 10) {
      const res = await ingest(svc.baseUrl, { signals: signals(tenant, rows.slice(i, i + 10), `b${i}`) }, token);
      expect(res.status, res.text).toBe(202);
    }
    const dlq = () =>
      send(`${svc.baseUrl}/v1/ops/dlq`, { headers: bearer(opsToken) }).then(
        (r) => r.body as { count: number; parked: { count: number } },
      );
    await eventually("the batches parked", async () => (await dlq()).parked.count > 0, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await signalsInGraph(tenant)).toBe(0);
    expect(await scoreRow(tenant)).toBe("");

    await ops("materializer", "on");
    const own = await readScore(svc.baseUrl, tenant, token);
    await eventually("every signal in Neo4j", async () => (await signalsInGraph(tenant)) === rows.length, 60_000);
    await eventually(
      "the object's score in Postgres",
      async () => (await scoreRow(tenant)) === `${own.score.toFixed(4)}|${rows.length}`,
      60_000,
    );
    const after = await dlq();
    expect(after).toMatchObject({ count: 0, parked: { count: 0 } });
    // Exactly once in the graph: no signal doubled by the park and release.
    const [dupes] = await stack.cypher<{ n: { toNumber(): number } }>(
      `MATCH (:Tenant {tenant_id: $t})-[:EMITS]->(s:Signal) WITH s.signal_id AS id, count(*) AS c WHERE c > 1
       RETURN count(id) AS n`,
      { t: tenant },
    );
    expect(dupes?.n.toNumber()).toBe(0);
  });
});
