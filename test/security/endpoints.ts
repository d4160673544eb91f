// THE table of everything the Worker serves: each HTTP route, the static assets, the WebSocket route, and each
// persisted GraphQL operation, with who may call it and how a refusal looks. test/unit/endpoint-table.test.ts
// fails when the app or the registry has an entry this table lacks (or the other way round), and
// test/e2e/isolation-matrix.test.ts runs every guarded entry against every bad-token variant, so a new endpoint
// cannot be added without being listed here and tested.
import { createHash } from "node:crypto";
import registry from "../../.maestro/persisted-queries.json";

/** Scopes a token may carry (docs/api.md §2, plus `ops:write` for operators). */
export type Scope = "coherence:read" | "coherence:write" | "finops:read" | "metrics:read" | "ops:write";
export const SCOPES: readonly Scope[] = [
  "coherence:read",
  "coherence:write",
  "finops:read",
  "metrics:read",
  "ops:write",
];

/** Who an entry serves. `operator`: tokens with tenant `*` only; `tenant`: a tenant's own data only. */
export type Access =
  | { kind: "public"; reason: string }
  | { kind: "tenant"; scope: Scope }
  | { kind: "operator"; scope: Scope }
  /** Any token with the scope, tenant or operator: the route answers no tenant's data (e.g. `/metrics`). */
  | { kind: "any"; scope: Scope }
  /** `/graphql`: each persisted operation names its own scope (see {@link OPERATIONS}). */
  | { kind: "per-operation" };

/**
 * How a refusal looks. `rest`: `{"error":{code,message,details}}` with 401/403; `graphql`: `{"errors":[{message,
 * extensions:{code}}]}` with 401/403 and no `data`; `websocket`: a bad credential on the upgrade is refused with
 * REST 401/403 before the socket opens, and a bad token in `connection_init` closes it with 4401/4403 (a
 * `subscribe` for another tenant gets an `error` message `FORBIDDEN`).
 */
export type DenialShape = "rest" | "graphql" | "websocket";

export const DENIAL = {
  rest: { unauthenticated: 401, forbidden: 403 },
  graphql: { unauthenticated: 401, forbidden: 403 },
  websocket: { unauthenticated: 4401, forbidden: 4403 },
} as const satisfies Record<DenialShape, { unauthenticated: number; forbidden: number }>;

