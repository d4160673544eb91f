import { type LoadedPolicy, loadPolicy } from "@open-policy-agent/opa-wasm";
import type { Principal } from "./principal";

/**
 * Tenant-scoped ABAC: every authorization decision of the service comes from the OPA policy in
 * policy/authz.rego, compiled to Wasm (policy/authz.wasm) and evaluated here with the OPA Wasm SDK.
 * The Worker entry installs the compiled module once per isolate (`installPolicy`); without it every
 * decision is a denial (fail closed).
 */

/** Actions the policy knows (the keys of `grants` in policy/authz.rego). */
export type AuthzAction =
  | "ingest"
  | "graphql"
  | "graphql_query"
  | "graphql_mutation"
  | "subscribe"
  | "finops_read"
  | "finops_overview_read"
  | "provenance_read"
  | "metrics_read"
  | "dlq_read"
  | "dlq_replay"
  | "switches_read"
  | "switches_write"
  | "overview_read"
  | "overview_subscribe";

export type DenyReason =
  | "unknown_action"
  | "operator_not_allowed"
  | "operator_only"
  | "missing_scope"
  | "tenant_mismatch"
  | "policy_unavailable";

/** The policy's answer. `scopeOk` alone answers "does the token's scope allow this kind of action at all". */
export interface Decision {
  allow: boolean;
  scopeOk: boolean;
  reason: "allowed" | DenyReason;
}

let source: WebAssembly.Module | BufferSource | null = null;
let loaded: LoadedPolicy | null = null;

/** Installs the compiled policy (the Worker entry's `policy/authz.wasm` import; tests pass the bytes). */
export function installPolicy(wasm: WebAssembly.Module | BufferSource): void {
  source = wasm;
  loaded = null;
  decisions.clear();
}

/**
 * Decisions of this isolate, by (action, principal tenant, scopes, resource tenants). The policy is a pure
 * function of that input and is fixed for the isolate's life (a new policy means a new deployment), so a
 * remembered decision is exactly what evaluating again would give. Bounded: cleared when full.
 */
const decisions = new Map<string, Decision>();
const DECISIONS_MAX = 10_000;
/** The scope part of a decision key, per principal object (verified principals are cached with their token). */
const principalKeys = new WeakMap<Principal, string>();
let memoize = true;

/** Benchmark only (`DEV_LAYERS_OFF=policy-cache`): evaluate the policy on every call. */
export function setPolicyMemo(on: boolean): void {
  memoize = on;
}

function decisionKey(action: AuthzAction, principal: Principal, tenantIds: readonly string[] | undefined): string {
  let who = principalKeys.get(principal);
  if (who === undefined) {
    who = JSON.stringify([principal.tenant, [...principal.scopes].sort()]);
    principalKeys.set(principal, who);
  }
  return `${action} ${who} ${tenantIds === undefined ? "-" : JSON.stringify(tenantIds)}`;
}

/**
 * The instantiated policy, created on first use in this isolate (instantiation is async in the SDK). Requests
 * that arrive before the first instance is stored each instantiate their own: an in-flight promise is never
 * shared between requests (workerd cancels a request that awaits another request's promise).
 */
async function policy(): Promise<LoadedPolicy | null> {
  if (loaded) return loaded;
  if (!source) return null;
  const instance = await loadPolicy(source);
  loaded ??= instance;
  return loaded;
}

const DENIED_UNAVAILABLE: Decision = { allow: false, scopeOk: false, reason: "policy_unavailable" };

/**
 * Asks the policy whether `principal` may perform `action` on `tenantIds`. Without `tenantIds` only the
 * scope is judged (`allow` is then false for tenant-bound actions); callers use that to answer 403 on the
 * scope before they parse a request, as docs/api.md §3 orders it.
 */
export async function authorize(
  action: AuthzAction,
  principal: Principal,
  tenantIds?: readonly string[],
): Promise<Decision> {
  const key = memoize ? decisionKey(action, principal, tenantIds) : "";
  const known = memoize ? decisions.get(key) : undefined;
  if (known) return known;
  const p = loaded ?? (await policy());
  if (!p) return DENIED_UNAVAILABLE;
  const input = {
    action,
    principal: { tenant: principal.tenant, scopes: [...principal.scopes] },
    ...(tenantIds ? { resource: { tenantIds } } : {}),
  };
  const out = (p.evaluate(input) as Array<{ result?: unknown }>)[0]?.result as
    | { allow?: unknown; scope_ok?: unknown; reason?: unknown }
    | undefined;
  if (!out || typeof out.reason !== "string") return DENIED_UNAVAILABLE;
  const decision: Decision = Object.freeze({
    allow: out.allow === true,
    scopeOk: out.scope_ok === true,
    reason: out.reason as Decision["reason"],
  });
  if (memoize) {
    if (decisions.size >= DECISIONS_MAX) decisions.clear();
    decisions.set(key, decision);
  }
  return decision;
}

/** Appends `action:reason` to a request log's decision list (decisions are logged, tokens never). */
export function recordDecision(log: { authz?: string[] }, action: AuthzAction, decision: Decision): void {
  const entry = `${action}:${decision.reason}`;
  if (log.authz) log.authz.push(entry);
  else log.authz = [entry];
}

/** A short human reason for a 403 body (never names other tenants). */
export function denialMessage(action: AuthzAction, decision: Decision): string {
  switch (decision.reason) {
    case "operator_not_allowed":
      return "operator tokens never read or write coherence data";
    case "operator_only":
      return "only operator tokens (tenant *) may do this";
    case "missing_scope":
      return `token lacks the scope for ${action}`;
    case "tenant_mismatch":
      return "the token's tenant may not act on this tenant";
    default:
      return "not allowed";
  }
}
