import type { Redis } from "@upstash/redis/cloudflare";
import { type AlertLevel, newlyCrossed, type TenantBudget, THRESHOLDS } from "../src/finops/budget";
import {
  estimatedCostUsd,
  type Prices,
  UNITS,
  type Unit,
  type UnitCounts,
  unitWeights,
  zeroUnits,
} from "../src/finops/cost-model";
import { type EnvCrossing, fieldWeights, PUSH_SCRIPT, parseCrossings, pushArgs } from "../src/finops/overview";
import { alertKey, expiresAtS, USAGE_OPS, type UsageOp, usageFields, utcDay } from "../src/finops/usage";
import { METRICS } from "../src/metrics/model";
import { logEvent } from "../src/telemetry/log";
import type { TenantContext, TenantPart } from "./tenant-part";
import type { UsageMeter } from "./usage-meter";

/** What the ledger prices and judges with: the price sheet (with the plan's store figures) and both budgets. */
export interface LedgerSettings {
  prices: Prices;
  tenantBudget: TenantBudget;
  environmentBudget: TenantBudget;
  /** The environment's fixed cost per day (stores' hourly figures), part of the environment's budget. */
  fixedDailyUsd: number;
}

/** A day's request counters (the units are kept beside them). */
interface DayCounts {
  requests: Record<UsageOp, number>;
  signals: number;
  rejected: number;
}

/** Counter rows kept in the object: long enough for month-to-date budgets. */
const KEEP_DAYS = 40;
/** Pseudo-operation row of older versions counting Upstash commands (now the unit `upstash_commands`). */
const UPSTASH_ROW = "upstash";
/** Retry delay after a failed push (Upstash down); counts stay in the object meanwhile. */
export const PUSH_RETRY_MS = 30_000;
/** Month-to-date budgets are re-checked at most this often per object (the daily one on every request). */
const MONTHLY_CHECK_MS = 1_000;

type Row = {
  day: string;
  op: string;
  requests: number;
  rejected: number;
  signals: number;
};

/**
 * The tenant's FinOps counters (docs/api.md §4.6). Every request the object answers is counted in its SQLite storage
 * in the same synchronous step as the request itself, so a count is never lost when an isolate dies, never
 * doubled, and costs no extra round trip. Changed counters are pushed to Upstash on the object's alarm (every
 * `FINOPS_FLUSH_INTERVAL_MS`) and before every usage read, as absolute values (`HSET`): the object is the only
 * writer of its tenant's keys, so a repeated push is harmless. Budget crossings are raised once per period and
 * level (a row in `budget_alerts`), as one structured log line, and pushed with the counters.
 */
export class UsageLedger implements TenantPart {
  private pushFailedAt: number | null = null;
  /** Environment budget crossings this object has raised (period key | level): each is logged and counted once. */
  private readonly raisedEnvironment = new Set<string>();
  private lastPushAt = 0;
  private lastMonthlyCheck = 0;
  /**
   * What the hot path needs, kept in memory so counting a request is one SQL statement: the change sequence
   * (persisted in the rows it stamps; `usage_meta.seq` is brought up to date at each push), the pushed
   * sequence, the tenant, today's totals (for the daily budget) and the alert levels already raised per period.
   * Loaded from storage on first use; the object is the only writer, so memory and storage cannot diverge.
   */
  private mem: {
    seq: number;
    pushedSeq: number;
    tenantId: string | null;
    day: string;
    today: DayCounts;
    /** Units per day for the days touched since start (loaded from `usage_units` on first use). */
    units: Map<string, UnitCounts>;
    raised: Map<string, Set<AlertLevel>>;
  } | null = null;

  private readonly sql: SqlStorage;
  private readonly weights: UnitCounts;

  constructor(
    private readonly t: TenantContext,
    /** Upstash, or `null` when FinOps pushes are off (counts are still kept). */
    private readonly redis: Redis | null,
    private readonly settings: LedgerSettings,
    private readonly meter: UsageMeter,
  ) {
    this.sql = t.sql;
    this.weights = unitWeights(settings.prices);
  }

