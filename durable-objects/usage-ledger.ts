import type { Redis } from "@upstash/redis/cloudflare";
import { type AlertLevel, newlyCrossed, type TenantBudget } from "../src/finops/budget";
import { type DayUsage, estimatedCostUsd } from "../src/finops/cost-model";
import { alertKey, expiresAtS, USAGE_OPS, type UsageOp, usageFields, usageKey, utcDay } from "../src/finops/usage";
import { METRICS } from "../src/metrics/model";
import { logEvent } from "../src/telemetry/log";
import type { TenantContext, TenantPart } from "./tenant-part";

/** Counter rows kept in the object: long enough for month-to-date budgets. */
const KEEP_DAYS = 40;
/** Pseudo-operation row counting the Upstash commands this object sent (an input of the cost model). */
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
    today: DayUsage;
    raised: Map<string, Set<AlertLevel>>;
  } | null = null;

  private readonly sql: SqlStorage;

  constructor(
    private readonly t: TenantContext,
    /** Upstash, or `null` when FinOps pushes are off (counts are still kept). */
    private readonly redis: Redis | null,
    private readonly budget: TenantBudget,
  ) {
    this.sql = t.sql;
  }

  /** Counts one answered request (rejected or not) and the signals it carried. */
  record(op: UsageOp, outcome: { rejected: boolean; signals?: number }): void {
    const now = this.t.now();
    const day = utcDay(now);
    const seq = this.nextSeq();
    const mem = this.state();
    if (mem.day !== day) {
      mem.day = day;
      mem.today = this.usageSince(day, day);
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
    this.checkBudgets(now, day);
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

  /** Pushes changed counters and alerts to Upstash. Throws when Upstash fails (the counts stay here). */
  async flush(): Promise<void> {
    if (!this.redis) throw new Error("UPSTASH_REDIS_REST_URL is not set");
    const meta = this.state();
    if (meta.seq <= meta.pushedSeq) return;
    const tenantId = this.t.tenantId;
    const upto = meta.seq;
    const rows = this.sql
      .exec<Row>(
        `SELECT day, op, requests, rejected, signals FROM usage WHERE seq > ? AND op != ?`,
        meta.pushedSeq,
        UPSTASH_ROW,
      )
      .toArray();
    const commandsByDay = new Map(
      this.sql
        .exec<{ day: string; requests: number }>(`SELECT day, requests FROM usage WHERE op = ?`, UPSTASH_ROW)
        .toArray()
        .map((r) => [r.day, r.requests] as const),
    );
    const alerts = this.sql
      .exec<{ period: string; level: string; cost_usd: number; budget_usd: number; at_ms: number }>(
        `SELECT period, level, cost_usd, budget_usd, at_ms FROM budget_alerts WHERE seq > ?`,
        meta.pushedSeq,
      )
      .toArray();
    const byDay = new Map<string, Record<string, number>>();
    for (const row of rows) byDay.set(row.day, { ...(byDay.get(row.day) ?? {}), ...usageFields(row.op, row) });
    for (const [day, fields] of byDay) {
      const commands = commandsByDay.get(day);
      if (commands !== undefined) fields["upstash:commands"] = commands;
    }
    const pipe = this.redis.pipeline();
    let commands = 0;
    for (const [day, fields] of byDay) {
      pipe.hset(usageKey(tenantId, day), fields);
      pipe.expireat(usageKey(tenantId, day), expiresAtS(day, this.t.config.retentionDays));
      commands += 2;
    }
    for (const a of alerts) {
      const key = alertKey(tenantId, a.period);
      pipe.hset(key, { [a.level]: JSON.stringify({ costUsd: a.cost_usd, budgetUsd: a.budget_usd, atMs: a.at_ms }) });
      pipe.expireat(key, expiresAtS(a.period.length === 7 ? `${a.period}-28` : a.period, this.t.config.retentionDays));
      commands += 2;
    }
    try {
      await pipe.exec();
    } catch (err) {
      this.pushFailedAt = this.t.now();
      throw err;
    }
    this.pushFailedAt = null;
    this.lastPushAt = this.t.now();
    this.sql.exec(`UPDATE usage_meta SET pushed_seq = MAX(pushed_seq, ?), seq = MAX(seq, ?) WHERE id = 1`, upto, upto);
    meta.pushedSeq = Math.max(meta.pushedSeq, upto);
    // The push's own commands are counted for the cost model without marking anything dirty (that would make
    // every push schedule the next one); they go out with the next real change.
    this.sql.exec(
      `INSERT INTO usage (day, op, requests, rejected, signals, seq) VALUES (?, ?, ?, 0, 0, 0)
       ON CONFLICT (day, op) DO UPDATE SET requests = requests + excluded.requests`,
      utcDay(this.lastPushAt),
      UPSTASH_ROW,
      commands,
    );
    if (meta.day === utcDay(this.lastPushAt)) meta.today.upstashCommands += commands;
  }

  /** Drops counter rows older than the budget horizon (Upstash keeps the history). */
  prune(): void {
    const cutoff = utcDay(this.t.now() - KEEP_DAYS * 86_400_000);
    const meta = this.state();
    // Only rows already pushed may go.
    this.sql.exec(`DELETE FROM usage WHERE day < ? AND seq <= ?`, cutoff, meta.pushedSeq);
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
        `SELECT MAX(m.seq, COALESCE((SELECT MAX(seq) FROM usage), 0), COALESCE((SELECT MAX(seq) FROM budget_alerts), 0)) AS seq,
           m.pushed_seq, m.tenant_id FROM usage_meta m WHERE m.id = 1`,
      )
      .toArray()[0];
    const day = utcDay(this.t.now());
    this.mem = {
      seq: row?.seq ?? 0,
      pushedSeq: row?.pushed_seq ?? 0,
      tenantId: row?.tenant_id ?? null,
      day,
      today: this.usageSince(day, day),
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

  private usageSince(firstDay: string, lastDay: string): DayUsage {
    const usage: DayUsage = {
      requests: { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 },
      signals: 0,
      rejected: 0,
      upstashCommands: 0,
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
      if (row.op === UPSTASH_ROW) {
        usage.upstashCommands += row.requests;
      } else if ((USAGE_OPS as readonly string[]).includes(row.op)) {
        usage.requests[row.op as UsageOp] += row.requests;
        usage.rejected += row.rejected;
        usage.signals += row.signals;
      }
    }
    return usage;
  }

  private checkBudgets(now: number, day: string): void {
    this.checkPeriod(now, day, estimatedCostUsd(this.state().today), this.budget.dailyUsd);
    if (now - this.lastMonthlyCheck >= MONTHLY_CHECK_MS) {
      this.lastMonthlyCheck = now;
      const month = day.slice(0, 7);
      const cost = estimatedCostUsd(this.usageSince(`${month}-01`, `${month}-31`));
      this.checkPeriod(now, month, cost, this.budget.monthlyUsd);
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
        [{ name: METRICS.budgetAlerts.name, labels: { period: kind, threshold: level }, value: 1 }],
        (send) => this.t.state.waitUntil(send),
      );
      logEvent({
        level: level === "critical" ? "error" : "warn",
        op: "budget_alert",
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
