// Automatic recovery end to end (issue 15): `npm start` with real Neo4j and Postgres and a retry budget shortened by
// settings (2 attempts, delays ≤ 1 s, first redrive probe after 1 s); both stores go down for longer than that whole
// budget while producers keep sending; once they are back the service converges by itself — every signal once in
// Neo4j, every tenant's latest score in Postgres, nothing left in the dead-letter store — with no `dlq:replay`.
import { afterAll, describe, expect, it } from "vitest";
import { mintToken, type RunningService, startService } from "../support/harness";
import { beforeAllOrFail } from "../support/vitest-hooks";
import { bearer, ingest, readScore, send } from "./helpers";
import { eventually, SinkStack, signalBatch } from "./sink-stack";

let stack: SinkStack;
let svc: RunningService;

beforeAllOrFail(async () => {
  stack = await SinkStack.start("pg-recovery");
  svc = await startService({
    env: {
      ...stack.serviceEnv(),
      RPS_MAX: "100000",
      SINK_MAX_ATTEMPTS: "2",
      SINK_RETRY_DELAY_CAP_S: "1",
      SINK_REDRIVE_BASE_MS: "1000",
    },
    // While the stores are down the consumer and the redrive probe say so (warn lines) and messages are
    // dead-lettered on purpose (error lines naming the code): expected here, and nothing else may be.
    allowLogLines: [/"error_code":"RETRIES_EXHAUSTED"/],
  });
}, 600_000);

afterAll(async () => {
  await svc?.stop();
  await stack?.close();
});

const BASE_MS = Date.now() - 3_600_000;
function batch(tenantId: string, from: number, count: number) {
  return signalBatch(tenantId, from, count, BASE_MS, "recovery-e2e");
}

async function graphCount(prefix: string): Promise<{ n: number; distinct: number }> {
  const [row] = await stack.cypher<{ n: { toNumber(): number }; d: { toNumber(): number } }>(
    `MATCH (t:Tenant)-[:EMITS]->(s:Signal) WHERE t.tenant_id STARTS WITH $p
     RETURN count(s) AS n, count(DISTINCT s.key) AS d`,
    { p: prefix },
  );
  return { n: row?.n.toNumber() ?? 0, distinct: row?.d.toNumber() ?? 0 };
}

describe("automatic recovery", () => {
  it("converges exactly after an outage longer than the whole retry budget, with no manual step", async () => {
    const prefix = `recover-${Date.now().toString(36)}-`;
    const tenants = [`${prefix}a`, `${prefix}b`];
    const tokens = await Promise.all(tenants.map((t) => mintToken(t, "coherence:read coherence:write")));
    const ops = await mintToken("*", "metrics:read");
    const dlq = async () =>
      (await send(`${svc.baseUrl}/v1/ops/dlq`, { headers: bearer(ops) })).body as {
        count: number;
        redrive: { pending: number; failedProbes: number };
      };
    let sent = 0;
    const publish = async (n: number) => {
      const answers = await Promise.all(
        tenants.map((t, i) => ingest(svc.baseUrl, { signals: batch(t, sent, n) }, tokens[i])),
      );
      for (const a of answers) expect(a.status, a.text).toBe(202); // ingest never depends on the stores
      sent += n;
    };
    await publish(50);
    await eventually("the first signals in Neo4j", async () => (await graphCount(prefix)).n === sent * 2, 60_000);

    await stack.stopStores();
    const downSince = Date.now();
    while (Date.now() - downSince < 25_000) {
      await publish(20);
      await new Promise((r) => setTimeout(r, 2500));
    }
    // The budget ran out during the outage: messages are in the dead-letter store, and its probes are failing.
    await eventually("dead letters from the outage", async () => (await dlq()).redrive.pending > 0, 30_000);
    expect((await dlq()).redrive.failedProbes).toBeGreaterThan(0);
    const during = await (
      await fetch(`${svc.baseUrl}/metrics`, { headers: bearer(await mintToken("*", "metrics:read")) })
    ).text();
    expect(Number(/^sink_dead_letters (\d+)$/m.exec(during)?.[1])).toBeGreaterThan(0);

    await stack.restart();
    await eventually(
      "every signal once in Neo4j, by itself",
      async () => {
        const c = await graphCount(prefix);
        return c.n === sent * 2 && c.distinct === c.n;
      },
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
    await eventually("an empty dead-letter store", async () => (await dlq()).count === 0, 60_000);
    expect(svc.output()).toContain('"op":"dlq_redrive"');

    // What an operator's Prometheus saw of it (docs/api.md §4.7): failed writes, dead letters, the lag, then calm.
    const scrape = await mintToken("*", "metrics:read");
    const value = async (series: string) => {
      const text = await (await fetch(`${svc.baseUrl}/metrics`, { headers: bearer(scrape) })).text();
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? null : Number(line.slice(series.length + 1));
    };
    // Both stores were down: a tenant's share fails on whichever store answers first, so count errors of any store.
    const errors = async () => {
      const text = await (await fetch(`${svc.baseUrl}/metrics`, { headers: bearer(scrape) })).text();
      return text
        .split("\n")
        .filter((l) => l.startsWith("sink_writes_total{") && l.includes('outcome="error"'))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    };
    await eventually("the outage in sink_writes_total", async () => (await errors()) > 0, 15_000);
    expect(await value('sink_queue_messages_total{outcome="dead_lettered"}')).toBeGreaterThan(0);
    expect(await value('sink_queue_messages_total{outcome="retried"}')).toBeGreaterThan(0);
    expect(await value("sink_queue_messages_sent_total")).toBeGreaterThan(0);
    // Each write's lag reaches the metrics after the write itself (recorded off the request path): wait for all.
    await eventually(
      "every signal's Neo4j write lag observed",
      async () => ((await value('sink_lag_seconds_count{store="neo4j"}')) ?? 0) >= sent * 2,
      30_000,
    );
    expect(await value("sink_dead_letters")).toBe(0);
    expect(await value("sink_dead_letters_redrive_pending")).toBe(0);
    await eventually("an empty outbox", async () => (await value("sink_outbox_backlog_signals")) === 0, 15_000);
    expect(await value("sink_outbox_oldest_unsent_age_seconds")).toBe(0);
  }, 600_000);
});
