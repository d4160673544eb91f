// The operators' overview (docs/api.md §4.12) over real HTTP against `npm start`: tenants created here appear by
// themselves within seconds of their signals, worst first, a page at a time, and only for operator tokens.
import { describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { expectGraphqlError, graphql, ingest, newTenant } from "./helpers";

const svc = serviceForFile();

interface Row {
  tenantId: string;
  score: number;
  status: string;
  signalCount: number;
  lastSignalAt: string | null;
  updatedAt: string;
}
interface Page {
  total: number;
  byStatus: Record<string, number>;
  tenants: Row[];
  next: string | null;
}

async function overview(token: string, variables: Record<string, unknown> = {}): Promise<Page> {
  const res = await graphql(svc.baseUrl, { id: "pq_tenants_overview_v1", variables }, token);
  expect(res.status, res.text).toBe(200);
  return (res.body as { data: { tenantsOverview: Page } }).data.tenantsOverview;
}

/** Every page of the overview, `first` at a time. */
async function allPages(token: string, first: number): Promise<Row[]> {
  const rows: Row[] = [];
  let after: string | null = null;
  do {
    const page: Page = await overview(token, { first, after });
    rows.push(...page.tenants);
    after = page.next;
  } while (after !== null);
  return rows;
}

describe("pq_tenants_overview_v1", () => {
  it("lists every tenant worst first within seconds of its signals, page by page", async () => {
    const operator = await mintToken("*", "coherence:read");
    const prefix = newTenant("ov");
    const mix: Array<[suffix: string, values: number[]]> = [
      ["healthy", [0.9, 0.95]],
      ["critical", [0.1, 0.3]],
      ["warn", [0.6, 0.55]],
      ["worse", [0.05]],
    ];
    const sentAt = Date.now();
    for (const [suffix, values] of mix) {
      const tenantId = `${prefix}-${suffix}`;
      const token = await mintToken(tenantId, "coherence:write");
      const res = await ingest(
        svc.baseUrl,
        { signals: values.map((value, i) => ({ tenantId, signalId: `s${i}`, source: "p", type: "t", value })) },
        token,
      );
      expect(res.status, res.text).toBe(202);
    }
    const mine = (rows: Row[]) => rows.filter((r) => r.tenantId.startsWith(prefix));
    await expect
      .poll(async () => mine((await overview(operator, { first: 1000 })).tenants).length, { timeout: 15_000 })
      .toBe(mix.length);
    const rows = mine((await overview(operator, { first: 1000 })).tenants);
    expect(rows.map((r) => r.tenantId.slice(prefix.length + 1))).toEqual(["worse", "critical", "warn", "healthy"]);
    for (const [suffix, values] of mix) {
      const row = rows.find((r) => r.tenantId === `${prefix}-${suffix}`) as Row;
      expect(row.score).toBe(computeScore(values.map((v) => ({ v }))));
      expect(row.signalCount).toBe(values.length);
      expect(Date.parse(row.lastSignalAt ?? "")).toBeGreaterThanOrEqual(sentAt - 1000);
    }
    // Pages of 2 give the same order, each tenant once.
    const paged = mine(await allPages(operator, 2)).map((r) => r.tenantId);
    expect(paged).toEqual(rows.map((r) => r.tenantId));
    const page = await overview(operator, { first: 1 });
    expect(page.total).toBe(Object.values(page.byStatus).reduce((a, b) => a + b, 0));
  });

  it("is for operators with coherence:read only, and refuses bad page arguments", async () => {
    const tenantToken = await mintToken(newTenant(), "coherence:read");
    expectGraphqlError(await graphql(svc.baseUrl, { id: "pq_tenants_overview_v1" }, tenantToken), 403, "FORBIDDEN");
    const noScope = await mintToken("*", "metrics:read finops:read");
    expectGraphqlError(await graphql(svc.baseUrl, { id: "pq_tenants_overview_v1" }, noScope), 403, "FORBIDDEN");
    const operator = await mintToken("*", "coherence:read");
    for (const variables of [{ first: 0 }, { first: 1001 }, { after: "not-a-cursor" }]) {
      const res = await graphql(svc.baseUrl, { id: "pq_tenants_overview_v1", variables }, operator);
      expectGraphqlError(res, 400, "VALIDATION_FAILED");
    }
  });
});
