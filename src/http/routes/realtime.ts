import { Hono } from "hono";
import { isTenantId } from "../../domain/signal";
import { AppError } from "../../errors";
import { type AppEnv, tenantClient } from "../context";
import { requireCoherenceFeature } from "../middleware/feature-flag";

/**
 * `GET /v1/tenants/{tenantId}/graphql` (docs/api.md §4.5): checks the route and hands the WebSocket upgrade to the
 * tenant's object, which speaks graphql-ws itself. Auth happens in `connection_init`, inside the object.
 */
export const realtimeRoutes = new Hono<AppEnv>().get(
  "/v1/tenants/:tenantId/graphql",
  async (c, next) => {
    c.get("log").op = "subscribe_connect";
    await next();
  },
  requireCoherenceFeature,
  async (c) => {
    const tenantId = c.req.param("tenantId");
    if (!isTenantId(tenantId)) {
      throw new AppError(400, "VALIDATION_FAILED", "tenant id must be 1..128 of [A-Za-z0-9._:-]", [
        { path: "tenantId", message: "invalid tenant id" },
      ]);
    }
    c.get("log").tenant_id = tenantId;
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError(
        426,
        "UPGRADE_REQUIRED",
        "connect with a WebSocket (subprotocol graphql-transport-ws)",
        undefined,
        {
          Upgrade: "websocket",
        },
      );
    }
    return tenantClient(c, tenantId).upgrade(c.req.raw);
  },
);
