import { DurableObject } from "cloudflare:workers";
import { overviewCursor, parseOverviewCursor, STATUS_RANK, type TenantSummary } from "../src/domain/overview";
import type { ScoreStatus } from "../src/domain/score";

/** A page of the operators' overview, worst first, with the counts over every tenant. */
export interface OverviewPage {
  total: number;
  byStatus: Record<ScoreStatus, number>;
  tenants: TenantSummary[];
  /** The `after` of the next page; `null` on the last. */
  next: string | null;
}

/**
 * Every tenant's latest summary (score, status, signals in the window, newest signal), one object named
 * "directory": each tenant's object reports to it, at most every {@link DIRECTORY_REPORT_MS} while its score
 * changes, so the operators' overview reads one object instead of waking every tenant's (docs/api.md §4.12).
 */
export class TenantDirectory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS tenants (
      tenant_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, score REAL NOT NULL, status TEXT NOT NULL,
      signal_count INTEGER NOT NULL, last_signal_ms INTEGER, updated_ms INTEGER NOT NULL,
      outbox_backlog INTEGER NOT NULL DEFAULT 0, outbox_oldest_ms INTEGER)`);
    ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS tenants_worst_first ON tenants (rank, score, tenant_id)`);
  }

  /** Records a tenant's summary; an older one than what is kept (a late report) changes nothing. */
  async report(s: TenantSummary): Promise<void> {
    this.ctx.storage.sql.exec(
      `INSERT INTO tenants (tenant_id, rank, score, status, signal_count, last_signal_ms, updated_ms, outbox_backlog,
         outbox_oldest_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET rank = excluded.rank, score = excluded.score, status = excluded.status,
         signal_count = excluded.signal_count, last_signal_ms = excluded.last_signal_ms, updated_ms = excluded.updated_ms,
         outbox_backlog = excluded.outbox_backlog, outbox_oldest_ms = excluded.outbox_oldest_ms
       WHERE excluded.updated_ms >= tenants.updated_ms`,
      s.tenantId,
      STATUS_RANK[s.status],
      s.score,
      s.status,
      s.signalCount,
      s.lastSignalMs,
      s.updatedMs,
      s.outboxBacklog ?? 0,
      s.outboxOldestUnsentMs ?? null,
    );
  }

  /** The sink pipeline's backlog over every tenant: signals not handed off yet, and the oldest one's acceptance. */
  async sinkBacklog(): Promise<{ backlog: number; oldestUnsentMs: number | null }> {
    const row = this.ctx.storage.sql
      .exec<{ n: number | null; oldest: number | null }>(
        `SELECT SUM(outbox_backlog) AS n, MIN(outbox_oldest_ms) AS oldest FROM tenants WHERE outbox_backlog > 0`,
      )
      .one();
    return { backlog: row.n ?? 0, oldestUnsentMs: row.oldest };
  }

  /** Up to `limit` tenants after cursor `after`, worst first (a keyset page: stable while reports arrive). */
  async overview(limit: number, after: string | null): Promise<OverviewPage> {
    const sql = this.ctx.storage.sql;
    const byStatus: Record<ScoreStatus, number> = { CRITICAL: 0, WARN: 0, HEALTHY: 0, UNKNOWN: 0 };
    let total = 0;
    for (const row of sql.exec<{ status: ScoreStatus; n: number }>(
      `SELECT status, COUNT(*) AS n FROM tenants GROUP BY status`,
    )) {
      byStatus[row.status] = row.n;
      total += row.n;
    }
    const from = after === null ? null : parseOverviewCursor(after);
    const rows = sql
      .exec<{
        tenant_id: string;
        score: number;
        status: ScoreStatus;
        signal_count: number;
        last_signal_ms: number | null;
        updated_ms: number;
      }>(
        from === null
          ? `SELECT tenant_id, score, status, signal_count, last_signal_ms, updated_ms FROM tenants
             ORDER BY rank, score, tenant_id LIMIT ?`
          : `SELECT tenant_id, score, status, signal_count, last_signal_ms, updated_ms FROM tenants
             WHERE (rank, score, tenant_id) > (?, ?, ?) ORDER BY rank, score, tenant_id LIMIT ?`,
        ...(from === null ? [limit + 1] : [from.rank, from.score, from.tenantId, limit + 1]),
      )
      .toArray();
    const tenants = rows.slice(0, limit).map((r) => ({
      tenantId: r.tenant_id,
      score: r.score,
      status: r.status,
      signalCount: r.signal_count,
      lastSignalMs: r.last_signal_ms,
      updatedMs: r.updated_ms,
    }));
    const last = tenants.at(-1);
    return { total, byStatus, tenants, next: rows.length > limit && last ? overviewCursor(last) : null };
  }
}
