import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { FlushScheduler } from "../../durable-objects/flush-scheduler";
import type { TenantObject } from "../../durable-objects/tenant";
import { PUSH_RETRY_MS, UsageLedger } from "../../durable-objects/usage-ledger";
import { UsageMeter } from "../../durable-objects/usage-meter";
import { loadConfig } from "../../src/config";
import { WINDOW_MS } from "../../src/domain/window";
import { cpuMicros, PRICES } from "../../src/finops/cost-model";
import { alertKey, expiresAtS, usageFields, usageKey, utcDay } from "../../src/finops/usage";
import { MetricsBuffer } from "../../src/metrics/collect";
import { command, signal } from "./helpers";

// The tenant's FinOps counters inside workerd with real SQLite: Upstash is a recording stand-in that can fail,
// and the object's clock is injected a month ahead of the machine's, so only the first push (due at once after
// the first count) may also be run by the runtime itself; the assertions hold whichever ran it.

const MONTH_MS = 30 * 86_400_000;

type Command = [name: "hset" | "expireat", key: string, value: unknown];

/** An Upstash client that records each pipeline it executes and fails while `down`. */
function fakeUpstash() {
  const state = { down: false, attempts: 0, pushes: [] as Command[][] };
  const redis = {
    pipeline() {
      const commands: Command[] = [];
      const pipe = {
        hset(key: string, fields: Record<string, unknown>) {
          commands.push(["hset", key, fields]);
          return pipe;
        },
        expireat(key: string, atS: number) {
          commands.push(["expireat", key, atS]);
          return pipe;
        },
        // The day push (src/finops/overview.ts PUSH_SCRIPT), recorded as the HSET and EXPIREAT of the tenant-day
        // hash it performs; its overview sets and totals are tested against real Redis (test/e2e/finops-*.test.ts).
        eval(_script: string, keys: string[], args: string[]) {
          const n = Number(args[11]);
          const fields: Record<string, number> = {};
          for (let i = 0; i < n; i++) fields[args[12 + 2 * i] as string] = Number(args[13 + 2 * i]);
          commands.push(["hset", keys[0] as string, fields]);
          commands.push(["expireat", keys[0] as string, Number(args[2])]);
          return pipe;
        },
        async exec() {
          state.attempts++;
          if (state.down) throw new Error("upstash unavailable");
          state.pushes.push(commands);
          return commands.map(() => []);
        },
      };
      return pipe;
    },
  };
  return { state, redis: redis as unknown as Redis };
}

async function objectWith(tenantId: string, redis: Redis, nowMs: number) {
  const stub = env.TENANT.get(env.TENANT.idFromName(tenantId));
  await runInDurableObject(stub, (obj: TenantObject) => {
    obj.clock = () => nowMs;
    obj.compose({ queue: null, redis });
  });
  return stub;
}

function usageRows(stub: DurableObjectStub<TenantObject>) {
  return runInDurableObject(stub, (_o: TenantObject, state) =>
    state.storage.sql
      .exec<{ op: string; requests: number; rejected: number; signals: number }>(
        `SELECT op, requests, rejected, signals FROM usage WHERE op != 'upstash' ORDER BY op`,
      )
      .toArray(),
  );
}

function alarmOf(stub: DurableObjectStub<TenantObject>) {
  return runInDurableObject(stub, (_o: TenantObject, state) => state.storage.getAlarm());
}

/** What Upstash holds in hash `key` after every recorded push (HSET sets the fields it names). */
function hashOf(pushes: Command[][], key: string): Record<string, unknown> {
  const writes = pushes.flat().filter(([name, k]) => name === "hset" && k === key);
  return Object.assign({}, ...writes.map((w) => w[2]));
}

