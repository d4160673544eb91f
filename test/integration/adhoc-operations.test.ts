import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal";
import { loadConfig } from "../../src/config";
import { yoga } from "../../src/graphql/yoga";
import { graphqlContext } from "./helpers";
// The Worker entry installs the compiled policy in this isolate (as it does for every request).
import "../../src/index";

// ALLOW_ADHOC_OPERATIONS (docs/adr.md ADR-002's triage switch): the enabled path runs a document that is not in the
// registry; the triage window outside development/test closes at its instant.

const TENANT = "adhoc-a";
const reader: Principal = { tenant: TENANT, scopes: new Set(["coherence:read"]), subjectHash: null };
const ADHOC = {
  query: "query Adhoc($t: ID!) { tenantCoherence(tenantId: $t) { tenantId status } }",
  variables: { t: TENANT },
};

async function run(settings: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const config = loadConfig({ ...(env as unknown as Record<string, string>), ...settings });
  const ctx = graphqlContext(ADHOC, reader, config);
  const res = await yoga.fetch(
    new Request("https://coherence.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
    }),
    ctx,
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const code = (body: Record<string, unknown>) =>
  (body.errors as Array<{ extensions?: { code?: string } }> | undefined)?.[0]?.extensions?.code;

describe("ad-hoc GraphQL operations", () => {
  it("are refused by default (PERSISTED_QUERY_ONLY)", async () => {
    const { status, body } = await run({});
    expect(status).toBe(400);
    expect(code(body)).toBe("PERSISTED_QUERY_ONLY");
  });

  it("run when ALLOW_ADHOC_OPERATIONS=true in test", async () => {
    const { status, body } = await run({ ALLOW_ADHOC_OPERATIONS: "true" });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.data).toEqual({ tenantCoherence: { tenantId: TENANT, status: "UNKNOWN" } });
  });

  it("run within a production triage window and are refused once it has passed", async () => {
    const prod = {
      ENVIRONMENT: "production",
      DEV_UNPINNED_DURABLE_OBJECTS: "", // a production config pins objects; this document only reads the score
      JWT_ISSUER: "https://idp.test",
      JWT_AUDIENCE: "coherence",
      LOG_HASH_KEY: "k",
      REALTIME_TICKET_KEY: "t",
      ALLOW_ADHOC_OPERATIONS: "true",
    };
    const open = await run({ ...prod, ALLOW_ADHOC_OPERATIONS_UNTIL: new Date(Date.now() + 3_600_000).toISOString() });
    // Pinning is not implemented by workerd: the document ran and its resolver failed closed with 503.
    expect(code(open.body)).not.toBe("PERSISTED_QUERY_ONLY");
    const closed = await run({ ...prod, ALLOW_ADHOC_OPERATIONS_UNTIL: new Date(Date.now() - 1000).toISOString() });
    expect(closed.status).toBe(400);
    expect(code(closed.body)).toBe("PERSISTED_QUERY_ONLY");
  });
});
