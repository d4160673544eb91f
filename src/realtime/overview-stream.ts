import { STATUS_RANK, type TenantSummary } from "../domain/overview";
import type { ScoreStatus } from "../domain/score";
import { type FlowState, unacked } from "./coalesce";

/**
 * The operators' live overview (`tenantsOverviewUpdates`, docs/api.md §4.12.1) as pure functions: which rows a
 * subscriber is sent, in which messages, and when a subscriber that stopped answering is closed. The directory's
 * object (durable-objects/overview-hub.ts) does the I/O.
 */

/** Changes are sent at most once per this window (the first after a quiet spell at once). */
export const OVERVIEW_WINDOW_MS = 500;
/** Rows per message: 1,000 tenants take two messages of ~60 KB, far below the runtime's 1 MiB per message. */
export const OVERVIEW_PAGE_ROWS = 500;
/**
 * Messages a subscriber may owe pongs for. Each flush ends with a ping; a client that leaves it unanswered for
 * {@link OVERVIEW_ACK_GRACE_MS} while owing more than this is closed with 1013 (it resubscribes and gets a fresh
 * snapshot), so a dead client never makes the runtime buffer more than about this many messages for it.
 */
export const OVERVIEW_MAX_UNACKED = 64;
export const OVERVIEW_ACK_GRACE_MS = 5000;

/** A tenant's row as the subscription's `TenantOverviewRow` renders it. */
export interface OverviewRow {
  tenantId: string;
  score: number;
  status: ScoreStatus;
  signalCount: number;
  lastSignalAt: string | null;
  updatedAt: string;
}

/** The value of one `tenantsOverviewUpdates` message, before the operation's selection is applied. */
export interface OverviewMessage {
  kind: "SNAPSHOT" | "CHANGES";
  complete: boolean;
  asOf: string;
  total: number;
  byStatus: Record<ScoreStatus, number>;
  tenants: OverviewRow[];
}

/** A summary as a row (times as RFC 3339). */
export function overviewRow(s: TenantSummary): OverviewRow {
  return {
    tenantId: s.tenantId,
    score: s.score,
    status: s.status,
    signalCount: s.signalCount,
    lastSignalAt: s.lastSignalMs === null ? null : new Date(s.lastSignalMs).toISOString(),
    updatedAt: new Date(s.updatedMs).toISOString(),
  };
}

/** Worst first: status rank (CRITICAL, WARN, HEALTHY, UNKNOWN), then the lower score, then the tenant id. */
export function worstFirst(a: Pick<OverviewRow, "status" | "score" | "tenantId">, b: typeof a): number {
  return (
    STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
    a.score - b.score ||
    (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0)
  );
}

/**
 * The messages that carry `rows`: pages of {@link OVERVIEW_PAGE_ROWS}. A snapshot always has at least one
 * message (an empty directory is a picture too) and only its last page is `complete`; changes are each complete,
 * and no changes are no message.
 */
export function overviewMessages(
  kind: OverviewMessage["kind"],
  rows: OverviewRow[],
  totals: Pick<OverviewMessage, "total" | "byStatus" | "asOf">,
): OverviewMessage[] {
  if (rows.length === 0 && kind === "CHANGES") return [];
  const sorted = [...rows].sort(worstFirst);
  const messages: OverviewMessage[] = [];
  for (let i = 0; i === 0 || i < sorted.length; i += OVERVIEW_PAGE_ROWS) {
    const tenants = sorted.slice(i, i + OVERVIEW_PAGE_ROWS);
    const last = i + OVERVIEW_PAGE_ROWS >= sorted.length;
    messages.push({ kind, complete: kind === "CHANGES" || last, ...totals, tenants });
  }
  return messages;
}

/** `true` when a subscriber owes too many pongs and has left one unanswered past the grace: close it (1013). */
export function overviewTooFarBehind(flow: FlowState, nowMs: number): boolean {
  const owed = unacked(flow);
  return owed > OVERVIEW_MAX_UNACKED && flow.since !== null && nowMs - flow.since >= OVERVIEW_ACK_GRACE_MS;
}