describe("usage ledger in workerd", () => {
  it("counts each answered request in the object's storage and pushes absolute counters on its alarm", async () => {
    const t0 = Date.now() + MONTH_MS;
    const tenantId = "usage-push";
    const { state, redis } = fakeUpstash();
    const stub = await objectWith(tenantId, redis, t0);
    const a = signal(tenantId, t0 - 2000, 0.5);
    const b = signal(tenantId, t0 - 1000, 0.7);
    await stub.ingest(command(tenantId, [a, b], t0));
    await stub.ingest(command(tenantId, [b], t0)); // a duplicate: counted as a request, stores no signal
    await stub.score(tenantId, 1000);
    await stub.recordUsage(tenantId, "ingest", true); // refused by the Worker before the object

    const rows = await usageRows(stub);
    expect(rows).toEqual([
      { op: "graphql_query", requests: 1, rejected: 0, signals: 0 },
      { op: "ingest", requests: 3, rejected: 1, signals: 2 },
    ]);

    // Due one flush interval after the last push; the clock moves there and the alarm pushes.
    const interval = loadConfig(env).finops.flushIntervalMs;
    await runInDurableObject(stub, (obj: TenantObject) => {
      obj.clock = () => t0 + interval;
    });
    await runDurableObjectAlarm(stub);
    const key = usageKey(tenantId, utcDay(t0));
    const fields = Object.assign({}, ...rows.map((r) => usageFields(r.op, r)));
    expect(hashOf(state.pushes, key)).toMatchObject(fields);
    expect(state.pushes.flat()).toContainEqual(["expireat", key, expiresAtS(utcDay(t0))]);
    // The billable units, counted where they happened: four Worker requests charged to the tenant (two ingests,
    // a read, one refused before the object), each an object request, plus the alarm that pushed.
    const pushed = hashOf(state.pushes, key);
    expect(pushed["u:worker_requests"]).toBe(4);
    expect(pushed["u:worker_cpu_us"]).toBe(
      cpuMicros("ingest", 2) + cpuMicros("ingest", 1) + cpuMicros("graphql_query") + cpuMicros("ingest"),
    );
    expect(pushed["u:do_requests"]).toBeGreaterThanOrEqual(5);
    expect(pushed["u:do_rows_written"]).toBeGreaterThan(0);
    expect(pushed["u:do_rows_read"]).toBeGreaterThan(0);
    expect(pushed["u:do_storage_bytes"]).toBeGreaterThan(0);
    expect(pushed["u:ws_messages_in"]).toBe(0);
    // Nothing left to push: the alarm is back on the window (the oldest signal leaves it).
    expect(await alarmOf(stub)).toBe(a.tsMs + WINDOW_MS);
  });

  it("keeps the counts when a push fails and retries it later; a usage read pushes at once", async () => {
    const t0 = Date.now() + MONTH_MS;
    const tenantId = "usage-retry";
    const { state, redis } = fakeUpstash();
    state.down = true;
    const stub = await objectWith(tenantId, redis, t0);
    await stub.ingest(command(tenantId, [signal(tenantId, t0 - 1000, 0.5)], t0));
    await runDurableObjectAlarm(stub);
    expect(state.attempts).toBeGreaterThanOrEqual(1);
    expect(state.pushes).toEqual([]);
    expect(await alarmOf(stub)).toBe(t0 + PUSH_RETRY_MS);
    expect(await usageRows(stub)).toEqual([{ op: "ingest", requests: 1, rejected: 0, signals: 1 }]);

    // A usage read asks the object to push first; while Upstash is down the read fails rather than lag.
    const refused = await runInDurableObject(stub, (obj: TenantObject) =>
      obj.flushUsage().then(
        () => "pushed",
        (err: unknown) => String(err),
      ),
    );
    expect(refused).toMatch(/upstash unavailable/);
    state.down = false;
    await stub.flushUsage();
    expect(hashOf(state.pushes, usageKey(tenantId, utcDay(t0)))).toMatchObject(
      usageFields("ingest", { requests: 1, rejected: 0, signals: 1 }),
    );
    expect(await alarmOf(stub)).toBe(t0 - 1000 + WINDOW_MS);
  });

  it("raises each budget alert once per period and level, and pushes it with the counters", async () => {
    const t0 = Date.now() + MONTH_MS;
    const tenantId = "usage-budget";
    const { state, redis } = fakeUpstash();
    const stub = env.TENANT.get(env.TENANT.idFromName(tenantId));
    // The ledger on its own over the object's storage, with a budget the first request exceeds.
    const raised = await runInDurableObject(stub, async (_o: TenantObject, ds) => {
      const config = loadConfig(env);
      const now = () => t0;
      const meter = new UsageMeter(now);
      const ledger = new UsageLedger(
        {
          tenantId,
          config,
          state: ds,
          sql: ds.storage.sql,
          now,
          timers: new FlushScheduler(tenantId, now, () => {}),
          metrics: new MetricsBuffer(env.METRICS, config),
          meter,
        },
        redis,
        {
          prices: PRICES,
          tenantBudget: { dailyUsd: 1e-12, monthlyUsd: 1e-12 },
          environmentBudget: { dailyUsd: 100, monthlyUsd: 3000 },
          fixedDailyUsd: 0,
        },
        meter,
      );
      for (let i = 0; i < 2; i++) {
        ledger.record("ingest", { rejected: false, signals: 1 });
        meter.add("worker_requests", 1);
        ledger.commit();
      }
      await ledger.flush();
      return ds.storage.sql
        .exec<{ period: string; level: string }>(`SELECT period, level FROM budget_alerts ORDER BY period, level`)
        .toArray();
    });
    const day = utcDay(t0);
    const month = day.slice(0, 7);
    const expected = [day, month].flatMap((period) => ["critical", "warning"].map((level) => ({ period, level })));
    // Two requests over the budget, each alert once.
    expect(raised).toHaveLength(expected.length);
    expect(raised).toEqual(expect.arrayContaining(expected));
    for (const period of [day, month]) {
      expect(Object.keys(hashOf(state.pushes, alertKey(tenantId, period))).sort()).toEqual(["critical", "warning"]);
    }
  });
});