  /**
   * Stores the units the meter counted since the last call (end of every invocation of the object, in the same
   * synchronous step as its effects) into the day's row, then checks the tenant's budgets on the new cost.
   *
   * `quiet`: the invocation was the counting machinery's own (an alarm, a push before a usage read, a timer): its
   * units are stored but mark nothing changed, or every push would schedule the next and the object would never
   * idle. They go out with the next push: the day's next real change, or any usage read (which pushes them first).
   * A quiet row has `seq` 0 unless it already waits with a real change.
   */
  commit(quiet = false): void {
    this.meter.set("do_storage_bytes", this.t.sql.databaseSize);
    const taken = this.meter.take();
    if (!taken) return;
    const now = this.t.now();
    const day = utcDay(now);
    const units = this.unitsOf(day);
    for (const u of UNITS) units[u] = u === "do_storage_bytes" ? taken[u] : units[u] + taken[u];
    this.writeUnits(day, units, quiet ? null : this.nextSeq());
    this.checkBudgets(now, day);
  }

  /** Upserts a day's units; `seq` null: a quiet change (see {@link commit}). */
  private writeUnits(day: string, units: UnitCounts, seq: number | null): void {
    this.sql.exec(
      `INSERT INTO usage_units (day, seq, units) VALUES (?, ?, ?)
       ON CONFLICT (day) DO UPDATE SET units = excluded.units,
         seq = CASE WHEN ? THEN excluded.seq WHEN usage_units.seq > ? THEN usage_units.seq ELSE 0 END`,
      day,
      seq ?? 0,
      JSON.stringify(units),
      seq === null ? 0 : 1,
      this.state().pushedSeq,
    );
  }

  /** Adds to a unit now, e.g. a request of the Worker charged to this tenant. */
  count(unit: Unit, n: number): void {
    this.meter.add(unit, n);
  }

  /** Counts one answered request (rejected or not) and the signals it carried. */
  record(op: UsageOp, outcome: { rejected: boolean; signals?: number }): void {
    const day = utcDay(this.t.now());
    const seq = this.nextSeq();
    const mem = this.state();
    if (mem.day !== day) {
      mem.day = day;
      mem.today = this.countsSince(day, day);
    }
    mem.today.requests[op] += 1;
    mem.today.rejected += outcome.rejected ? 1 : 0;
    mem.today.signals += outcome.signals ?? 0;
    this.sql.exec(
      `INSERT INTO usage (day, op, requests, rejected, signals, seq) VALUES (?, ?, 1, ?, ?, ?)
       ON CONFLICT (day, op) DO UPDATE SET requests = requests + 1, rejected = rejected + excluded.rejected,
         signals = signals + excluded.signals, seq = excluded.seq`,
      day,
      op,
      outcome.rejected ? 1 : 0,
      outcome.signals ?? 0,
      seq,
    );
  }

  /** When the next push is due, or `null` when nothing changed (or FinOps is off); for the object's alarm. */
  nextDueAt(): number | null {
    if (!this.redis || !this.dirty()) return null;
    if (this.pushFailedAt !== null) return this.pushFailedAt + PUSH_RETRY_MS;
    return this.lastPushAt + this.t.config.finops.flushIntervalMs;
  }

  /** The alarm: pushes changed counters when due, and drops rows past the budget horizon. */
  async onAlarm(nowMs: number): Promise<void> {
    const due = this.nextDueAt();
    if (due !== null && due <= nowMs) {
      try {
        await this.flush();
      } catch (err) {
        // Upstash is down: the counts stay in the object and the push is retried later.
        logEvent({
          level: "error",
          op: "usage_flush",
          tenant_id: this.t.tenantId,
          error_code: "INTERNAL",
          message: err instanceof Error ? err.message : String(err),
        });
      }
    }
    this.prune();
  }

