// POST and GET /graphql (src/http/routes/graphql.ts, src/graphql/yoga.ts) through the Worker's Hono app in Node:
// the route's own checks, GET requests, and the requests the persisted fast path leaves to yoga. The tenant
// objects are fakes of `score` (the fast path itself is compared with yoga in workerd, graphql-fast-path.test.ts).
import { beforeAll, describe, expect, it } from "vitest";
import type { ScoreView } from "../../src/domain/tenant-protocol";
import { app } from "../../src/http/app";
import { fakeNamespace, installCompiledPolicy, tokenSigner, workerEnv } from "./worker-harness";

const signer = await tokenSigner();
beforeAll(installCompiledPolicy);

const view: ScoreView = {
  tenantId: "acme",
  score: 0.8,
  status: "HEALTHY",
  updatedAt: "2026-11-02T00:00:00.000Z",
  signalCount: 3,
};

function env(settings: Record<string, string> = {}) {
  return workerEnv({
    ENVIRONMENT: "test",
    LOG_LEVEL: "error",
    JWT_PUBLIC_KEY: signer.publicKeyPem,
    DEV_UNPINNED_DURABLE_OBJECTS: "true",
    TENANT: fakeNamespace(() => ({ score: async () => ({ kind: "ok", view }), recordUsage: async () => {} })),
    METRICS: fakeNamespace(() => ({ observe: async () => {} })),
    ...settings,
  });
}

const token = () => signer.sign("acme", "coherence:read");

async function post(body: string, settings?: Record<string, string>, headers: Record<string, string> = {}) {
  return app.request(
    "/graphql",
    {
      method: "POST",
      headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json", ...headers },
      body,
    },
    env(settings),
  );
}

async function get(query: string, headers: Record<string, string> = {}) {
  return app.request(`/graphql?${query}`, { headers: { authorization: `Bearer ${await token()}`, ...headers } }, env());
}

const variables = encodeURIComponent(JSON.stringify({ tenantId: "acme" }));
const codes = async (res: Response) =>
  ((await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.map((e) => e.extensions?.code);

describe("POST /graphql", () => {
  it("answers a persisted read from the tenant's object", async () => {
    const res = await post(JSON.stringify({ id: "pq_tenant_coherence_v1", variables: { tenantId: "acme" } }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      data: { tenantCoherence: { score: 0.8, status: "HEALTHY", updatedAt: "2026-11-02T00:00:00.000Z" } },
    });
  });

  it("refuses other media types with 415 and a body that is not JSON with 400", async () => {
    const text = await post("{}", {}, { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expect(await codes(text)).toEqual(["UNSUPPORTED_MEDIA_TYPE"]);
    const broken = await post("{not json");
    expect(broken.status).toBe(400);
    expect(await codes(broken)).toEqual(["MALFORMED_JSON"]);
  });

  it("leaves what is not a registered operation to yoga: query text is refused unless ad-hoc operations are on", async () => {
    const adhoc = JSON.stringify({ query: "{ __typename }" });
    const refused = await post(adhoc);
    expect(refused.status).toBe(400);
    expect(await codes(refused)).toEqual(["PERSISTED_QUERY_ONLY"]);
    const allowed = await post(adhoc, { ALLOW_ADHOC_OPERATIONS: "true" });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { __typename: "Query" } });
  });

  it("answers an unknown persisted id and a body that is not an object with yoga's coded errors", async () => {
    const unknown = await post(JSON.stringify({ id: "pq_nope" }));
    expect(await codes(unknown)).toEqual(["PERSISTED_QUERY_NOT_FOUND"]);
    const array = await post("[1]");
    expect(array.status).toBe(400);
    expect(await codes(array)).toEqual(["BAD_REQUEST"]);
  });
});

describe("GET /graphql", () => {
  it("runs a persisted read named by id, with the variables from the query string", async () => {
    const res = await get(`id=pq_tenant_coherence_full_v1&variables=${variables}`, { accept: "application/json" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { tenantCoherence: view } });
  });

  it("answers JSON even when the client's Accept names no JSON type", async () => {
    const res = await get(`id=pq_tenant_coherence_v1&variables=${variables}`, { accept: "text/html" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/json/);
  });

  it("refuses variables or extensions that are not JSON", async () => {
    for (const name of ["variables", "extensions"]) {
      const res = await get(`id=pq_tenant_coherence_v1&${name}=%7Bnope`);
      expect(res.status).toBe(400);
      expect(await codes(res)).toEqual(["MALFORMED_JSON"]);
    }
  });
});