/** One HTTP request, as a test sends it. */
export interface RequestSpec {
  method: "GET" | "POST" | "PUT";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface EntryBase {
  method: "GET" | "POST" | "PUT";
  /** As registered in the Hono app; `:tenantId` is the tenant placeholder. Files: a prefix ending in `*`. */
  path: string;
  /**
   * `worker`: a route of the Hono app (src/http/app.ts); `files`: the files of `dir`, bundled into the Worker
   * (scripts/workbench-bundle.mjs) and served by the route rows below it.
   */
  served: "worker" | "files";
}

export interface PublicEntry extends EntryBase {
  access: { kind: "public"; reason: string };
  /** Files only: the folder under the project root whose files this entry serves. */
  dir?: string;
  /** A request that shows the entry answering without a token. */
  sample: () => RequestSpec;
}

export interface RestEntry extends EntryBase {
  access: { kind: "tenant" | "operator" | "any"; scope: Scope };
  denial: "rest";
  /** A request that a valid token with the scope gets served, acting on `tenantId`'s data. */
  request: (tenantId: string) => RequestSpec;
  /** The status that request gets with a valid token. */
  okStatus: number;
}

export interface GraphqlEntry extends EntryBase {
  access: { kind: "per-operation" };
  denial: "graphql";
  /** Which persisted operations this route runs (GET: queries only, per GraphQL over HTTP). */
  carries: ReadonlyArray<OperationKind>;
}

export interface WebSocketEntry extends EntryBase {
  access: { kind: "tenant"; scope: Scope };
  denial: "websocket";
  carries: ReadonlyArray<OperationKind>;
}

export type Entry = PublicEntry | RestEntry | GraphqlEntry | WebSocketEntry;

const json = { "content-type": "application/json" };

let seq = 0;
/** A valid signal for `tenantId` (docs/api.md §4.3), distinct on every call. */
export function signalFor(tenantId: string): Record<string, unknown> {
  seq++;
  return {
    tenantId,
    signalId: `matrix-${Date.now()}-${seq}`,
    type: "latency",
    source: "isolation-matrix",
    value: 0.5,
    ts: new Date(Date.now() - 60_000).toISOString(),
  };
}

export const ENDPOINTS: readonly Entry[] = [
  {
    method: "GET",
    path: "/healthz",
    served: "worker",
    access: {
      kind: "public",
      reason: "liveness probe for load balancers; a constant answer, touches no tenant object",
    },
    sample: () => ({ method: "GET", path: "/healthz", headers: {} }),
  },
  {
    method: "GET",
    path: "/readyz",
    served: "worker",
    access: { kind: "public", reason: "readiness probe; only each sink's state (ok/down/off), no tenant data" },
    sample: () => ({ method: "GET", path: "/readyz", headers: {} }),
  },
  {
    method: "GET",
    path: "/workbench/*",
    served: "files",
    dir: "public/workbench",
    access: {
      kind: "public",
      reason: "static page, script and style with no data in them; the page asks its user for a token",
    },
    sample: () => ({ method: "GET", path: "/workbench/", headers: {} }),
  },
  // The Worker serves those files itself (no asset layer in front of it), so other methods get the JSON 405;
  // these two routes serve exactly the files of the row above.
  {
    method: "GET",
    path: "/workbench",
    served: "worker",
    access: { kind: "public", reason: "redirects to /workbench/ (the static page above)" },
    sample: () => ({ method: "GET", path: "/workbench", headers: {} }),
  },
  {
    method: "GET",
    path: "/workbench/*",
    served: "worker",
    access: { kind: "public", reason: "serves the static files of public/workbench, bundled into the Worker" },
    sample: () => ({ method: "GET", path: "/workbench/", headers: {} }),
  },
  {
    method: "POST",
    path: "/v1/coherence/signals",
    served: "worker",
    access: { kind: "tenant", scope: "coherence:write" },
    denial: "rest",
    request: (tenantId) => ({
      method: "POST",
      path: "/v1/coherence/signals",
      headers: json,
      body: JSON.stringify(signalFor(tenantId)),
    }),
    okStatus: 202,
  },
  {
    method: "POST",
    path: "/graphql",
    served: "worker",
    access: { kind: "per-operation" },
    denial: "graphql",
    carries: ["query", "mutation"],
  },
  {
    method: "GET",
    path: "/graphql",
    served: "worker",
    access: { kind: "per-operation" },
    denial: "graphql",
    carries: ["query"],
  },
  {
    method: "POST",
    path: "/v1/tenants/:tenantId/realtime-tickets",
    served: "worker",
    access: { kind: "tenant", scope: "coherence:read" },
    denial: "rest",
    request: (tenantId) => ({
      method: "POST",
      path: `/v1/tenants/${encodeURIComponent(tenantId)}/realtime-tickets`,
      headers: {},
    }),
    okStatus: 201,
  },
  {
    method: "GET",
    path: "/v1/tenants/:tenantId/provenance",
    served: "worker",
    access: { kind: "tenant", scope: "coherence:read" },
    denial: "rest",
    request: (tenantId) => ({
      method: "GET",
      path: `/v1/tenants/${encodeURIComponent(tenantId)}/provenance?limit=5`,
      headers: {},
    }),
    okStatus: 200,
  },
  {
    method: "GET",
    path: "/v1/tenants/:tenantId/provenance/:provenanceId",
    served: "worker",
    access: { kind: "tenant", scope: "coherence:read" },
    denial: "rest",
    // An id no request has: a valid token is served (looked up, 404); test/e2e/provenance.test.ts reads real ones.
    request: (tenantId) => ({
      method: "GET",
      path: `/v1/tenants/${encodeURIComponent(tenantId)}/provenance/${crypto.randomUUID()}`,
      headers: {},
    }),
    okStatus: 404,
  },
  {
    method: "GET",
    path: "/v1/tenants/:tenantId/graphql",
    served: "worker",
    access: { kind: "tenant", scope: "coherence:read" },
    denial: "websocket",
    carries: ["subscription"],
  },
  {
    method: "GET",
    path: "/v1/ops/dlq",
    served: "worker",
    access: { kind: "operator", scope: "metrics:read" },
    denial: "rest",
    request: () => ({ method: "GET", path: "/v1/ops/dlq", headers: {} }),
    okStatus: 200,
  },
  {
    method: "POST",
    path: "/v1/ops/dlq/replay",
    served: "worker",
    access: { kind: "operator", scope: "ops:write" },
    denial: "rest",
    request: () => ({ method: "POST", path: "/v1/ops/dlq/replay", headers: {} }),
    okStatus: 200,
  },
  {
    method: "GET",
    path: "/v1/ops/switches",
    served: "worker",
    access: { kind: "operator", scope: "metrics:read" },
    denial: "rest",
    request: () => ({ method: "GET", path: "/v1/ops/switches", headers: {} }),
    okStatus: 200,
  },
  {
    method: "PUT",
    path: "/v1/ops/switches/:name",
    served: "worker",
    access: { kind: "operator", scope: "ops:write" },
    denial: "rest",
    // Resetting a per-operation switch that nobody set: served, and changes nothing.
    request: () => ({
      method: "PUT",
      path: "/v1/ops/switches/op:pq_tenant_usage_v1",
      headers: json,
      body: JSON.stringify({ value: "reset", reason: "isolation matrix" }),
    }),
    okStatus: 200,
  },
  {
    method: "GET",
    path: "/metrics",
    served: "worker",
    // Aggregates without tenant labels: any token with metrics:read (operators and tenants alike).
    access: { kind: "any", scope: "metrics:read" },
    denial: "rest",
    request: () => ({ method: "GET", path: "/metrics", headers: {} }),
    okStatus: 200,
  },
  {
    method: "GET",
    path: "/v1/finops/usage",
    served: "worker",
    // A tenant reads its own usage; operator tokens (tenant *) may read any tenant's (docs/api.md §4.6).
    access: { kind: "tenant", scope: "finops:read" },
    denial: "rest",
    request: (tenantId) => {
      const today = new Date().toISOString().slice(0, 10);
      const query = new URLSearchParams({ tenantId, from: today, to: today });
      return { method: "GET", path: `/v1/finops/usage?${query}`, headers: {} };
    },
    okStatus: 200,
  },
  {
    method: "GET",
    // The same route with tenantId=* (its own row: another audience).
    path: "/v1/finops/usage?tenantId=*",
    served: "worker",
    // tenantId=*: every tenant's counters and cost (docs/api.md §4.6.1), operator tokens only; a tenant's token
    // with finops:read gets 403.
    access: { kind: "operator", scope: "finops:read" },
    denial: "rest",
    request: () => {
      const today = new Date().toISOString().slice(0, 10);
      const query = new URLSearchParams({ tenantId: "*", from: today, to: today, limit: "5" });
      return { method: "GET", path: `/v1/finops/usage?${query}`, headers: {} };
    },
    okStatus: 200,
  },
];

export type OperationKind = "query" | "mutation" | "subscription";

/** A persisted operation of `.maestro/persisted-queries.json`, with the scope its resolver requires. */
export interface PersistedOperation {
  id: string;
  kind: OperationKind;
  scope: Scope;
  variables: (tenantId: string) => Record<string, unknown>;
  /** The root field that carries the tenant's data in a successful answer. */
  field: string;
  /** Who may run it: one tenant's tokens on its own data (default), or operator tokens (tenant `*`) only. */
  audience?: "tenant" | "operator";
}

export const OPERATIONS: readonly PersistedOperation[] = [
  {
    id: "pq_tenant_coherence_v1",
    kind: "query",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId }),
    field: "tenantCoherence",
  },
  {
    id: "pq_tenant_coherence_full_v1",
    kind: "query",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId }),
    field: "tenantCoherence",
  },
  {
    id: "pq_tenant_coherence_breakdown_v1",
    kind: "query",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId }),
    field: "tenantCoherenceBreakdown",
  },
  {
    id: "pq_tenant_coherence_breakdown_updates_v1",
    kind: "subscription",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId }),
    field: "tenantCoherenceBreakdownUpdates",
  },
  {
    id: "pq_tenant_coherence_history_v1",
    kind: "query",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId, minutes: 60 }),
    field: "tenantCoherenceHistory",
  },
  {
    id: "pq_publish_signal_v1",
    kind: "mutation",
    scope: "coherence:write",
    variables: (tenantId) => {
      const { signalId: _id, ...input } = signalFor(tenantId);
      return { input };
    },
    field: "publishCoherenceSignal",
  },
  {
    id: "pq_coherence_events_v1",
    kind: "subscription",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId }),
    field: "coherenceEvents",
  },
  {
    id: "pq_tenant_coherence_updates_v1",
    kind: "subscription",
    scope: "coherence:read",
    variables: (tenantId) => ({ tenantId }),
    field: "tenantCoherenceUpdates",
  },
  {
    id: "pq_tenants_overview_v1",
    kind: "query",
    scope: "coherence:read",
    audience: "operator",
    variables: () => ({ first: 10 }),
    field: "tenantsOverview",
  },
  {
    // Served on the operators' path /v1/tenants/*/graphql (the directory's object); refused on a tenant's path.
    id: "pq_tenants_overview_updates_v1",
    kind: "subscription",
    scope: "coherence:read",
    audience: "operator",
    variables: () => ({}),
    field: "tenantsOverviewUpdates",
  },
  {
    id: "pq_tenant_usage_v1",
    kind: "query",
    scope: "finops:read",
    variables: (tenantId) => {
      const today = new Date().toISOString().slice(0, 10);
      return { tenantId, from: today, to: today };
    },
    field: "tenantUsage",
  },
  {
    id: "pq_finops_overview_v1",
    kind: "query",
    scope: "finops:read",
    audience: "operator",
    variables: () => {
      const today = new Date().toISOString().slice(0, 10);
      return { from: today, to: today, first: 10 };
    },
    field: "finopsOverview",
  },
];

