// FinOps (docs/api.md §4.6) end to end: `npm start` with its local Upstash (the REST dev server in front of a real
// redis-server), counters checked through GET /v1/finops/usage and the persisted `tenantUsage` query, and read
// back from Redis through the real @upstash/redis client. Expected counts come from the answers the client saw.
import { describe, expect, it } from "vitest";
import { mintToken, type RunningService, startService, tempStateDir } from "../support/harness";
import { beforeAllOrFail, serviceForFile } from "../support/vitest-hooks";
import { graphql, type HttpResult, ingest, newTenant, readScore, send, signal } from "./helpers";
import { RawSocket, realtimeUrl } from "./ws-raw";

const RPS_MAX = 20;
const today = () => new Date().toISOString().slice(0, 10);

interface UsageDay {
  date: string;
  requests: { ingest: number; graphql_query: number; graphql_mutation: number; subscribe: number };
  signals: number;
  rejected: number;
  estimatedCostUsd: number;
}

/** What the client saw, per operation: answers and how many of them were 4xx/5xx (or `error` messages). */
class Tally {
  readonly requests = { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 };
  rejected = 0;
  signals = 0;
  add(op: keyof Tally["requests"], res: HttpResult): void {
    this.requests[op]++;
    if (res.status >= 400) this.rejected++;
    const body = res.body as { accepted?: number; data?: { publishCoherenceSignal?: boolean } };
    if (op === "ingest" && res.status === 202) this.signals += body.accepted ?? 0;
    if (op === "graphql_mutation" && body.data?.publishCoherenceSignal === true) this.signals += 1;
  }
}

