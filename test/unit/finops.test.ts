import { describe, expect, it } from "vitest";
import { newlyCrossed, tenantBudget } from "../../src/finops/budget";
import { type DayUsage, estimateCost, estimatedCostUsd } from "../../src/finops/cost-model";
import { daysBetween, dayView, expiresAtS, hashFromReply, usageKey } from "../../src/finops/usage";

const day = (over: Partial<DayUsage> = {}): DayUsage => ({
  requests: { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 },
  signals: 0,
  rejected: 0,
  upstashCommands: 0,
  ...over,
});

describe("cost model (hand-computed figures)", () => {
  it("prices 1,000 ingest requests carrying 10,000 signals, 2,000 reads and 100 Upstash commands", () => {
    const cost = estimateCost(
      day({
        requests: { ingest: 1000, graphql_query: 2000, graphql_mutation: 0, subscribe: 0 },
        signals: 10_000,
        upstashCommands: 100,
      }),
    );
    // Workers: 3,000 requests × $0.30/M
    expect(cost.workers).toBeCloseTo(0.0009, 12);
    // Objects: 3,000 × $0.15/M + 3,000 × 5 ms × 0.128 GB × $12.50/M GB-s + (10,000 × 3 + 3,000 × 2) rows × $1/M
    expect(cost.durableObjects).toBeCloseTo(0.00045 + 0.000024 + 0.036, 12);
    // Queues: 1,000 writes × 6 operations × $0.40/M
    expect(cost.queues).toBeCloseTo(0.0024, 12);
    // Upstash: 100 commands × $0.20/100k
    expect(cost.upstash).toBeCloseTo(0.0002, 12);
    // Neon: 1,000 writes × (5 ms × 0.25 CU) × $0.14/CU-h
    expect(cost.neon).toBeCloseTo((1000 * 0.005 * 0.25 * 0.14) / 3600, 12);
    expect(cost.total).toBeCloseTo(0.040022611, 9);
    expect(
      estimatedCostUsd(
        day({
          requests: { ingest: 1000, graphql_query: 2000, graphql_mutation: 0, subscribe: 0 },
          signals: 10_000,
          upstashCommands: 100,
        }),
      ),
    ).toBe(0.04002261);
  });

  it("charges rejected requests as Worker and object requests but no queue or Neon writes", () => {
    const cost = estimateCost(
      day({ requests: { ingest: 10, graphql_query: 0, graphql_mutation: 0, subscribe: 0 }, rejected: 10 }),
    );
    expect(cost.queues).toBe(0);
    expect(cost.neon).toBe(0);
    expect(cost.workers).toBeCloseTo(10 * 0.3e-6, 15);
  });

  it("is zero for an idle day", () => {
    expect(estimatedCostUsd(day())).toBe(0);
  });
});

describe("budgets (.maestro/ci_budget.json)", () => {
  it("reads the per-tenant budget of an environment, with an override for the daily figure", () => {
    expect(tenantBudget("production")).toEqual({ dailyUsd: 5, monthlyUsd: 150 });
    expect(tenantBudget("development", 0.001)).toEqual({ dailyUsd: 0.001, monthlyUsd: 15 });
    expect(tenantBudget("no-such-env")).toEqual(tenantBudget("production"));
  });

  it("raises each threshold once: warning at 80 %, critical at 95 %", () => {
    expect(newlyCrossed(0.79, 1, new Set())).toEqual([]);
    expect(newlyCrossed(0.8, 1, new Set())).toEqual(["warning"]);
    expect(newlyCrossed(0.9, 1, new Set(["warning"]))).toEqual([]);
    expect(newlyCrossed(0.95, 1, new Set(["warning"]))).toEqual(["critical"]);
    expect(newlyCrossed(2, 1, new Set())).toEqual(["warning", "critical"]);
    expect(newlyCrossed(2, 1, new Set(["warning", "critical"]))).toEqual([]);
    expect(newlyCrossed(5, 0, new Set())).toEqual([]);
  });
});

describe("usage keys and days", () => {
  it("lists the days of a range inclusively and refuses impossible dates", () => {
    expect(daysBetween("2026-02-27", "2026-03-02")).toEqual(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    expect(daysBetween("2026-11-27", "2026-11-27")).toEqual(["2026-11-27"]);
    expect(daysBetween("2026-02-30", "2026-03-01")).toBeNull();
    expect(daysBetween("2026-03-02", "2026-03-01")).toBeNull();
    expect(daysBetween("2026-3-1", "2026-03-01")).toBeNull();
  });

  it("expires a day's counters a retention (365 d) and two days after the day began", () => {
    expect(expiresAtS("2026-01-01") - Date.parse("2026-01-01T00:00:00Z") / 1000).toBe(367 * 86_400);
    expect(usageKey("acme:eu", "2026-11-27")).toBe("usage:v1:acme:eu:2026-11-27");
  });

  it("builds a day from its hash fields, summing signals and rejections over operations", () => {
    const view = dayView("2026-11-27", {
      ingest: "3",
      "ingest:rejected": "1",
      "ingest:signals": "20",
      graphql_query: "5",
      "graphql_query:rejected": "2",
      subscribe: "1",
    });
    expect(view).toMatchObject({
      date: "2026-11-27",
      requests: { ingest: 3, graphql_query: 5, graphql_mutation: 0, subscribe: 1 },
      signals: 20,
      rejected: 3,
    });
    expect(view.estimatedCostUsd).toBeGreaterThan(0);
    expect(dayView("2026-11-27", null)).toMatchObject({ signals: 0, rejected: 0, estimatedCostUsd: 0 });
  });
});

describe("hashFromReply", () => {
  it("reads HGETALL as a flat field/value list or as an object", () => {
    expect(hashFromReply(["ingest", "3", "ingest:rejected", "1"])).toEqual({ ingest: "3", "ingest:rejected": "1" });
    expect(hashFromReply([])).toEqual({});
    expect(hashFromReply({ ingest: 2 })).toEqual({ ingest: 2 });
    expect(hashFromReply(null)).toBeNull();
  });
});
