import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type AuthzAction, authorize, installPolicy } from "../../src/auth/authz";
import type { Principal } from "../../src/auth/principal";

const wasm = readFileSync(resolve(import.meta.dirname, "..", "..", "policy", "authz.wasm"));

const tenant = (scopes: string[], id = "acme"): Principal => ({
  tenant: id,
  scopes: new Set(scopes),
  subjectHash: null,
});
const operator = (scopes: string[]): Principal => ({ tenant: "*", scopes: new Set(scopes), subjectHash: null });

describe("authorize without an installed policy", () => {
  it("denies everything (fail closed)", async () => {
    vi.resetModules();
    const fresh = await import("../../src/auth/authz");
    const d = await fresh.authorize("ingest", tenant(["coherence:write"]), ["acme"]);
    expect(d).toEqual({ allow: false, scopeOk: false, reason: "policy_unavailable" });
  });
});

describe("authorize with the compiled policy (policy/authz.wasm)", () => {
  beforeAll(() => installPolicy(wasm));

  const cases: Array<[AuthzAction, Principal, string[] | undefined, boolean, boolean, string]> = [
    ["ingest", tenant(["coherence:write"]), ["acme"], true, true, "allowed"],
    ["ingest", tenant(["coherence:write"]), ["acme", "globex"], false, true, "tenant_mismatch"],
    ["ingest", tenant(["coherence:write"]), undefined, false, true, "tenant_mismatch"],
    ["ingest", tenant(["coherence:read"]), ["acme"], false, false, "missing_scope"],
    ["ingest", operator(["coherence:write"]), ["acme"], false, false, "operator_not_allowed"],
    ["graphql", tenant(["coherence:read"]), undefined, true, true, "allowed"],
    ["graphql", tenant(["finops:read"]), undefined, true, true, "allowed"],
    ["graphql", tenant(["metrics:read"]), undefined, false, false, "missing_scope"],
    ["graphql", operator(["finops:read"]), undefined, true, true, "allowed"],
    ["graphql", operator(["coherence:read"]), undefined, true, true, "allowed"],
    ["graphql", operator(["coherence:write"]), undefined, false, false, "operator_not_allowed"],
    ["graphql_query", operator(["coherence:read"]), ["acme"], false, false, "operator_not_allowed"],
    ["overview_read", operator(["coherence:read"]), [], true, true, "allowed"],
    ["overview_read", tenant(["coherence:read"]), [], false, false, "operator_only"],
    ["graphql_query", tenant(["coherence:read"]), ["acme"], true, true, "allowed"],
    ["graphql_query", tenant(["coherence:read"]), ["globex"], false, true, "tenant_mismatch"],
    ["graphql_mutation", tenant(["coherence:read"]), ["acme"], false, false, "missing_scope"],
    ["subscribe", tenant(["coherence:read"]), ["acme"], true, true, "allowed"],
    ["subscribe", operator(["coherence:read"]), ["acme"], false, false, "operator_not_allowed"],
    ["dlq_read", operator(["metrics:read"]), [], true, true, "allowed"],
    ["dlq_read", tenant(["metrics:read"]), [], false, false, "operator_only"],
    ["dlq_replay", operator(["metrics:read"]), [], false, false, "missing_scope"],
    ["finops_read", operator(["finops:read"]), ["globex"], true, true, "allowed"],
    ["finops_read", tenant(["finops:read"]), ["globex"], false, true, "tenant_mismatch"],
    ["metrics_read", tenant(["metrics:read"]), [], true, true, "allowed"],
  ];

  it.each(cases)(
    "%s by %o on %o → allow=%s scopeOk=%s (%s)",
    async (action, principal, tenants, allow, scopeOk, reason) => {
      expect(await authorize(action, principal, tenants)).toEqual({ allow, scopeOk, reason });
    },
  );

  it("refuses actions the policy does not know", async () => {
    const d = await authorize("drop_tables" as AuthzAction, tenant(["coherence:write"]), ["acme"]);
    expect(d.allow).toBe(false);
    expect(d.reason).toBe("unknown_action");
  });

  it("stays correct over 10,000 evaluations in one instance (the SDK resets its heap per call)", async () => {
    let allowed = 0;
    for (let i = 0; i < 10_000; i++) {
      const own = i % 2 === 0 ? `t${i}` : "other";
      if ((await authorize("graphql_query", tenant(["coherence:read"], `t${i}`), [own])).allow) allowed++;
    }
    expect(allowed).toBe(5_000);
    expect((await authorize("ingest", tenant(["coherence:write"]), ["acme"])).allow).toBe(true);
  });
});

describe("authorize: remembered decisions", () => {
  beforeAll(() => installPolicy(wasm));

  it("answers a repeated question exactly as the policy does, for every principal, action and tenant list", async () => {
    const { setPolicyMemo } = await import("../../src/auth/authz");
    const principals = [
      tenant(["coherence:write"]),
      tenant(["coherence:read"]),
      tenant(["coherence:read coherence:write"]),
      tenant(["a b"]),
      tenant(["a", "b"]),
      operator(["finops:read"]),
      operator(["coherence:read"]),
    ];
    const actions: AuthzAction[] = [
      "ingest",
      "graphql",
      "graphql_query",
      "graphql_mutation",
      "subscribe",
      "finops_read",
    ];
    const resources = [undefined, ["acme"], ["globex"], ["acme", "globex"], ['acme","globex']];
    for (const memo of [false, true, true]) {
      setPolicyMemo(memo);
      for (const p of principals)
        for (const a of actions)
          for (const r of resources) {
            setPolicyMemo(false);
            const fresh = await authorize(a, p, r);
            setPolicyMemo(memo);
            expect(await authorize(a, p, r), `${a} ${JSON.stringify([...p.scopes])} ${JSON.stringify(r)}`).toEqual(
              fresh,
            );
          }
    }
    setPolicyMemo(true);
  });

  it("keeps a principal's decision apart from another principal with the same tenant and other scopes", async () => {
    const reader = tenant(["coherence:read"]);
    const writer = tenant(["coherence:write"]);
    expect((await authorize("graphql_mutation", reader, ["acme"])).allow).toBe(false);
    expect((await authorize("graphql_mutation", writer, ["acme"])).allow).toBe(true);
    expect((await authorize("graphql_mutation", reader, ["acme"])).allow).toBe(false);
  });
});