async function usage(baseUrl: string, tenantId: string, token: string): Promise<UsageDay> {
  const q = new URLSearchParams({ tenantId, from: today(), to: today() });
  const res = await send(`${baseUrl}/v1/finops/usage?${q}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, res.text).toBe(200);
  const body = res.body as { tenantId: string; days: UsageDay[] };
  expect(body.tenantId).toBe(tenantId);
  expect(body.days).toHaveLength(1);
  return body.days[0] as UsageDay;
}

const svc = serviceForFile({ env: { RPS_MAX: String(RPS_MAX), FINOPS_TENANT_DAILY_BUDGET_USD: "0.001" } });
let finops: string;

beforeAllOrFail(async () => {
  finops = await mintToken("*", "finops:read");
});

describe("usage counters (§7)", () => {
  it("reports exactly the requests answered per operation, 4xx and 429 included, and the signals stored", async () => {
    const tenant = newTenant("fin");
    const other = newTenant("fin-other");
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const tally = new Tally();
    const base = svc.baseUrl;

    for (let i = 0; i < 3; i++) {
      tally.add("ingest", await ingest(base, { signals: [signal(tenant), signal(tenant)] }, token));
    }
    tally.add("ingest", await ingest(base, signal(tenant, { value: 7 }), token)); // 400
    tally.add("ingest", await ingest(base, signal(other), token)); // 403, charged to the caller
    tally.add("ingest", await ingest(base, "x", token, { "content-type": "text/plain" })); // 415
    tally.add("ingest", await ingest(base, "{", token)); // 400 MALFORMED_JSON
    const read = { id: "pq_tenant_coherence_v1", variables: { tenantId: tenant } };
    for (let i = 0; i < 4; i++) tally.add("graphql_query", await graphql(base, read, token));
    tally.add(
      "graphql_query",
      await graphql(base, { id: "pq_tenant_coherence_v1", variables: { tenantId: other } }, token),
    );
    tally.add("graphql_query", await graphql(base, { id: "pq_no_such_op" }, token)); // unknown operation
    const publish = (input: Record<string, unknown>) => ({ id: "pq_publish_signal_v1", variables: { input } });
    const { signalId: _a, ...one } = signal(tenant);
    const { signalId: _b, ...two } = signal(tenant, { value: 0.2 });
    tally.add("graphql_mutation", await graphql(base, publish(one), token));
    tally.add("graphql_mutation", await graphql(base, publish(two), token));
    tally.add("graphql_mutation", await graphql(base, publish({ ...one, value: -1 }), token)); // 400
    // Over RPS_MAX: some 429s, all counted.
    const burst = await Promise.all(Array.from({ length: RPS_MAX * 2 }, () => graphql(base, read, token)));
    for (const res of burst) tally.add("graphql_query", res);
    expect(burst.some((r) => r.status === 429)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100)); // a fresh second for the subscriptions

    // Subscriptions: two accepted, one for another tenant refused with an error message.
    const wsToken = await mintToken(tenant, "coherence:read");
    const ws = await RawSocket.open(realtimeUrl(base, tenant), wsToken);
    await ws.init(wsToken);
    ws.subscribe("a", { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: tenant } });
    ws.subscribe("b", { query: "", id: "pq_coherence_events_v1", variables: { tenantId: tenant } });
    ws.subscribe("c", { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: other } });
    await ws.next((f) => f.id === "c" && f.type === "error", 10_000, "the refusal of c");
    await ws.next((f) => f.id === "a" && f.type === "next", 10_000, "a's first score");
    ws.close();
    tally.requests.subscribe += 3;
    tally.rejected += 1;

    const day = await usage(base, tenant, finops);
    expect(day.requests).toEqual(tally.requests);
    expect(day.rejected).toBe(tally.rejected);
    expect(day.signals).toBe(tally.signals);
    expect(day.signals).toBe((await readScore(base, tenant, token)).signalCount);
    expect(day.estimatedCostUsd).toBeGreaterThan(0);
    // The tenant next door was only ever named, never charged.
    const neighbour = await usage(base, other, finops);
    expect(neighbour.requests).toEqual({ ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 });
  }, 60_000);

  it("answers the same through the persisted tenantUsage query", async () => {
    const tenant = newTenant("fin-gql");
    const token = await mintToken(tenant, "coherence:read coherence:write finops:read");
    expect((await ingest(svc.baseUrl, signal(tenant), token)).status).toBe(202);
    const rest = await usage(svc.baseUrl, tenant, token);
    const res = await graphql(
      svc.baseUrl,
      { id: "pq_tenant_usage_v1", variables: { tenantId: tenant, from: today(), to: today() } },
      token,
    );
    expect(res.status, res.text).toBe(200);
    const body = res.body as { data: { tenantUsage: { tenantId: string; days: UsageDay[] } } };
    expect(body.data.tenantUsage.tenantId).toBe(tenant);
    // The REST answer also lists the day's billable units (the estimate's inputs); the query names its fields.
    // The first read's own push (rows, time in the object) is counted and shows in the second read's cost.
    const { units: _units, estimatedCostUsd: restCost, ...restFields } = rest as UsageDay & { units?: unknown };
    const { estimatedCostUsd: gqlCost, ...gqlFields } = body.data.tenantUsage.days[0] as UsageDay;
    expect(gqlFields).toEqual(restFields);
    expect(gqlCost).toBeGreaterThanOrEqual(restCost);
  });

  it("lets a tenant read only its own usage, operators (*) any tenant's; refuses bad ranges", async () => {
    const tenant = newTenant("fin-iso");
    const own = await mintToken(tenant, "finops:read");
    const q = (t: string, from = today(), to = today()) =>
      `${svc.baseUrl}/v1/finops/usage?${new URLSearchParams({ tenantId: t, from, to })}`;
    const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    expect((await send(q(tenant), auth(own))).status).toBe(200);
    expect((await send(q(newTenant("victim")), auth(own))).status).toBe(403);
    expect((await send(q(tenant), auth(finops))).status).toBe(200);
    expect((await send(q(tenant), auth(await mintToken(tenant, "coherence:read")))).status).toBe(403);
    expect((await send(q(tenant), {})).status).toBe(401);
    expect((await send(q(tenant, "2026-02-30", "2026-03-01"), auth(own))).body).toMatchObject({
      error: { code: "VALIDATION_FAILED" },
    });
    expect((await send(q(tenant, "2025-01-01", "2026-11-27"), auth(own))).status).toBe(400);
    const range = await send(q(tenant, "2026-11-01", today()), auth(own));
    expect(range.status).toBe(200);
    const days = (range.body as { days: UsageDay[] }).days.map((d) => d.date);
    expect(days[0]).toBe("2026-11-01");
    expect(days.at(-1)).toBe(today());
  });
});

describe("budget alerts", () => {
  it("emits exactly one warning and one critical alert line per tenant and day, however many requests follow", async () => {
    const tenant = newTenant("fin-budget");
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const quiet = newTenant("fin-quiet");
    const quietToken = await mintToken(quiet, "coherence:read");
    // The test budget (FINOPS_TENANT_DAILY_BUDGET_USD, $0.001) is crossed after a few dozen batches (each signal
    // writes a few SQLite rows at $1/M); go well past it. The quiet tenant's one read (its object's creation
    // included, ~100 rows) stays far below it.
    for (let i = 0; i < 6; i++) {
      const batch = () => ({ signals: Array.from({ length: 5 }, () => signal(tenant)) });
      await Promise.all(Array.from({ length: 10 }, () => ingest(svc.baseUrl, batch(), token)));
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(
      (await graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId: quiet } }, quietToken)).status,
    ).toBe(200);
    const day = await usage(svc.baseUrl, tenant, finops);
    expect(day.estimatedCostUsd).toBeGreaterThan(0.001);
    const alerts = svc
      .output()
      .split("\n")
      .filter((l) => l.includes('"op":"budget_alert"'))
      .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Record<string, unknown>);
    const mine = alerts.filter((a) => a.tenant_id === tenant && a.period === "day");
    expect(mine.map((a) => a.threshold).sort()).toEqual(["critical", "warning"]);
    expect(alerts.filter((a) => a.tenant_id === quiet)).toEqual([]);
    // …and as a metric, counted once per alert (this service's tenants may have raised others before).
    const ops = await mintToken("*", "metrics:read");
    const raised = alerts.filter((a) => a.period === "day" && a.threshold === "critical").length;
    let value = -1;
    for (let i = 0; i < 20 && value !== raised; i++) {
      const metrics = await send(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ops}` } });
      const line = metrics.text
        .split("\n")
        .find((l) => l.startsWith('finops_budget_alerts_total{period="day",scope="tenant",threshold="critical"}'));
      value = line ? Number(line.split(" ").at(-1)) : 0;
      if (value !== raised) await new Promise((r) => setTimeout(r, 250));
    }
    expect(value).toBe(raised);
  }, 60_000);
});