  /**
   * Pushes changed counters and alerts to Upstash: one script per changed day (src/finops/overview.ts
   * `PUSH_SCRIPT`: the tenant-day hash, the day's and month's totals, the overview's sets, the environment's
   * budget), in one pipeline. Throws when Upstash fails (the counts stay here).
   */
  async flush(force = false): Promise<void> {
    if (!this.redis) throw new Error("UPSTASH_REDIS_REST_URL is not set");
    this.commit(true);
    // Before a usage read every quiet change goes out too, so the read is exact.
    if (force && this.sql.exec(`SELECT 1 FROM usage_units WHERE seq = 0 LIMIT 1`).toArray().length > 0) {
      this.sql.exec(`UPDATE usage_units SET seq = ? WHERE seq = 0`, this.nextSeq());
    }
    const meta = this.state();
    if (meta.seq <= meta.pushedSeq) return;
    const tenantId = this.t.tenantId;
    const upto = meta.seq;
    const confirmed = meta.pushedSeq;
    const rows = this.sql
      .exec<Row>(
        `SELECT day, op, requests, rejected, signals FROM usage WHERE seq > ? AND op != ?`,
        confirmed,
        UPSTASH_ROW,
      )
      .toArray();
    // Quiet rows (seq 0) ride along with any push.
    const unitRows = this.sql
      .exec<{ day: string; seq: number; units: string }>(
        `SELECT day, seq, units FROM usage_units WHERE seq > ? OR seq = 0`,
        confirmed,
      )
      .toArray();
    const unitDays = unitRows.map((r) => r.day);
    const alerts = this.sql
      .exec<{ period: string; level: string; cost_usd: number; budget_usd: number; at_ms: number }>(
        `SELECT period, level, cost_usd, budget_usd, at_ms FROM budget_alerts WHERE seq > ?`,
        confirmed,
      )
      .toArray();
    // A changed day is pushed whole (absolute values), so every counter of it is read again.
    const days = new Set([...rows.map((r) => r.day), ...unitDays]);
    const pipe = this.redis.pipeline();
    const weights = fieldWeights(this.weights);
    let commands = 0;
    const retention = this.t.config.retentionDays;
    for (const day of days) {
      const fields: Record<string, number> = {};
      let signals = 0;
      let rejected = 0;
      for (const row of this.sql.exec<Row>(
        `SELECT day, op, requests, rejected, signals FROM usage WHERE day = ? AND op != ?`,
        day,
        UPSTASH_ROW,
      )) {
        Object.assign(fields, usageFields(row.op, row));
        signals += row.signals;
        rejected += row.rejected;
      }
      fields.signals = signals;
      fields.rejected = rejected;
      const units = this.unitsOf(day);
      for (const u of UNITS) fields[`u:${u}`] = units[u];
      const { keys, args } = pushArgs(
        {
          tenantId,
          day,
          seq: upto,
          confirmedSeq: confirmed,
          fields,
          expireAtS: expiresAtS(day, retention),
          monthExpireAtS: expiresAtS(`${day.slice(0, 7)}-28`, retention),
          fixedDailyUsd: this.settings.fixedDailyUsd,
          budget: { ...this.settings.environmentBudget, ...THRESHOLDS },
        },
        weights,
      );
      pipe.eval(PUSH_SCRIPT, keys, args);
      commands++;
    }
    for (const a of alerts) {
      const key = alertKey(tenantId, a.period);
      pipe.hset(key, { [a.level]: JSON.stringify({ costUsd: a.cost_usd, budgetUsd: a.budget_usd, atMs: a.at_ms }) });
      pipe.expireat(key, expiresAtS(a.period.length === 7 ? `${a.period}-28` : a.period, retention));
      commands += 2;
    }
    let replies: unknown[];
    try {
      replies = (await pipe.exec()) as unknown[];
    } catch (err) {
      this.pushFailedAt = this.t.now();
      throw err;
    }
    this.pushFailedAt = null;
    this.lastPushAt = this.t.now();
    this.sql.exec(`UPDATE usage_meta SET pushed_seq = MAX(pushed_seq, ?), seq = MAX(seq, ?) WHERE id = 1`, upto, upto);
    meta.pushedSeq = Math.max(meta.pushedSeq, upto);
    // Quiet rows pushed as they were are pushed; one changed meanwhile (the push awaited Upstash) stays quiet.
    for (const r of unitRows) {
      if (r.seq === 0)
        this.sql.exec(`UPDATE usage_units SET seq = ? WHERE day = ? AND seq = 0 AND units = ?`, upto, r.day, r.units);
    }
    let i = 0;
    for (const day of days) this.raiseEnvironment(day, parseCrossings(replies[i++]));
    // The push's own commands are counted without marking anything changed (that would make every push schedule
    // the next one); they go out with the day's next real change.
    this.meter.add("upstash_commands", commands);
    this.commit(true);
  }

