import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal";
import type { GraphQLServerContext } from "../../src/graphql/context";
import { executePersisted, regularMediaType } from "../../src/graphql/execute";
import { yoga } from "../../src/graphql/yoga";
import { graphqlContext } from "./helpers";
// The Worker entry installs the compiled policy in this isolate (without it every operation is refused alike,
// and the comparison below would only compare refusals).
import "../../src/index";

// The persisted fast path (src/graphql/execute.ts) must answer exactly as yoga does. Each case runs through
// both, against the real tenant objects of this workerd, and the answers are compared byte for byte.

const TENANT = "fast-path-a";
const ts = () => new Date(Date.now() - 60_000).toISOString();

const context = graphqlContext;

const writer: Principal = { tenant: TENANT, scopes: new Set(["coherence:read", "coherence:write"]), subjectHash: "t" };
const reader: Principal = { tenant: TENANT, scopes: new Set(["coherence:read"]), subjectHash: "t" };

interface Answer {
  status: number;
  type: string | null;
  text: string;
  log: GraphQLServerContext["log"];
  counted: boolean;
}

async function settle(res: Response, ctx: GraphQLServerContext): Promise<Answer> {
  // updatedAt of an empty window is "now": allowed to differ between two calls.
  const text = (await res.text()).replace(/"updatedAt":"[^"]+"/g, '"updatedAt":"…"');
  // Each accepted write gets a fresh provenance id: compared by presence, not value.
  const log = { ...ctx.log, ...(ctx.log.provenance_id ? { provenance_id: "…" } : {}) };
  return { status: res.status, type: res.headers.get("content-type"), text, log, counted: ctx.usage.counted };
}

async function viaYoga(body: unknown, accept: string, principal: Principal): Promise<Answer> {
  const ctx = context(body, principal);
  const request = new Request("https://coherence.test/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept },
  });
  return settle(await yoga.fetch(request, ctx), ctx);
}

async function viaFastPath(body: unknown, accept: string, principal: Principal): Promise<Answer | null> {
  const ctx = context(body, principal);
  const res = await executePersisted(body, accept, ctx);
  return res && settle(res, ctx);
}

const publish = (input: Record<string, unknown>) => ({ id: "pq_publish_signal_v1", variables: { input } });
const goodInput = (signalId: string) => ({
  tenantId: TENANT,
  type: "latency",
  source: "fp",
  value: 0.7,
  signalId,
  ts: ts(),
});

describe("persisted fast path answers as yoga does", () => {
  const fast: Array<[string, () => unknown, string, Principal]> = [
    ["read by id", () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } }), "*/*", reader],
    [
      "read, full",
      () => ({ id: "pq_tenant_coherence_full_v1", variables: { tenantId: TENANT } }),
      "application/json",
      reader,
    ],
    [
      "read by documentId",
      () => ({ documentId: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } }),
      "*/*",
      reader,
    ],
    [
      "read by registered text",
      () => ({
        query: "query($tenantId:ID!){ tenantCoherence(tenantId:$tenantId){ score status updatedAt } }",
        variables: { tenantId: TENANT },
      }),
      "*/*",
      reader,
    ],
    [
      "read, graphql-response+json",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } }),
      "application/graphql-response+json",
      reader,
    ],
    [
      "read, both media types",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } }),
      "application/graphql-response+json, application/json",
      reader,
    ],
    [
      "read, application/*",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } }),
      "application/*",
      reader,
    ],
    [
      "read of another tenant (403)",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: "other" } }),
      "*/*",
      reader,
    ],
    [
      "read of another tenant (403), graphql-response+json",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: "other" } }),
      "application/graphql-response+json",
      reader,
    ],
    ["read without variables", () => ({ id: "pq_tenant_coherence_v1" }), "*/*", reader],
    [
      "read with null variables",
      () => ({ id: "pq_tenant_coherence_v1", variables: null }),
      "application/graphql-response+json",
      reader,
    ],
    [
      "read with a wrongly typed variable",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: { a: 1 } } }),
      "*/*",
      reader,
    ],
    [
      "read with an unused variable",
      () => ({ id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT, extra: 1 } }),
      "*/*",
      reader,
    ],
    ["mutation", () => publish(goodInput(`fp-${crypto.randomUUID()}`)), "*/*", writer],
    ["mutation without write scope (403)", () => publish(goodInput("fp-x")), "*/*", reader],
    ["mutation, value out of range", () => publish({ ...goodInput("fp-y"), value: 7 }), "*/*", writer],
    ["mutation, value of the wrong type", () => publish({ ...goodInput("fp-z"), value: "high" }), "*/*", writer],
    [
      "mutation, unknown input field",
      () => publish({ ...goodInput("fp-u"), colour: "red" }),
      "application/graphql-response+json",
      writer,
    ],
    ["mutation, missing input field", () => publish({ tenantId: TENANT, value: 0.5 }), "*/*", writer],
    ["mutation for another tenant", () => publish({ ...goodInput("fp-o"), tenantId: "other" }), "*/*", writer],
    [
      "usage without finops scope",
      () => ({ id: "pq_tenant_usage_v1", variables: { tenantId: TENANT, from: "2026-01-01", to: "2026-01-02" } }),
      "*/*",
      writer,
    ],
  ];
  for (const [name, body, accept, principal] of fast) {
    it(name, async () => {
      const b = body();
      const viaFast = await viaFastPath(b, accept, principal);
      expect(viaFast, "this request should take the fast path").not.toBeNull();
      const expected = await viaYoga(b, accept, principal);
      expect(viaFast).toEqual(expected);
      if (name === "read by id" || name === "mutation") expect(expected.status, expected.text).toBe(200);
    });
  }

  const toYoga: Array<[string, unknown, string]> = [
    ["an unknown id", { id: "pq_nope" }, "*/*"],
    ["ad-hoc text", { query: "{ __typename }" }, "*/*"],
    ["a subscription", { id: "pq_coherence_events_v1", variables: { tenantId: TENANT } }, "*/*"],
    ["an unexpected parameter", { id: "pq_tenant_coherence_v1", foo: 1 }, "*/*"],
    ["variables as an array", { id: "pq_tenant_coherence_v1", variables: [] }, "*/*"],
    ["variables as a string", { id: "pq_tenant_coherence_v1", variables: "{}" }, "*/*"],
    ["a wrong operationName", { id: "pq_tenant_coherence_v1", operationName: "Nope" }, "*/*"],
    ["a non-string operationName", { id: "pq_tenant_coherence_v1", operationName: 3 }, "*/*"],
    ["a body that is an array", [{ id: "pq_tenant_coherence_v1" }], "*/*"],
    ["a body that is a string", "pq_tenant_coherence_v1", "*/*"],
    [
      "only a non-utf-8 media type",
      { id: "pq_tenant_coherence_v1", variables: { tenantId: TENANT } },
      "application/json; charset=latin1",
    ],
  ];
  for (const [name, body, accept] of toYoga) {
    it(`leaves ${name} to yoga`, async () => {
      expect(await viaFastPath(body, accept, reader)).toBeNull();
    });
  }

  it("negotiates the media type as yoga's result processor does", () => {
    expect(regularMediaType("")).toBe("application/json");
    expect(regularMediaType("application/graphql-response+json")).toBe("application/graphql-response+json");
    expect(regularMediaType("application/json, application/graphql-response+json")).toBe("application/json");
    expect(regularMediaType("application/graphql-response+json, application/json")).toBe(
      "application/graphql-response+json",
    );
    expect(regularMediaType("text/html")).toBeNull();
  });
});
