import { createMiddleware } from "hono/factory";
import type { UsageOp } from "../../finops/usage";
import { logEvent } from "../../telemetry/log";
import { type AppEnv, tenantClient } from "../context";

/** Request ops (the log's `op`) that FinOps counts, and the counter each lands in. */
const COUNTED_OPS: Record<string, UsageOp> = {
  ingest: "ingest",
  graphql: "graphql_query", // refused before the operation was known (e.g. an unknown persisted id)
  graphql_query: "graphql_query",
  graphql_mutation: "graphql_mutation",
};

/**
 * FinOps counting for what the tenant's object did not count itself: requests refused before reaching it
 * (403, 400, 413, 415, 422 …) and reads served elsewhere (`READ_MODE=postgres`). The count is stored in the
 * object before the answer leaves, so it survives the isolate; only these paths pay that one object call.
 * Requests without a verified tenant (401, operator tokens) have no tenant to charge and are not counted here.
 */
export const countUsage = createMiddleware<AppEnv>(async (c, next) => {
  const usage = { counted: false };
  c.set("usage", usage);
  await next();
  if (usage.counted) return;
  const principal = c.get("principal");
  const op = COUNTED_OPS[c.get("log")?.op ?? ""];
  if (!principal || principal.tenant === "*" || !op) return;
  try {
    await tenantClient(c, principal.tenant).recordUsage(op, c.res.status >= 400);
  } catch (err) {
    logEvent({
      level: "error",
      op: "usage_count",
      tenant_id: principal.tenant,
      error_code: "USAGE_NOT_COUNTED",
      message: err instanceof Error ? err.message : String(err),
    });
  }
});