  /** Logs and counts the environment budget crossings this tenant's push recorded (each exactly once). */
  private raiseEnvironment(day: string, crossings: EnvCrossing[]): void {
    for (const c of crossings) {
      // Two pushes in flight at once (an alarm's and a usage read's) both start below the recorded crossing's seq, so
      // Upstash hands the same crossing to both: raise it once per object.
      const raised = `${c.period === "day" ? day : day.slice(0, 7)}|${c.level}`;
      if (this.raisedEnvironment.has(raised)) continue;
      this.raisedEnvironment.add(raised);
      this.t.metrics.record(
        [
          {
            name: METRICS.budgetAlerts.name,
            labels: { scope: "environment", period: c.period, threshold: c.level },
            value: 1,
          },
        ],
        (send) => this.t.state.waitUntil(send),
      );
      logEvent({
        level: c.level === "critical" ? "error" : "warn",
        op: "budget_alert",
        scope: "environment",
        tenant_id: null,
        environment: this.t.config.environment,
        period: c.period,
        period_key: c.period === "day" ? day : day.slice(0, 7),
        threshold: c.level,
        estimated_cost_usd: c.costUsd,
        budget_usd: c.budgetUsd,
        ratio: Math.round((c.costUsd / c.budgetUsd) * 1000) / 1000,
        pushed_by: this.t.tenantId,
      });
    }
  }

  /** Drops counter rows older than the budget horizon (Upstash keeps the history). */
  prune(): void {
    const cutoff = utcDay(this.t.now() - KEEP_DAYS * 86_400_000);
    const meta = this.state();
    // Only rows already pushed may go.
    this.sql.exec(`DELETE FROM usage WHERE day < ? AND seq <= ?`, cutoff, meta.pushedSeq);
    this.sql.exec(`DELETE FROM usage_units WHERE day < ? AND seq <= ?`, cutoff, meta.pushedSeq);
    for (const day of meta.units.keys()) if (day < cutoff) meta.units.delete(day);
    this.sql.exec(`DELETE FROM budget_alerts WHERE substr(period, 1, 10) < ? AND seq <= ?`, cutoff, meta.pushedSeq);
    for (const period of meta.raised.keys()) if (period.slice(0, 10) < cutoff) meta.raised.delete(period);
  }

  private dirty(): boolean {
    const meta = this.state();
    return meta.seq > meta.pushedSeq;
  }

  /** The in-memory state, loaded from storage once (the highest sequence stamped on any row counts). */
  private state(): NonNullable<UsageLedger["mem"]> {
    if (this.mem) return this.mem;
    const row = this.sql
      .exec<{ seq: number; pushed_seq: number; tenant_id: string | null }>(
        `SELECT MAX(m.seq, COALESCE((SELECT MAX(seq) FROM usage), 0), COALESCE((SELECT MAX(seq) FROM budget_alerts), 0),
           COALESCE((SELECT MAX(seq) FROM usage_units), 0)) AS seq,
           m.pushed_seq, m.tenant_id FROM usage_meta m WHERE m.id = 1`,
      )
      .toArray()[0];
    const day = utcDay(this.t.now());
    this.mem = {
      seq: row?.seq ?? 0,
      pushedSeq: row?.pushed_seq ?? 0,
      tenantId: row?.tenant_id ?? null,
      day,
      today: this.countsSince(day, day),
      units: new Map(),
      raised: new Map(),
    };
    return this.mem;
  }

  /** The next change sequence; the tenant is recorded with the first one (for a version rolled back to). */
  private nextSeq(): number {
    const mem = this.state();
    if (mem.tenantId === null) {
      this.sql.exec(`UPDATE usage_meta SET tenant_id = COALESCE(tenant_id, ?) WHERE id = 1`, this.t.tenantId);
      mem.tenantId = this.t.tenantId;
    }
    mem.seq += 1;
    return mem.seq;
  }