/** The registry as the Worker bundles it: operation id → exact text. */
export const REGISTRY: Readonly<Record<string, string>> = registry;

/** The HTTP request running `op` for `tenantId` through a `/graphql` entry (GET: APQ hash in the query string). */
export function graphqlRequest(entry: GraphqlEntry, op: PersistedOperation, tenantId: string): RequestSpec {
  const variables = op.variables(tenantId);
  if (entry.method === "POST") {
    return { method: "POST", path: entry.path, headers: json, body: JSON.stringify({ id: op.id, variables }) };
  }
  const text = REGISTRY[op.id];
  if (text === undefined) throw new Error(`${op.id} is not in the registry`);
  const sha256Hash = createHash("sha256").update(text, "utf8").digest("hex");
  const query = new URLSearchParams({
    extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash } }),
    variables: JSON.stringify(variables),
  });
  return { method: "GET", path: `${entry.path}?${query}`, headers: {} };
}

/** The tenant a WebSocket row's path names: the operators' path `*` for an operator operation. */
export function wsPathTenant(target: Target & { kind: "websocket" }, tenantId: string): string {
  return target.access.audience === "operator" ? "*" : tenantId;
}

/** The path of an entry for `tenantId`. */
export function pathFor(entry: EntryBase, tenantId: string): string {
  return entry.path.replace(":tenantId", encodeURIComponent(tenantId));
}

