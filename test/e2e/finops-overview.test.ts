// FinOps' all-tenant view (docs/api.md §4.6.1) end to end: `npm start` with its local Upstash (REST dev server in
// front of a real redis-server), GET /v1/finops/usage?tenantId=* and pq_finops_overview_v1. Expected figures come
// from what the client sent and saw, never from the service's own arithmetic; this file's service is fresh, so
// every tenant in the overview is one of ours.
import { describe, expect, it } from "vitest";
import { estimatedCostUsd, UNITS, type UnitCounts } from "../../src/finops/cost-model";
import { mintToken } from "../support/harness";
import { beforeAllOrFail, serviceForFile } from "../support/vitest-hooks";
import { graphql, type HttpResult, ingest, newTenant, send, signal } from "./helpers";
import { RawSocket, realtimeUrl } from "./ws-raw";

const RPS_MAX = 20;
/** The environment's daily budget for this file: a few hundred requests cross both thresholds. */
const ENV_DAILY_BUDGET_USD = 0.002;
const today = () => new Date().toISOString().slice(0, 10);

type Requests = { ingest: number; graphql_query: number; graphql_mutation: number; subscribe: number };
interface Line {
  tenantId: string;
  requests: Requests;
  signals: number;
  rejected: number;
  units: UnitCounts;
  estimatedCostUsd: number;
}
interface Page {
  from: string;
  to: string;
  tenants: Line[];
  totals: Omit<Line, "tenantId"> & { tenants: number; fixedCostUsd: number; totalCostUsd: number };
  nextCursor: string | null;
}

/** What the client sent and saw for one tenant. */
class Tally {
  readonly requests: Requests = { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 };
  rejected = 0;
  signals = 0;
  /** HTTP requests and upgrades: each one Worker request charged to the tenant. */
  workerRequests = 0;
  wsSent = 0;
  add(op: keyof Requests, res: HttpResult): void {
    this.requests[op]++;
    this.workerRequests++;
    if (res.status >= 400) this.rejected++;
    const body = res.body as { accepted?: number };
    if (op === "ingest" && res.status === 202) this.signals += body.accepted ?? 0;
  }
}

const svc = serviceForFile({
  env: {
    RPS_MAX: String(RPS_MAX),
    FINOPS_FLUSH_INTERVAL_MS: "200",
    CONDUCTOR_BUDGET_DAILY_USD: String(ENV_DAILY_BUDGET_USD),
  },
});
let operator: string;

beforeAllOrFail(async () => {
  operator = await mintToken("*", "finops:read");
});

async function overview(params: Record<string, string>, token = operator): Promise<HttpResult> {
  const q = new URLSearchParams({ tenantId: "*", from: today(), to: today(), ...params });
  return send(`${svc.baseUrl}/v1/finops/usage?${q}`, { headers: { authorization: `Bearer ${token}` } });
}

/** Every page of a fresh snapshot, `limit` tenants at a time, with `between` run before each next page. */
async function allPages(limit: number, between: () => Promise<void> = async () => {}): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const res = await overview({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    expect(res.status, res.text).toBe(200);
    const page = res.body as Page;
    pages.push(page);
    cursor = page.nextCursor;
    if (cursor) await between();
  } while (cursor);
  return pages;
}

/** A tenant's own usage read: its object pushes first, so Upstash holds everything answered so far. */
async function pushNow(tenantId: string): Promise<void> {
  const q = new URLSearchParams({ tenantId, from: today(), to: today() });
  const res = await send(`${svc.baseUrl}/v1/finops/usage?${q}`, { headers: { authorization: `Bearer ${operator}` } });
  expect(res.status, res.text).toBe(200);
}

