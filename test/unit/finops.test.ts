import { describe, expect, it } from "vitest";
import { newlyCrossed, tenantBudget } from "../../src/finops/budget";
import {
  estimateCost,
  estimatedCostUsd,
  fixedDailyUsd,
  PRICES,
  queueOperations,
  UNITS,
  type UnitCounts,
  zeroUnits,
} from "../../src/finops/cost-model";
import { daysBetween, dayView, expiresAtS, hashFromReply, usageKey } from "../../src/finops/usage";

const units = (over: Partial<UnitCounts> = {}): UnitCounts => ({ ...zeroUnits(), ...over });

describe("cost model (hand-computed figures from finops/prices.json)", () => {
  it("prices each counted unit at its published rate", () => {
    const cost = estimateCost(
      units({
        worker_requests: 3000,
        worker_cpu_us: 4_000_000, // 4,000 CPU ms
        do_requests: 3000,
        ws_messages_in: 2000, // 100 billed requests at 20:1
        ws_messages_out: 50_000, // not billed
        do_active_ms: 10_000, // 10 s × 0.128 GB = 1.28 GB-s
        do_rows_read: 1_000_000,
        do_rows_written: 10_000,
        do_storage_bytes: 3e9, // a day of 3 GB = 0.1 GB-month
        queue_messages: 20,
        queue_operations: 60,
        upstash_commands: 100,
        neo4j_bytes: 1e6,
        postgres_rows: 1000,
      }),
    );
    // Workers: 3,000 × $0.30/M + 4,000 CPU ms × $0.02/M
    expect(cost.workers).toBeCloseTo(0.0009 + 0.00008, 12);
    // Objects: 3,100 requests × $0.15/M + 1.28 GB-s × $12.50/M + 1M rows read × $0.001/M + 10,000 written × $1/M
    //          + 0.1 GB-month × $0.20
    expect(cost.durableObjects).toBeCloseTo(0.000465 + 0.000016 + 0.001 + 0.01 + 0.02, 12);
    // Queues: 60 operations × $0.40/M
    expect(cost.queues).toBeCloseTo(0.000024, 12);
    // Upstash: 100 commands × $0.20/100k
    expect(cost.upstash).toBeCloseTo(0.0002, 12);
    // Neo4j: 0.001 GB written × $65/GB-month; Postgres: 1,000 rows × 200 B × $0.35/GB-month
    expect(cost.neo4j).toBeCloseTo(0.065, 12);
    expect(cost.postgres).toBeCloseTo(0.00007, 12);
    expect(cost.total).toBeCloseTo(0.097755, 12);
    expect(estimatedCostUsd(units({ worker_requests: 1 }))).toBe(0.0000003);
  });

  it("is linear: the cost of a sum of days is the sum of their costs", () => {
    const a = units({ worker_requests: 7, do_rows_written: 13, queue_operations: 3 });
    const b = units({ worker_requests: 5, ws_messages_in: 40, do_active_ms: 250 });
    const sum = units();
    for (const u of UNITS) sum[u] = a[u] + b[u];
    expect(estimateCost(sum).total).toBeCloseTo(estimateCost(a).total + estimateCost(b).total, 15);
  });

  it("counts queue operations per started 64 KB chunk, three per delivered message", () => {
    expect(queueOperations(1)).toBe(3);
    expect(queueOperations(65_536)).toBe(3);
    expect(queueOperations(65_537)).toBe(6);
  });

  it("charges the stores' hourly figures only for configured stores", () => {
    expect(fixedDailyUsd({ neo4j: false, postgres: false })).toBe(0);
    expect(
      fixedDailyUsd({ neo4j: true, postgres: true }, { ...PRICES, neo4jHour: 0.1, postgresHour: 0.05 }),
    ).toBeCloseTo(3.6, 12);
  });

  it("is zero for an idle day", () => {
    expect(estimatedCostUsd(units())).toBe(0);
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
      "u:worker_requests": "9",
    });
    expect(view).toMatchObject({
      date: "2026-11-27",
      requests: { ingest: 3, graphql_query: 5, graphql_mutation: 0, subscribe: 1 },
      signals: 20,
      rejected: 3,
    });
    // The cost comes from the counted units alone: 9 Worker requests × $0.30/M.
    expect(view.estimatedCostUsd).toBe(0.0000027);
    expect(view.units.worker_requests).toBe(9);
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
