import type { Config } from "../config";
import { isTenantId } from "../domain/signal";
import { AppError } from "../errors";
import { TenantClient } from "../tenant-client";
import { fixedDailyUsd, withStorePrices } from "./cost-model";
import { DEFAULT_PAGE, MAX_OVERVIEW_DAYS, MAX_PAGE, type OverviewPage, readOverview } from "./overview";
import { daysBetween, MAX_USAGE_DAYS, readUsage, type UsageDayView, upstashClient } from "./usage";

/** Validates `tenantId`, `from`, `to` of a usage read (REST and GraphQL alike); the days it spans. */
export function usageQuery(tenantId: unknown, from: unknown, to: unknown): { tenantId: string; days: string[] } {
  const details: Array<{ path: string; message: string }> = [];
  if (typeof tenantId !== "string" || !isTenantId(tenantId)) {
    details.push({ path: "tenantId", message: "required: 1..128 of [A-Za-z0-9._:-]" });
  }
  const days = typeof from === "string" && typeof to === "string" ? daysBetween(from, to) : null;
  if (!days) details.push({ path: "from", message: "from and to are required UTC dates YYYY-MM-DD with from <= to" });
  else if (days.length > MAX_USAGE_DAYS)
    details.push({ path: "to", message: `at most ${MAX_USAGE_DAYS} days per read` });
  if (details.length > 0 || !days) throw new AppError(400, "VALIDATION_FAILED", "invalid usage query", details);
  return { tenantId: tenantId as string, days };
}

/**
 * One tenant's usage over `days` (docs/api.md §4.6): the tenant's object pushes its latest counters first, so the
 * answer includes every request answered before this call. FINOPS_UNAVAILABLE (503) when Upstash is not
 * configured or cannot be reached.
 */
export async function usageReport(
  env: Env,
  config: Config,
  tenantId: string,
  days: readonly string[],
): Promise<{ tenantId: string; days: UsageDayView[] }> {
  const redis = upstashClient(config);
  if (!redis) {
    throw new AppError(503, "FINOPS_UNAVAILABLE", "FinOps counters are off: UPSTASH_REDIS_REST_URL is not set");
  }
  try {
    await new TenantClient({ env, config }, tenantId).flushUsage();
    return { tenantId, days: await readUsage(redis, tenantId, days, withStorePrices(config.finops.storePrices)) };
  } catch {
    throw new AppError(503, "FINOPS_UNAVAILABLE", "the FinOps counter store is unreachable");
  }
}

/** Validates an all-tenant read (`tenantId=*`): `from`, `to` (at most MAX_OVERVIEW_DAYS), `limit`, `cursor`. */
export function overviewQuery(
  from: unknown,
  to: unknown,
  limit: unknown,
  cursor: unknown,
): { days: string[]; limit: number; cursor: string | null } {
  const details: Array<{ path: string; message: string }> = [];
  const days = typeof from === "string" && typeof to === "string" ? daysBetween(from, to) : null;
  if (!days) details.push({ path: "from", message: "from and to are required UTC dates YYYY-MM-DD with from <= to" });
  else if (days.length > MAX_OVERVIEW_DAYS)
    details.push({ path: "to", message: `at most ${MAX_OVERVIEW_DAYS} days per all-tenant read` });
  let n = DEFAULT_PAGE;
  if (limit !== undefined && limit !== null) {
    n = typeof limit === "number" ? limit : /^\d{1,4}$/.test(String(limit)) ? Number(limit) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) details.push({ path: "limit", message: `1..${MAX_PAGE}` });
  }
  if (cursor !== undefined && cursor !== null && (typeof cursor !== "string" || cursor.length > 512)) {
    details.push({ path: "cursor", message: "a cursor from a previous page" });
  }
  if (details.length > 0 || !days) throw new AppError(400, "VALIDATION_FAILED", "invalid usage query", details);
  return { days, limit: n, cursor: typeof cursor === "string" && cursor !== "" ? cursor : null };
}

/**
 * Every tenant's usage over `days`, most expensive first, one page (docs/api.md §4.6.1): read from Upstash alone
 * (one command), as of each tenant object's last push (at most FINOPS_FLUSH_INTERVAL_MS old); no object is woken.
 */
export async function overviewReport(
  config: Config,
  q: { days: string[]; limit: number; cursor: string | null },
): Promise<OverviewPage> {
  const redis = upstashClient(config);
  if (!redis) {
    throw new AppError(503, "FINOPS_UNAVAILABLE", "FinOps counters are off: UPSTASH_REDIS_REST_URL is not set");
  }
  const prices = withStorePrices(config.finops.storePrices);
  try {
    return await readOverview(redis, q.days, {
      cursor: q.cursor,
      limit: q.limit,
      prices,
      fixedDailyUsd: fixedDailyUsd({ neo4j: config.neo4j !== null, postgres: config.postgres !== null }, prices),
      newId: () => crypto.randomUUID(),
    });
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(503, "FINOPS_UNAVAILABLE", "the FinOps counter store is unreachable");
  }
}
