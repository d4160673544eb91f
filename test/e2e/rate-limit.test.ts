import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectGraphqlError, expectRestError, graphql, ingest, newTenant, readScore, signal } from "./helpers";
import { mintToken, type RunningService, startService } from "./service";

const RPS_MAX = 5;
let svc: RunningService;

beforeAll(async () => {
  svc = await startService({ env: { RPS_MAX: String(RPS_MAX) } });
});
afterAll(async () => {
  await svc?.stop();
});

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
});
