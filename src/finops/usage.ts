import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import { estimatedCostUsd, PRICES, type Prices, UNITS, type UnitCounts, zeroUnits } from "./cost-model";

/** Operations counted per tenant and UTC day (docs/api.md §4.6). */
export const USAGE_OPS = ["ingest", "graphql_query", "graphql_mutation", "subscribe"] as const;
export type UsageOp = (typeof USAGE_OPS)[number];

/** Counters expire a day after the retention policy's period (POLICY_RETENTION; standard-365d by default) ends. */
export const DEFAULT_RETENTION_DAYS = 365;
/** Longest range one usage read may span. */
export const MAX_USAGE_DAYS = 366;

/** `YYYY-MM-DD` (UTC) of an instant. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Every UTC day from `from` to `to` inclusive; `null` when either is not a real date or from > to. */
export function daysBetween(from: string, to: string): string[] | null {
  const re = /^\d{4}-\d{2}-\d{2}$/;
  if (!re.test(from) || !re.test(to)) return null;
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end) || utcDay(start) !== from || utcDay(end) !== to || start > end) {
    return null;
  }
  const out: string[] = [];
  for (let t = start; t <= end; t += 86_400_000) out.push(utcDay(t));
  return out;
}

/** Redis key of one tenant-day's counters: a hash with one field per counter (see {@link usageFields}). */
export function usageKey(tenantId: string, day: string): string {
  return `usage:v1:${tenantId}:${day}`;
}

/** Redis key of one tenant's budget alerts for a period (`YYYY-MM-DD` or `YYYY-MM`). */
export function alertKey(tenantId: string, period: string): string {
  return `budget-alerts:v1:${tenantId}:${period}`;
}

/** Epoch seconds at which a day's keys expire. */
export function expiresAtS(day: string, retentionDays = DEFAULT_RETENTION_DAYS): number {
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / 1000) + (retentionDays + 2) * 86_400;
}

/** The counters of one (day, op) row as hash fields: `<op>`, `<op>:rejected`, `<op>:signals`. */
export function usageFields(op: string, row: { requests: number; rejected: number; signals: number }) {
  return { [op]: row.requests, [`${op}:rejected`]: row.rejected, [`${op}:signals`]: row.signals };
}

/** A day as docs/api.md §4.6 reports it. */
export interface UsageDayView {
  date: string;
  requests: Record<UsageOp, number>;
  signals: number;
  rejected: number;
  estimatedCostUsd: number;
  /** The billable units counted that day (src/finops/cost-model.ts), the estimate's inputs. */
  units: UnitCounts;
}

/** Builds a day's view from its hash (missing fields are zero). */
export function dayView(date: string, hash: Record<string, unknown> | null, prices: Prices = PRICES): UsageDayView {
  const n = (field: string) => {
    const v = Number(hash?.[field] ?? 0);
    return Number.isFinite(v) ? v : 0;
  };
  const requests = { ingest: 0, graphql_query: 0, graphql_mutation: 0, subscribe: 0 } as Record<UsageOp, number>;
  let signals = 0;
  let rejected = 0;
  for (const op of USAGE_OPS) {
    requests[op] = n(op);
    signals += n(`${op}:signals`);
    rejected += n(`${op}:rejected`);
  }
  const units = zeroUnits();
  for (const u of UNITS) units[u] = n(`u:${u}`);
  return { date, requests, signals, rejected, estimatedCostUsd: estimatedCostUsd(units, prices), units };
}

/** The Upstash client of this config, or `null` when `UPSTASH_REDIS_REST_URL`/`_TOKEN` are absent (FinOps off). */
export function upstashClient(config: Config): Redis | null {
  if (!config.upstash) return null;
  // automaticDeserialization off: counters are numbers in hashes, read as strings and converted above.
  return new Redis({ url: config.upstash.url, token: config.upstash.token, automaticDeserialization: false });
}

/** Reads one tenant's days from Upstash (one pipeline). */
export async function readUsage(
  redis: Redis,
  tenantId: string,
  days: readonly string[],
  prices: Prices = PRICES,
): Promise<UsageDayView[]> {
  if (days.length === 0) return [];
  const pipe = redis.pipeline();
  for (const day of days) pipe.hgetall(usageKey(tenantId, day));
  // Without automatic deserialization the client hands HGETALL's reply over as it came: [field, value, …].
  const replies = (await pipe.exec()) as unknown[];
  return days.map((day, i) => dayView(day, hashFromReply(replies[i]), prices));
}

/** A hash from an HGETALL reply, flat `[field, value, …]` or already an object. */
export function hashFromReply(reply: unknown): Record<string, unknown> | null {
  if (Array.isArray(reply)) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
    return out;
  }
  return reply !== null && typeof reply === "object" ? (reply as Record<string, unknown>) : null;
}
