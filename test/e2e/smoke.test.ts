import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken, postJson, type RunningService, startService } from "./service";

let svc: RunningService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(async () => {
  await svc?.stop();
});

describe("npm start", () => {
  it("serves health, ingest and the persisted read", async () => {
    expect(await (await fetch(`${svc.baseUrl}/healthz`)).json()).toEqual({ status: "ok" });
    const token = await mintToken("smoke", "coherence:read coherence:write");
    const auth = { authorization: `Bearer ${token}` };
    const ingest = await postJson(
      `${svc.baseUrl}/v1/coherence/signals`,
      { tenantId: "smoke", type: "t", source: "s", value: 0.9 },
      auth,
    );
    expect(ingest.status).toBe(202);
    const read = await postJson(
      `${svc.baseUrl}/graphql`,
      { id: "pq_tenant_coherence_v1", variables: { tenantId: "smoke" } },
      auth,
    );
    expect(read.body).toMatchObject({ data: { tenantCoherence: { score: 0.9, status: "HEALTHY" } } });
  });
});
