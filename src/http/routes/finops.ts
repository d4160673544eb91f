import { Hono } from "hono";
import { authorize, denialMessage, recordDecision } from "../../auth/authz";
import { AppError } from "../../errors";
import { overviewCsv } from "../../finops/overview";
import { overviewQuery, overviewReport, usageQuery, usageReport } from "../../finops/report";
import type { AppEnv } from "../context";
import { requireAuth } from "../middleware/auth";

/**
 * `GET /v1/finops/usage?tenantId=T&from=YYYY-MM-DD&to=YYYY-MM-DD` (docs/api.md §4.6), and with `tenantId=*` every
 * tenant's usage, most expensive first, in pages (`limit`, `cursor`; `format=csv`), operator tokens only (§4.6.1).
 */
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
    if (c.req.query("tenantId") === "*") {
      const overview = await authorize("finops_overview_read", principal);
      recordDecision(c.get("log"), "finops_overview_read", overview);
      if (!overview.allow) throw new AppError(403, "FORBIDDEN", denialMessage("finops_overview_read", overview));
      const oq = overviewQuery(c.req.query("from"), c.req.query("to"), c.req.query("limit"), c.req.query("cursor"));
      const format = c.req.query("format") ?? "json";
      if (format !== "json" && format !== "csv") {
        throw new AppError(400, "VALIDATION_FAILED", "invalid usage query", [
          { path: "format", message: "json or csv" },
        ]);
      }
      const page = await overviewReport(c.get("config"), oq);
      if (format === "json") return c.json(page);
      const headers: Record<string, string> = { "content-type": "text/csv; charset=utf-8" };
      if (page.nextCursor) headers["x-next-cursor"] = page.nextCursor;
      return c.body(overviewCsv(page), 200, headers);
    }
    const q = usageQuery(c.req.query("tenantId"), c.req.query("from"), c.req.query("to"));
    const decision = await authorize("finops_read", principal, [q.tenantId]);
    recordDecision(c.get("log"), "finops_read", decision);
    if (!decision.allow) throw new AppError(403, "FORBIDDEN", denialMessage("finops_read", decision));
    return c.json(await usageReport(c.env, c.get("config"), q.tenantId, q.days));
  },
);