describe("durability of the counters", () => {
  it("loses no count and doubles none when npm start is killed during a burst and restarted", async () => {
    const stateDir = tempStateDir();
    let first: RunningService | null = await startService({ stateDir, env: { RPS_MAX: "100000" } });
    const tenant = newTenant("fin-kill");
    const token = await mintToken(tenant, "coherence:read coherence:write");
    const sent = Array.from({ length: 300 }, () => signal(tenant));
    let answered = 0;
    let unanswered = 0;
    const failed: Array<Record<string, unknown>> = [];
    const base = first.baseUrl;
    const burst = (async () => {
      for (let i = 0; i < sent.length; i += 10) {
        await Promise.all(
          sent.slice(i, i + 10).map(async (s) => {
            try {
              const res = await ingest(base, s, token);
              if (res.status === 202) answered++;
              else failed.push(s);
            } catch {
              unanswered++;
              failed.push(s);
            }
          }),
        );
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    await first.stop();
    first = null;
    await burst;
    const second = await startService({ stateDir, env: { RPS_MAX: "100000" } });
    try {
      // Retry what got no answer, as a producer would: dedupe makes a retry of an applied signal a duplicate.
      let retries = 0;
      for (const s of failed) {
        const res = await ingest(second.baseUrl, s, token);
        expect(res.status).toBe(202);
        retries++;
      }
      const day = await usage(second.baseUrl, tenant, finops);
      const stored = (await readScore(second.baseUrl, tenant, token)).signalCount;
      expect(stored).toBe(sent.length);
      expect(day.signals).toBe(stored); // counted in the same transaction as stored: none lost, none doubled
      expect(day.requests.ingest).toBeGreaterThanOrEqual(answered + retries);
      expect(day.requests.ingest).toBeLessThanOrEqual(answered + retries + unanswered);
    } finally {
      await second.stop();
    }
  }, 180_000);
});
