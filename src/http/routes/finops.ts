import { Hono } from "hono";
import { authorize, denialMessage, recordDecision } from "../../auth/authz";
import { AppError } from "../../errors";
import { usageQuery, usageReport } from "../../finops/report";
import type { AppEnv } from "../context";
import { requireAuth } from "../middleware/auth";

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
    return c.json(await usageReport(c.env, c.get("config"), q.tenantId, q.days));
  },
);
