import type { Config } from "../config";
import { isTenantId } from "../domain/signal";
import { AppError } from "../errors";
import { TenantClient } from "../tenant-client";
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
    return { tenantId, days: await readUsage(redis, tenantId, days) };
  } catch {
    throw new AppError(503, "FINOPS_UNAVAILABLE", "the FinOps counter store is unreachable");
  }
}
