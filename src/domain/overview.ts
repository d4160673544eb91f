import type { ScoreStatus } from "./score";

/** One tenant as the operators' overview shows it (docs/api.md §4.12). */
export interface TenantSummary {
  tenantId: string;
  score: number;
  status: ScoreStatus;
  signalCount: number;
  /** When its newest signal was accepted (epoch ms), `null` before the first. */
  lastSignalMs: number | null;
  /** When its score last changed (epoch ms). */
  updatedMs: number;
  /** Signals its outbox has not handed to the sink queue yet, and when the oldest was accepted. */
  outboxBacklog?: number;
  outboxOldestUnsentMs?: number | null;
}

/** Worst first: CRITICAL, WARN, HEALTHY, then UNKNOWN (nothing to judge); within a status the lower score first. */
export const STATUS_RANK: Record<ScoreStatus, number> = { CRITICAL: 0, WARN: 1, HEALTHY: 2, UNKNOWN: 3 };

/** The position of a summary in worst-first order, as a page cursor: `rank:score:tenantId`. */
export function overviewCursor(s: Pick<TenantSummary, "status" | "score" | "tenantId">): string {
  return `${STATUS_RANK[s.status]}:${s.score}:${s.tenantId}`;
}

/** Parses {@link overviewCursor}; `null` when it is not one. */
export function parseOverviewCursor(cursor: string): { rank: number; score: number; tenantId: string } | null {
  const m = /^([0-3]):([0-9.eE+-]+):(.+)$/.exec(cursor);
  if (!m) return null;
  const score = Number(m[2]);
  if (!Number.isFinite(score)) return null;
  return { rank: Number(m[1]), score, tenantId: m[3] as string };
}
