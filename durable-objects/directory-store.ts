import { overviewCursor, parseOverviewCursor, STATUS_RANK, type TenantSummary } from "../src/domain/overview";
import type { ScoreStatus } from "../src/domain/score";
import { spendTicket } from "./socket-table";

/** A page of the operators' overview, worst first, with the counts over every tenant. */
export interface OverviewPage {
  total: number;
  byStatus: Record<ScoreStatus, number>;
  tenants: TenantSummary[];
  /** The `after` of the next page; `null` on the last. */
  next: string | null;
}

type Row = {
  tenant_id: string;
  score: number;
  status: ScoreStatus;
  signal_count: number;
  last_signal_ms: number | null;
  updated_ms: number;
};

const COLUMNS = "tenant_id, score, status, signal_count, last_signal_ms, updated_ms";

function summary(r: Row): TenantSummary {
  return {
    tenantId: r.tenant_id,
    score: r.score,
    status: r.status,
    signalCount: r.signal_count,
    lastSignalMs: r.last_signal_ms,
    updatedMs: r.updated_ms,
  };
}

/**
 * The directory's table: every tenant's latest summary. Each row carries `seq`, the directory's change counter
 * as of the last report that changed what the overview shows (score, status, signals, newest signal, update
 * time), so the live overview reads "rows changed since seq N" from an index instead of comparing every row.
 */
export class DirectoryStore {
  /** The newest `seq` given to a row (0: none yet). */
  private seq: number;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS tenants (
      tenant_id TEXT PRIMARY KEY, rank INTEGER NOT NULL, score REAL NOT NULL, status TEXT NOT NULL,
      signal_count INTEGER NOT NULL, last_signal_ms INTEGER, updated_ms INTEGER NOT NULL,
      outbox_backlog INTEGER NOT NULL DEFAULT 0, outbox_oldest_ms INTEGER)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS tenants_worst_first ON tenants (rank, score, tenant_id)`);
    // Added with the live overview: a directory created before it gets the column (its rows count as seq 0).
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(tenants)`).toArray();
    if (!columns.some((c) => c.name === "seq")) {
      sql.exec(`ALTER TABLE tenants ADD COLUMN seq INTEGER NOT NULL DEFAULT 0`);
    }
    sql.exec(`CREATE INDEX IF NOT EXISTS tenants_by_seq ON tenants (seq)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS used_tickets (nonce TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL)`);
    this.seq = sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM tenants`).one().s ?? 0;
  }

  /** The newest change counter: a subscriber that has seen it has seen every row as it is now. */
  get newestSeq(): number {
    return this.seq;
  }

  /**
   * Records a tenant's summary; an older one than what is kept (a late report) changes nothing. Returns `true`
   * when what the overview shows of the tenant changed (a new row, or a shown field moved).
   */
  report(s: TenantSummary): boolean {
    const next = this.seq + 1;
    const cursor = this.sql.exec<{ seq: number }>(
      `INSERT INTO tenants (tenant_id, rank, score, status, signal_count, last_signal_ms, updated_ms, outbox_backlog,
         outbox_oldest_ms, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET rank = excluded.rank, score = excluded.score, status = excluded.status,
         signal_count = excluded.signal_count, last_signal_ms = excluded.last_signal_ms, updated_ms = excluded.updated_ms,
         outbox_backlog = excluded.outbox_backlog, outbox_oldest_ms = excluded.outbox_oldest_ms,
         seq = CASE WHEN tenants.score IS NOT excluded.score OR tenants.status IS NOT excluded.status
           OR tenants.signal_count IS NOT excluded.signal_count OR tenants.last_signal_ms IS NOT excluded.last_signal_ms
           OR tenants.updated_ms IS NOT excluded.updated_ms THEN excluded.seq ELSE tenants.seq END
       WHERE excluded.updated_ms >= tenants.updated_ms
       RETURNING seq`,
      s.tenantId,
      STATUS_RANK[s.status],
      s.score,
      s.status,
      s.signalCount,
      s.lastSignalMs,
      s.updatedMs,
      s.outboxBacklog ?? 0,
      s.outboxOldestUnsentMs ?? null,
      next,
    );
    const written = cursor.toArray()[0];
    if (written?.seq !== next) return false;
    this.seq = next;
    return true;
  }

  /**
   * Spends a realtime ticket of the operators' path (good for one upgrade, docs/api.md §4.5): `false` when it was
   * spent before. Spent tickets are kept until they expire.
   */
  useTicket(nonce: string, expiresMs: number, nowMs: number): boolean {
    return spendTicket(this.sql, nonce, expiresMs, nowMs);
  }

  /** The sink pipeline's backlog over every tenant: signals not handed off yet, and the oldest one's acceptance. */
  sinkBacklog(): { backlog: number; oldestUnsentMs: number | null } {
    const row = this.sql
      .exec<{ n: number | null; oldest: number | null }>(
        `SELECT SUM(outbox_backlog) AS n, MIN(outbox_oldest_ms) AS oldest FROM tenants WHERE outbox_backlog > 0`,
      )
      .one();
    return { backlog: row.n ?? 0, oldestUnsentMs: row.oldest };
  }

  /** How many tenants there are in all and in each status. */
  counts(): { total: number; byStatus: Record<ScoreStatus, number> } {
    const byStatus: Record<ScoreStatus, number> = { CRITICAL: 0, WARN: 0, HEALTHY: 0, UNKNOWN: 0 };
    let total = 0;
    for (const row of this.sql.exec<{ status: ScoreStatus; n: number }>(
      `SELECT status, COUNT(*) AS n FROM tenants GROUP BY status`,
    )) {
      byStatus[row.status] = row.n;
      total += row.n;
    }
    return { total, byStatus };
  }

  /** Up to `limit` tenants after cursor `after`, worst first (a keyset page: stable while reports arrive). */
  page(limit: number, after: string | null): OverviewPage {
    const from = after === null ? null : parseOverviewCursor(after);
    const rows = this.sql
      .exec<Row>(
        from === null
          ? `SELECT ${COLUMNS} FROM tenants ORDER BY rank, score, tenant_id LIMIT ?`
          : `SELECT ${COLUMNS} FROM tenants WHERE (rank, score, tenant_id) > (?, ?, ?)
             ORDER BY rank, score, tenant_id LIMIT ?`,
        ...(from === null ? [limit + 1] : [from.rank, from.score, from.tenantId, limit + 1]),
      )
      .toArray();
    const tenants = rows.slice(0, limit).map(summary);
    const last = tenants.at(-1);
    return { ...this.counts(), tenants, next: rows.length > limit && last ? overviewCursor(last) : null };
  }

  /** Every tenant (a live subscriber's first snapshot). */
  all(): TenantSummary[] {
    return this.sql.exec<Row>(`SELECT ${COLUMNS} FROM tenants`).toArray().map(summary);
  }

  /** The tenants whose shown fields changed after change counter `seq`. */
  changedAfter(seq: number): TenantSummary[] {
    return this.sql.exec<Row>(`SELECT ${COLUMNS} FROM tenants WHERE seq > ?`, seq).toArray().map(summary);
  }
}
