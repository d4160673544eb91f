import { Hono } from "hono";
import { checkTicket, mintTicket, TICKET_HEADER, ticketHeader } from "../../auth/ticket";
import { AppError } from "../../errors";
import { tenantDirectory } from "../../residency";
import { type AppEnv, tenantClient } from "../context";
import { authenticate, requireAuth, unauthenticated } from "../middleware/auth";
import { requireCoherenceFeature } from "../middleware/feature-flag";
import { enforceTenantAction, tenantParam } from "../tenant-access";

/**
 * The path segment that names no tenant but all of them: `/v1/tenants/*\/graphql` serves the operators' live
 * overview from the directory's object (operator tokens with `coherence:read` only; docs/api.md §4.12.1).
 */
const OPERATOR_PATH = "*";

/**
 * Realtime (docs/api.md §4.5). The upgrade must carry a credential — `Authorization: Bearer <jwt>` or
 * `?ticket=` — and the Worker checks it before the tenant's object sees the request: an upgrade without a valid
 * one is answered here (401/403) and costs the tenant nothing (no rate-limit slot, socket slot or usage count).
 * `connection_init`, inside the object, still decides the connection's scope and expiry.
 */
export const realtimeRoutes = new Hono<AppEnv>()
  .post(
    "/v1/tenants/:tenantId/realtime-tickets",
    async (c, next) => {
      c.get("log").op = "realtime_ticket";
      await next();
    },
    requireCoherenceFeature,
    requireAuth,
    async (c) => {
      const principal = c.get("principal");
      let tenantId: string;
      if (c.req.param("tenantId") === OPERATOR_PATH) {
        // The operators' live overview (docs/api.md §4.12.1): a ticket for the path `*`, to operator tokens only.
        await enforceTenantAction(c.get("log"), "overview_subscribe", principal, null);
        tenantId = OPERATOR_PATH;
      } else {
        await enforceTenantAction(c.get("log"), "subscribe", principal, null);
        tenantId = tenantParam(c.req.param("tenantId"));
        await enforceTenantAction(c.get("log"), "subscribe", principal, tenantId);
      }
      const ticket = await mintTicket(c.get("config").realtimeTicketKey, tenantId, Date.now());
      return c.json({ ticket: ticket.ticket, expiresAt: new Date(ticket.expiresAtMs).toISOString() }, 201, {
        "cache-control": "no-store",
      });
    },
  )
  .get(
    "/v1/tenants/:tenantId/graphql",
    async (c, next) => {
      c.get("log").op = "subscribe_connect";
      await next();
    },
    requireCoherenceFeature,
    async (c) => {
      const config = c.get("config");
      const ticket = c.req.query("ticket");
      const operators = c.req.param("tenantId") === OPERATOR_PATH;
      let usedTicket: string | null = null;
      if (ticket !== undefined) {
        const tenantId = operators ? OPERATOR_PATH : tenantParam(c.req.param("tenantId"));
        const check = await checkTicket(config.realtimeTicketKey, ticket, tenantId, Date.now());
        if (!check.ok) {
          if (check.reason === "other_tenant") {
            throw new AppError(403, "FORBIDDEN", "this ticket is for another tenant");
          }
          throw unauthenticated("invalid or expired realtime ticket", check.reason);
        }
        usedTicket = ticketHeader(check.nonce, check.expiresAtMs);
      } else {
        const principal = await authenticate(c, "the upgrade needs a bearer token or a realtime ticket");
        if (operators) {
          await enforceTenantAction(c.get("log"), "overview_subscribe", principal, null);
        } else {
          await enforceTenantAction(c.get("log"), "subscribe", principal, null);
          await enforceTenantAction(c.get("log"), "subscribe", principal, tenantParam(c.req.param("tenantId")));
        }
      }
      const tenantId = c.req.param("tenantId");
      // The operators' path is no tenant's: its log lines name none.
      if (!operators) c.get("log").tenant_id = tenantId;
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
      const headers = new Headers(c.req.raw.headers);
      headers.delete(TICKET_HEADER);
      if (usedTicket !== null) headers.set(TICKET_HEADER, usedTicket);
      const forwarded = new Request(c.req.raw, { headers });
      if (operators) return tenantDirectory(c.env, config).fetch(forwarded);
      return tenantClient(c, tenantId).upgrade(forwarded);
    },
  );