  /** A day's units (the live object, updated in place), loaded from `usage_units` on first use. */
  private unitsOf(day: string): UnitCounts {
    const mem = this.state();
    let units = mem.units.get(day);
    if (!units) {
      units = zeroUnits();
      const row = this.sql.exec<{ units: string }>(`SELECT units FROM usage_units WHERE day = ?`, day).toArray()[0];
      if (row) {
        const stored = JSON.parse(row.units) as Partial<Record<string, unknown>>;
        for (const u of UNITS) units[u] = Number(stored[u] ?? 0) || 0;
      } else {
        // Versions before the units counted Upstash commands as a pseudo-operation row.
        const old = this.sql
          .exec<{ requests: number }>(`SELECT requests FROM usage WHERE day = ? AND op = ?`, day, UPSTASH_ROW)
          .toArray()[0];
        units.upstash_commands = old?.requests ?? 0;
      }
      mem.units.set(day, units);
      // Days older than the budget horizon are not kept in memory.
      if (mem.units.size > KEEP_DAYS) mem.units.delete(mem.units.keys().next().value as string);
    }
    return units;
  }

  /** Units summed over `firstDay`..`lastDay` (from storage; the current day's row is up to date there). */
  private unitsSince(firstDay: string, lastDay: string): UnitCounts {
    const sum = zeroUnits();
    for (const row of this.sql.exec<{ day: string }>(
      `SELECT day FROM usage_units WHERE day >= ? AND day <= ?`,
      firstDay,
      lastDay,
    )) {
      const units = this.unitsOf(row.day);
      for (const u of UNITS) sum[u] += units[u];
    }
    return sum;
  }

  private countsSince(firstDay: string, lastDay: string): DayCounts {
    const usage: DayCounts = {
      requests: { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 },
      signals: 0,
      rejected: 0,
    };
    const rows = this.sql
      .exec<{ op: string; requests: number; rejected: number; signals: number }>(
        `SELECT op, SUM(requests) AS requests, SUM(rejected) AS rejected, SUM(signals) AS signals
         FROM usage WHERE day >= ? AND day <= ? GROUP BY op`,
        firstDay,
        lastDay,
      )
      .toArray();
    for (const row of rows) {
      if ((USAGE_OPS as readonly string[]).includes(row.op)) {
        usage.requests[row.op as UsageOp] += row.requests;
        usage.rejected += row.rejected;
        usage.signals += row.signals;
      }
    }
    return usage;
  }

  private checkBudgets(now: number, day: string): void {
    const prices = this.settings.prices;
    this.checkPeriod(now, day, estimatedCostUsd(this.unitsOf(day), prices), this.settings.tenantBudget.dailyUsd);
    if (now - this.lastMonthlyCheck >= MONTHLY_CHECK_MS) {
      this.lastMonthlyCheck = now;
      const month = day.slice(0, 7);
      const cost = estimatedCostUsd(this.unitsSince(`${month}-01`, `${month}-31`), prices);
      this.checkPeriod(now, month, cost, this.settings.tenantBudget.monthlyUsd);
    }
  }

  private checkPeriod(now: number, period: string, costUsd: number, budgetUsd: number): void {
    const known = this.state().raised;
    let raised = known.get(period);
    if (!raised) {
      raised = new Set(
        this.sql
          .exec<{ level: AlertLevel }>(`SELECT level FROM budget_alerts WHERE period = ?`, period)
          .toArray()
          .map((r) => r.level),
      );
      known.set(period, raised);
    }
    for (const level of newlyCrossed(costUsd, budgetUsd, raised)) {
      raised.add(level);
      const seq = this.nextSeq();
      this.sql.exec(
        `INSERT INTO budget_alerts (period, level, cost_usd, budget_usd, at_ms, seq) VALUES (?, ?, ?, ?, ?, ?)`,
        period,
        level,
        costUsd,
        budgetUsd,
        now,
        seq,
      );
      const kind = period.length === 7 ? "month" : "day";
      this.t.metrics.record(
        [{ name: METRICS.budgetAlerts.name, labels: { scope: "tenant", period: kind, threshold: level }, value: 1 }],
        (send) => this.t.state.waitUntil(send),
      );
      logEvent({
        level: level === "critical" ? "error" : "warn",
        op: "budget_alert",
        scope: "tenant",
        tenant_id: this.t.tenantId,
        period: kind,
        period_key: period,
        threshold: level,
        estimated_cost_usd: costUsd,
        budget_usd: budgetUsd,
        ratio: Math.round((costUsd / budgetUsd) * 1000) / 1000,
      });
    }
  }
}
