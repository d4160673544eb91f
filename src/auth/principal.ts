/** Scopes a token may carry (contract §1, plus `ops:write` for operators). */
export type Scope = "coherence:read" | "coherence:write" | "finops:read" | "metrics:read" | "ops:write";

/** The verified caller: a tenant id, or `*` for operator tokens, and its scopes. */
export interface Principal {
  tenant: string;
  scopes: ReadonlySet<string>;
  subject: string | null;
}

/** Operator tokens (`tenant: "*"`) only count for these scopes; they never touch coherence data. */
// `ops:write` (dead-letter replay) is an addition to the contract's scopes, for operators only.
const OPERATOR_SCOPES: ReadonlySet<string> = new Set(["finops:read", "metrics:read", "ops:write"]);

/** `true` when the principal holds `scope` and, for operator tokens, the scope is one they may use. */
export function hasScope(p: Principal, scope: Scope): boolean {
  if (!p.scopes.has(scope)) return false;
  return p.tenant !== "*" || OPERATOR_SCOPES.has(scope);
}

/** `true` when the principal may act on `tenantId`'s coherence data (never for operator tokens). */
export function mayAccessTenant(p: Principal, tenantId: string): boolean {
  return p.tenant !== "*" && p.tenant === tenantId;
}