describe("all-tenant usage (tenantId=*)", () => {
  it("lists every tenant's exact counters, most expensive first, with exact totals (4xx, 429 and WebSocket traffic included)", async () => {
    const base = svc.baseUrl;
    const tallies = new Map<string, Tally>();
    // Three tenants with different amounts of traffic, so the ranking is not a tie.
    for (const [n, name] of [
      [1, "ov-small"],
      [3, "ov-mid"],
      [6, "ov-big"],
    ] as const) {
      const tenant = newTenant(name);
      const tally = new Tally();
      tallies.set(tenant, tally);
      const token = await mintToken(tenant, "coherence:read coherence:write");
      for (let i = 0; i < n; i++) {
        tally.add("ingest", await ingest(base, { signals: [signal(tenant), signal(tenant), signal(tenant)] }, token));
      }
      tally.add("ingest", await ingest(base, signal(tenant, { value: 7 }), token)); // 400
      tally.add("ingest", await ingest(base, "x", token, { "content-type": "text/plain" })); // 415
      const read = { id: "pq_tenant_coherence_v1", variables: { tenantId: tenant } };
      for (let i = 0; i < n; i++) tally.add("graphql_query", await graphql(base, read, token));
      // Over RPS_MAX: some 429s, all counted.
      const burst = await Promise.all(Array.from({ length: RPS_MAX * 2 }, () => graphql(base, read, token)));
      for (const res of burst) tally.add("graphql_query", res);
      expect(burst.some((r) => r.status === 429)).toBe(true);
      await new Promise((r) => setTimeout(r, 1100)); // a fresh second for the upgrade
      const ws = await RawSocket.open(realtimeUrl(base, tenant), token);
      tally.workerRequests++; // the upgrade
      await ws.init(token);
      ws.subscribe("a", { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: tenant } });
      ws.subscribe("b", { query: "", id: "pq_tenant_coherence_updates_v1", variables: { tenantId: "someone-else" } });
      tally.wsSent += 3; // connection_init and two subscribes
      await ws.next((f) => f.id === "b" && f.type === "error", 10_000, "the refusal of b");
      await ws.next((f) => f.id === "a" && f.type === "next", 10_000, "a's first score");
      const received = ws.frames.items.length;
      ws.close();
      tally.requests.subscribe += 2;
      tally.rejected += 1;
      await pushNow(tenant);
      // Frames the client received were sent by the object (it may have sent more before the close).
      expect(received).toBeGreaterThanOrEqual(3);
    }

    const pages = await allPages(2);
    const lines = pages.flatMap((p) => p.tenants);
    expect(lines.map((l) => l.tenantId).sort()).toEqual([...tallies.keys()].sort());
    for (const line of lines) {
      const tally = tallies.get(line.tenantId) as Tally;
      expect(line.requests, line.tenantId).toEqual(tally.requests);
      expect(line.rejected, line.tenantId).toBe(tally.rejected);
      expect(line.signals, line.tenantId).toBe(tally.signals);
      expect(line.units.worker_requests, line.tenantId).toBe(tally.workerRequests);
      expect(line.units.ws_messages_in, line.tenantId).toBe(tally.wsSent);
      expect(line.units.ws_messages_out, line.tenantId).toBeGreaterThanOrEqual(3);
      expect(line.units.do_requests).toBeGreaterThanOrEqual(tally.workerRequests);
      expect(line.estimatedCostUsd).toBe(estimatedCostUsd(line.units));
    }
    // Most expensive first, and the biggest spender is the one that sent the most.
    const costs = lines.map((l) => l.estimatedCostUsd);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect(lines[0]?.tenantId).toMatch(/^ov-big/);
    // Totals: the sum of what every tenant's client saw, and of the listed units.
    const totals = pages[0]?.totals as Page["totals"];
    expect(pages.every((p) => JSON.stringify(p.totals) === JSON.stringify(totals))).toBe(true);
    expect(totals.tenants).toBe(3);
    const sum = (f: (t: Tally) => number) => [...tallies.values()].reduce((s, t) => s + f(t), 0);
    for (const op of ["ingest", "graphql_query", "graphql_mutation", "subscribe"] as const) {
      expect(totals.requests[op], op).toBe(sum((t) => t.requests[op]));
    }
    expect(totals.rejected).toBe(sum((t) => t.rejected));
    expect(totals.signals).toBe(sum((t) => t.signals));
    for (const u of UNITS) {
      if (u === "do_storage_bytes" || u === "do_active_ms" || u === "do_requests" || u.startsWith("do_rows")) continue;
      expect(totals.units[u], u).toBe(lines.reduce((s, l) => s + l.units[u], 0));
    }
    expect(totals.units.worker_requests).toBe(sum((t) => t.workerRequests));
    expect(totals.fixedCostUsd).toBe(0); // no store configured here
    expect(totals.totalCostUsd).toBe(totals.estimatedCostUsd);

    // The same page as CSV, for spreadsheets: a header, a row per tenant, the totals as tenant `*` on the last page.
    const csv = await overview({ limit: "10", format: "csv" });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const rows = csv.text.trim().split("\r\n");
    expect(rows[0]?.split(",").slice(0, 5)).toEqual([
      "tenantId",
      "ingest",
      "graphql_query",
      "graphql_mutation",
      "subscribe",
    ]);
    expect(rows.slice(1, -1).map((r) => r.split(",")[0])).toEqual(lines.map((l) => l.tenantId));
    expect(rows.at(-1)?.split(",")[0]).toBe("*");

    // The persisted operation answers the same tenants in the same order.
    const gql = await graphql(
      base,
      { id: "pq_finops_overview_v1", variables: { from: today(), to: today(), first: 10 } },
      operator,
    );
    expect(gql.status, gql.text).toBe(200);
    const data = (gql.body as { data: { finopsOverview: { tenants: Array<{ tenantId: string }> } } }).data;
    expect(data.finopsOverview.tenants.map((t) => t.tenantId)).toEqual(lines.map((l) => l.tenantId));
  }, 120_000);

  it("keeps its pages stable while tenants keep writing: no tenant twice or missing, order kept", async () => {
    const tenants = Array.from({ length: 7 }, (_, i) => newTenant(`ov-page${i}`));
    const tokens = await Promise.all(tenants.map((t) => mintToken(t, "coherence:write")));
    for (const [i, tenant] of tenants.entries()) {
      for (let k = 0; k <= i; k++) await ingest(svc.baseUrl, signal(tenant), tokens[i] as string);
      await pushNow(tenant);
    }
    // Between pages the cheapest tenants write a lot (their pushes land within 200 ms), which would move them
    // to the top of a fresh ranking.
    const pages = await allPages(2, async () => {
      await Promise.all(
        tenants.slice(0, 3).map(async (tenant, i) => {
          for (let k = 0; k < 10; k++) await ingest(svc.baseUrl, signal(tenant), tokens[i] as string);
          await pushNow(tenant);
        }),
      );
    });
    const ids = pages.flatMap((p) => p.tenants.map((t) => t.tenantId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(pages[0]?.totals.tenants);
    for (const tenant of tenants) expect(ids).toContain(tenant);
    const costs = pages.flatMap((p) => p.tenants.map((t) => t.estimatedCostUsd));
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    // A new snapshot sees the writes: one of the busy tenants now outranks a quiet one it was below.
    const fresh = (await allPages(100))[0] as Page;
    const rank = (id: string) => fresh.tenants.findIndex((t) => t.tenantId === id);
    expect(rank(tenants[0] as string)).toBeLessThan(rank(tenants[6] as string));
    // A cursor from another range, or made up, is refused.
    const first = (await overview({ limit: "2" })).body as Page;
    const other = await overview({
      limit: "2",
      cursor: first.nextCursor as string,
      from: "2020-01-01",
      to: "2020-01-01",
    });
    expect(other.status).toBe(400);
    expect((await overview({ cursor: "bm9wZQ" })).status).toBe(400);
  }, 120_000);

  it("is for operator tokens only: a tenant's finops:read token gets 403, and so does a token without finops:read", async () => {
    const tenant = newTenant("ov-iso");
    const res = await overview({}, await mintToken(tenant, "finops:read"));
    expect(res.status).toBe(403);
    expect((res.body as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    expect((await overview({}, await mintToken("*", "metrics:read"))).status).toBe(403);
    const gql = await graphql(
      svc.baseUrl,
      { id: "pq_finops_overview_v1", variables: { from: today(), to: today() } },
      await mintToken(tenant, "finops:read"),
    );
    expect((gql.body as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe(
      "FORBIDDEN",
    );
  });

  it("evaluates the environment's daily budget on the total and alerts once per period and level", async () => {
    // Several tenants push concurrently until the total is past the critical threshold, then keep going.
    const tenants = Array.from({ length: 4 }, (_, i) => newTenant(`ov-env${i}`));
    const tokens = await Promise.all(tenants.map((t) => mintToken(t, "coherence:write")));
    const deadline = Date.now() + 60_000;
    let total = 0;
    while (total < ENV_DAILY_BUDGET_USD * 1.2 && Date.now() < deadline) {
      await Promise.all(
        tenants.map(async (tenant, i) => {
          for (let k = 0; k < 5; k++) {
            await ingest(svc.baseUrl, { signals: [signal(tenant), signal(tenant)] }, tokens[i] as string);
          }
          await pushNow(tenant);
        }),
      );
      total = ((await overview({ limit: "1" })).body as Page).totals.totalCostUsd;
    }
    expect(total).toBeGreaterThanOrEqual(ENV_DAILY_BUDGET_USD);
    // More pushes after the crossing raise nothing new.
    await Promise.all(tenants.map((t) => pushNow(t)));
    const alerts = svc
      .output()
      .split("\n")
      .filter((l) => l.includes('"op":"budget_alert"') && l.includes('"scope":"environment"'))
      .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { period: string; threshold: string; budget_usd: number });
    const day = alerts.filter((a) => a.period === "day");
    expect(day.map((a) => a.threshold).sort()).toEqual(["critical", "warning"]);
    expect(day.every((a) => a.budget_usd === ENV_DAILY_BUDGET_USD)).toBe(true);
    // The monthly budget of the test environment (ci_budget.json, $150) is far away.
    expect(alerts.filter((a) => a.period === "month")).toEqual([]);
    // /metrics counts each once (observations reach the aggregator within a second).
    const ops = await mintToken("*", "metrics:read");
    let line: string | undefined;
    for (let i = 0; i < 20; i++) {
      const metrics = await send(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ops}` } });
      line = metrics.text
        .split("\n")
        .find((l) => l.startsWith('finops_budget_alerts_total{period="day",scope="environment",threshold="critical"}'));
      if (line?.endsWith(" 1")) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(line).toMatch(/ 1$/);
  }, 120_000);
});
