import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { token, upgrade } from "./helpers";

// The upgrade carries a credential the Worker checks before the tenant's object sees it (docs/api.md §4.5):
// a bearer token, or a realtime ticket that is good for one upgrade. Refusals cost the tenant nothing.

async function ticketFor(tenantId: string, bearer: string): Promise<Response> {
  return exports.default.fetch(
    new Request(`https://coherence.test/v1/tenants/${tenantId}/realtime-tickets`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}` },
    }),
  );
}

async function close(res: Response): Promise<void> {
  const ws = res.webSocket;
  if (ws) {
    ws.accept();
    ws.close(1000, "done");
  }
}

/** The tenant's FinOps `subscribe` counters (requests, rejected) as its object stored them. */
async function subscribeUsage(tenantId: string): Promise<{ requests: number; rejected: number }> {
  const stub = env.TENANT.get(env.TENANT.idFromName(tenantId));
  return runInDurableObject(stub, (_instance, state) => {
    const row = state.storage.sql
      .exec<{ requests: number; rejected: number }>(
        `SELECT COALESCE(SUM(requests), 0) AS requests, COALESCE(SUM(rejected), 0) AS rejected FROM usage WHERE op = 'subscribe'`,
      )
      .one();
    return { requests: row.requests, rejected: row.rejected };
  });
}

describe("authenticated WebSocket upgrades", () => {
  it("refuses an upgrade without a credential at the edge with a JSON 401", async () => {
    const res = await upgrade("up-anon");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAUTHENTICATED");
  });

  it("accepts a bearer token for the path's tenant; refuses another tenant's (403) and a forged one (401)", async () => {
    const bearer = await token({ tenant: "up-bearer", scope: "coherence:read" });
    const ok = await upgrade("up-bearer", { bearer });
    expect(ok.status).toBe(101);
    await close(ok);
    expect((await upgrade("up-other", { bearer })).status).toBe(403);
    expect((await upgrade("up-bearer", { bearer: `${bearer}x` })).status).toBe(401);
    const writeOnly = await token({ tenant: "up-bearer", scope: "coherence:write" });
    expect((await upgrade("up-bearer", { bearer: writeOnly })).status).toBe(403);
  });

  it("issues a ticket good for one upgrade of that tenant's path, for 60 s", async () => {
    const bearer = await token({ tenant: "up-ticket", scope: "coherence:read" });
    const issued = await ticketFor("up-ticket", bearer);
    expect(issued.status).toBe(201);
    const body = (await issued.json()) as { ticket: string; expiresAt: string };
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    expect((await upgrade("up-ticket-b", { ticket: body.ticket })).status).toBe(403); // another tenant's path
    const first = await upgrade("up-ticket", { ticket: body.ticket });
    expect(first.status).toBe(101);
    await close(first);
    const again = await upgrade("up-ticket", { ticket: body.ticket });
    expect(again.status).toBe(401); // single use
    expect((await upgrade("up-ticket", { ticket: `${body.ticket.slice(0, -2)}AA` })).status).toBe(401); // forged
  });

  it("issues tickets only to a token with coherence:read for that tenant", async () => {
    const reader = await token({ tenant: "up-issue", scope: "coherence:read" });
    expect((await ticketFor("up-issue-other", reader)).status).toBe(403);
    const writer = await token({ tenant: "up-issue", scope: "coherence:write" });
    expect((await ticketFor("up-issue", writer)).status).toBe(403);
    const none = await exports.default.fetch(
      new Request("https://coherence.test/v1/tenants/up-issue/realtime-tickets", { method: "POST" }),
    );
    expect(none.status).toBe(401);
  });

  it("charges refused upgrades to nobody: the tenant's usage counts only the accepted one", async () => {
    const tenantId = "up-charge";
    const bearer = await token({ tenant: tenantId, scope: "coherence:read" });
    for (let i = 0; i < 20; i++) expect((await upgrade(tenantId)).status).toBe(401);
    expect((await upgrade(tenantId, { ticket: "rt1.nonsense" })).status).toBe(401);
    const ok = await upgrade(tenantId, { bearer });
    expect(ok.status).toBe(101);
    await close(ok);
    // Nothing of the 21 refusals reached the tenant's object: no rejected subscribe in its usage.
    expect(await subscribeUsage(tenantId)).toEqual({ requests: 0, rejected: 0 });
  });
});
