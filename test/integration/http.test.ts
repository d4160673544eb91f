import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { computeScore } from "../../src/domain/score";
import { token } from "./helpers";

const BASE = "https://coherence.test";

async function call(path: string, init: RequestInit & { bearer?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers }));
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe("Worker HTTP surface in workerd", () => {
  it("accepts a batch and serves the score through the persisted read", async () => {
    const bearer = await token({ tenant: "http-a", scope: "coherence:read coherence:write" });
    const ts = new Date(Date.now() - 60_000).toISOString();
    const signals = [0.2, 0.9, 0.4].map((value, i) => ({
      tenantId: "http-a",
      type: "t",
      source: "s",
      value,
      weight: i + 1,
      ts,
    }));
    const ingest = await call("/v1/coherence/signals", {
      method: "POST",
      bearer,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ signals }),
    });
    expect(ingest.status).toBe(202);
    expect(ingest.body).toMatchObject({ accepted: 3, duplicates: 0 });
    const read = await call("/graphql", {
      method: "POST",
      bearer,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "pq_tenant_coherence_full_v1", variables: { tenantId: "http-a" } }),
    });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      data: {
        tenantCoherence: {
          tenantId: "http-a",
          score: computeScore(signals.map((s) => ({ v: s.value, w: s.weight }))),
          signalCount: 3,
        },
      },
    });
  });

  it("answers 401 without a token, in each endpoint's error shape", async () => {
    const rest = await call("/v1/coherence/signals", { method: "POST", body: "{}" });
    expect(rest).toMatchObject({ status: 401, body: { error: { code: "UNAUTHENTICATED" } } });
    const gql = await call("/graphql", { method: "POST", body: "{}" });
    expect(gql).toMatchObject({ status: 401, body: { errors: [{ extensions: { code: "UNAUTHENTICATED" } }] } });
  });

  it("answers unknown routes with a JSON 404", async () => {
    expect(await call("/nope")).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
  });
});
