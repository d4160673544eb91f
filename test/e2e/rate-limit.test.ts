import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { expectGraphqlError, expectRestError, graphql, ingest, newTenant, readScore, signal } from "./helpers";

const RPS_MAX = 5;
const svc = serviceForFile({ env: { RPS_MAX: String(RPS_MAX) } });

describe("per-tenant rate limit (§8)", () => {
  it("answers a burst over RPS_MAX with 429 RATE_LIMITED and Retry-After, while the next tenant is served", async () => {
    const busy = newTenant("busy");
    const quiet = newTenant("quiet");
    const [busyToken, quietToken] = await Promise.all([
      mintToken(busy, "coherence:read coherence:write"),
      mintToken(quiet, "coherence:read coherence:write"),
    ]);
    const sent = Array.from({ length: 30 }, () => signal(busy));
    const answers = await Promise.all(sent.map((s) => ingest(svc.baseUrl, s, busyToken)));
    const limited = answers.filter((a) => a.status === 429);
    const accepted = answers.filter((a) => a.status === 202);
    expect(limited.length).toBeGreaterThan(0);
    expect(accepted.length + limited.length).toBe(sent.length);
    for (const a of limited) {
      expectRestError(a, 429, "RATE_LIMITED", [busyToken]);
      expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // The tenant next door is unaffected by the burst.
    const other = await ingest(svc.baseUrl, signal(quiet), quietToken);
    expect(other.status).toBe(202);

    // Refused requests never reached storage: exactly the 202s are counted. The read honours Retry-After,
    // as a client would, since the burst may have used up this second's budget.
    const retryAfter = Number(limited[0]?.headers.get("retry-after"));
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    const view = await readScore(svc.baseUrl, busy, busyToken);
    expect(view.signalCount).toBe(accepted.length);
  });

  it("answers GraphQL reads over the limit in the GraphQL error shape with status 429", async () => {
    const tenantId = newTenant("gql");
    const token = await mintToken(tenantId, "coherence:read");
    const body = { id: "pq_tenant_coherence_v1", variables: { tenantId } };
    const answers = await Promise.all(Array.from({ length: 30 }, () => graphql(svc.baseUrl, body, token)));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const a of limited) {
      expectGraphqlError(a, 429, "RATE_LIMITED", [token]);
      expect(a.headers.get("retry-after")).toBe("1");
    }
  });

  it("counts WebSocket upgrades against the same budget: a burst of connects gets HTTP 429 RATE_LIMITED", async () => {
    const tenantId = newTenant("ws");
    const token = await mintToken(tenantId, "coherence:read");
    const url = `${svc.baseUrl.replace(/^http/, "ws")}/v1/tenants/${tenantId}/graphql`;
    // Authenticated upgrades (an anonymous one is refused before it reaches the tenant's limit).
    const attempt = () =>
      new Promise<{ status: number; retryAfter: string | null; body: string }>((ok) => {
        const ws = new WebSocket(url, "graphql-transport-ws", { headers: { authorization: `Bearer ${token}` } });
        ws.on("open", () => {
          ws.terminate();
          ok({ status: 101, retryAfter: null, body: "" });
        });
        ws.on("error", () => {});
        ws.on("unexpected-response", (_req, res) => {
          let body = "";
          res.on("data", (c: Buffer) => {
            body += c.toString("utf8");
          });
          res.on("end", () =>
            ok({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] ?? null, body }),
          );
        });
      });
    const answers = await Promise.all(Array.from({ length: 20 }, attempt));
    const limited = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 101).length).toBeGreaterThan(0);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length + answers.filter((a) => a.status === 101).length).toBe(answers.length);
    for (const a of limited) {
      expect(JSON.parse(a.body)).toMatchObject({ error: { code: "RATE_LIMITED" } });
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  });
});