/** Who a valid token for a target is issued to and with which scope. */
export interface TargetAccess {
  /** `any`: the "other tenant" variant does not apply (a token of any tenant with the scope is served). */
  audience: "tenant" | "operator" | "any";
  scope: Scope;
}

/** One row of the isolation matrix: something a token can be refused for. */
export type Target =
  | {
      kind: "http";
      name: string;
      access: TargetAccess;
      denial: "rest" | "graphql";
      request: (t: string) => RequestSpec;
      okStatus: number;
      field?: string;
    }
  | { kind: "websocket"; name: string; access: TargetAccess; entry: WebSocketEntry; op: PersistedOperation };

/** Every guarded entry and operation, flattened into matrix rows; public entries have none. */
export function matrixTargets(): Target[] {
  const targets: Target[] = [];
  for (const entry of ENDPOINTS) {
    if (!("denial" in entry)) continue; // public: nothing to refuse
    if ("request" in entry) {
      targets.push({
        kind: "http",
        name: `${entry.method} ${entry.path}`,
        access: { audience: entry.access.kind, scope: entry.access.scope },
        denial: entry.denial,
        request: entry.request,
        okStatus: entry.okStatus,
      });
      continue;
    }
    for (const op of OPERATIONS.filter((o) => entry.carries.includes(o.kind))) {
      if (entry.denial === "graphql") {
        targets.push({
          kind: "http",
          name: `${entry.method} ${entry.path} ${op.id}`,
          access: { audience: op.audience ?? "tenant", scope: op.scope },
          denial: "graphql",
          request: (tenantId) => graphqlRequest(entry, op, tenantId),
          okStatus: 200,
          field: op.field,
        });
      } else if (entry.denial === "websocket") {
        targets.push({
          kind: "websocket",
          name: `WS ${entry.path} ${op.id}`,
          // An operator operation runs on the path `*` with an operator token; a tenant's are the tenant's.
          access: {
            audience: op.audience ?? "tenant",
            scope: entry.access.kind === "tenant" ? entry.access.scope : op.scope,
          },
          entry,
          op,
        });
      }
    }
  }
  return targets;
}

/** A route as a router lists it. */
export interface RouteKey {
  method: string;
  path: string;
}

/**
 * The routes of an app's route list that the table does not cover. Middleware (`ALL` on a path ending in `*`)
 * is not a route; an `ALL` route on a concrete path must be listed per method like any other.
 */
export function uncoveredRoutes(routes: readonly RouteKey[]): RouteKey[] {
  const listed = new Set(ENDPOINTS.filter((e) => e.served === "worker").map((e) => `${e.method} ${e.path}`));
  const seen = new Set<string>();
  const missing: RouteKey[] = [];
  for (const r of routes) {
    if (r.method === "ALL" && r.path.endsWith("*")) continue;
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!listed.has(key)) missing.push({ method: r.method, path: r.path });
  }
  return missing;
}
