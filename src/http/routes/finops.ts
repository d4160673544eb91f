import { Hono } from "hono";
import { authorize, denialMessage, recordDecision } from "../../auth/authz";
import { isTenantId } from "../../domain/signal";
import { daysBetween, MAX_USAGE_DAYS, UsageUnavailable, usageReport } from "../../finops/usage";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { requireAuth } from "../middleware/auth";

/** Validates `tenantId`, `from`, `to` of a usage read; the days it spans. */
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

/** `GET /v1/finops/usage?tenantId=T&from=YYYY-MM-DD&to=YYYY-MM-DD` (docs/api.md §4.6). */
export const finopsRoutes = new Hono<AppEnv>().get(
  "/v1/finops/usage",
  async (c, next) => {
    c.get("log").op = "finops_usage";
    await next();
  },
  requireAuth,
  async (c) => {
    const principal = c.get("principal");
    const scope = await authorize("finops_read", principal);
    if (!scope.scopeOk) {
      recordDecision(c.get("log"), "finops_read", scope);
      throw new AppError(403, "FORBIDDEN", denialMessage("finops_read", scope));
    }
    const q = usageQuery(c.req.query("tenantId"), c.req.query("from"), c.req.query("to"));
    const decision = await authorize("finops_read", principal, [q.tenantId]);
    recordDecision(c.get("log"), "finops_read", decision);
    if (!decision.allow) throw new AppError(403, "FORBIDDEN", denialMessage("finops_read", decision));
    try {
      return c.json(await usageReport(c.env, c.get("config"), q.tenantId, q.days));
    } catch (err) {
      if (err instanceof UsageUnavailable) throw new AppError(503, "FINOPS_UNAVAILABLE", err.message);
      throw err;
    }
  },
);
