import { describe, expect, it } from "vitest";
import { mintToken } from "../support/harness";
import { serviceForFile } from "../support/vitest-hooks";
import { graphql, ingest } from "./helpers";

const svc = serviceForFile();

describe("npm start", () => {
  it("serves health, ingest and the persisted read", async () => {
    expect(await (await fetch(`${svc.baseUrl}/healthz`)).json()).toEqual({ status: "ok" });
    const token = await mintToken("smoke", "coherence:read coherence:write");
    const accepted = await ingest(svc.baseUrl, { tenantId: "smoke", type: "t", source: "s", value: 0.9 }, token);
    expect(accepted.status).toBe(202);
    const read = await graphql(svc.baseUrl, { id: "pq_tenant_coherence_v1", variables: { tenantId: "smoke" } }, token);
    expect(read.body).toMatchObject({ data: { tenantCoherence: { score: 0.9, status: "HEALTHY" } } });
  });
});
