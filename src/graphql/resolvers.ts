import { openSinks } from "../adapters/sinks";
import { type AuthzAction, authorize, denialMessage, recordDecision } from "../auth/authz";
import { sha256Hex } from "../domain/dedupe-key";
import { parseOverviewCursor } from "../domain/overview";
import { scoreFromSums, statusFor } from "../domain/score";
import { validateSignals } from "../domain/signal";
import { HISTORY_MINUTES } from "../domain/window";
import { AppError } from "../errors";
import type { OverviewTenant } from "../finops/overview";
import { overviewQuery, overviewReport, usageQuery, usageReport } from "../finops/report";
import { tenantDirectory } from "../residency";
import { TenantClient } from "../tenant-client";
import type { GraphQLServerContext } from "./context";
import { gqlError } from "./errors";

interface PublishInput {
  tenantId: string;
  type: string;
  value: number;
  weight?: number | null;
  source: string;
  ts?: unknown;
  signalId?: string | null;
}

/** The policy's decision for this operation; `tenantId` null judges the scope only (docs/api.md §3's order). */
async function enforce(ctx: GraphQLServerContext, action: AuthzAction, tenantId: string | null): Promise<void> {
  const decision = await authorize(action, ctx.principal, tenantId === null ? undefined : [tenantId]);
  recordDecision(ctx.log, action, decision);
  if (tenantId === null ? !decision.scopeOk : !decision.allow) {
    throw new AppError(403, "FORBIDDEN", denialMessage(action, decision));
  }
}

/** GraphQL inputs carry explicit nulls for omitted optionals; the signal schema wants them absent. */
function withoutNulls(input: PublishInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/**
 * docs/adr.md ADR-001's fallback (`READ_MODE=postgres`): the materialized row, bypassing the object. A tenant without a row
 * reads as UNKNOWN, like an empty window.
 */
async function readFromPostgres(ctx: GraphQLServerContext, tenantId: string) {
  const store = openSinks(ctx.config).scores;
  if (!store) throw new AppError(503, "SERVICE_UNAVAILABLE", "READ_MODE=postgres needs DATABASE_URL");
  try {
    const row = await store.readScore(tenantId);
    return {
      tenantId,
      score: row?.score ?? 0,
      status: row?.status ?? "UNKNOWN",
      updatedAt: new Date(row?.updatedAtMs ?? Date.now()).toISOString(),
      signalCount: row?.signalCount ?? 0,
    };
  } catch {
    throw new AppError(503, "SERVICE_UNAVAILABLE", "the score store is unavailable");
  } finally {
    await store.close();
  }
}

/**
 * docs/adr.md ADR-001's other fallback (`read-mode` `neo4j`): the score computed from the graph's signals in the
 * window, with the object's arithmetic (weighted mean, 4 decimals) and bands. Slower than the object (a query
 * over the window instead of running sums) — for when the object's reads fail and Postgres is behind.
 */
async function readFromNeo4j(ctx: GraphQLServerContext, tenantId: string) {
  const graph = openSinks(ctx.config).graph;
  if (!graph) throw new AppError(503, "SERVICE_UNAVAILABLE", "read-mode neo4j needs NEO4J_URL");
  let sums: Awaited<ReturnType<typeof graph.readWindow>>;
  const nowMs = Date.now();
  try {
    sums = await graph.readWindow(tenantId, nowMs);
  } catch {
    throw new AppError(503, "SERVICE_UNAVAILABLE", "the graph store is unavailable");
  }
  const score = scoreFromSums(sums.sumVW, sums.sumW);
  return {
    tenantId,
    score,
    status: statusFor(score, sums.count, sums.sumW),
    updatedAt: new Date(sums.lastAcceptedMs ?? nowMs).toISOString(),
    signalCount: sums.count,
  };
}

function useWebSocket(): never {
  throw gqlError(400, "USE_WEBSOCKET", "subscriptions are served over WebSocket at /v1/tenants/{tenantId}/graphql");
}

export const resolvers = {
  DateTime: {
    serialize: (value: unknown) => (value instanceof Date ? value.toISOString() : String(value)),
    // Input is validated with the signal rules in the resolver, so bad dates answer VALIDATION_FAILED.
    parseValue: (value: unknown) => value,
  },
  Query: {
    async tenantCoherence(_: unknown, args: { tenantId: string }, ctx: GraphQLServerContext) {
      ctx.log.op = "graphql_query";
      await enforce(ctx, "graphql_query", args.tenantId);
      const readMode = ctx.switches.readMode;
      if (readMode === "postgres") return readFromPostgres(ctx, args.tenantId);
      if (readMode === "neo4j") return readFromNeo4j(ctx, args.tenantId);
      return new TenantClient(ctx, args.tenantId).score();
    },
    async tenantCoherenceBreakdown(_: unknown, args: { tenantId: string }, ctx: GraphQLServerContext) {
      ctx.log.op = "graphql_query";
      await enforce(ctx, "graphql_query", args.tenantId);
      return new TenantClient(ctx, args.tenantId).breakdown();
    },
    async tenantCoherenceHistory(
      _: unknown,
      args: { tenantId: string; minutes?: number | null },
      ctx: GraphQLServerContext,
    ) {
      ctx.log.op = "graphql_query";
      await enforce(ctx, "graphql_query", args.tenantId);
      const minutes = args.minutes ?? HISTORY_MINUTES;
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > HISTORY_MINUTES) {
        throw new AppError(400, "VALIDATION_FAILED", "minutes must be an integer 1..1440", [
          { path: "minutes", message: `1..${HISTORY_MINUTES}` },
        ]);
      }
      return new TenantClient(ctx, args.tenantId).history(minutes);
    },
    async tenantsOverview(
      _: unknown,
      args: { first?: number | null; after?: string | null },
      ctx: GraphQLServerContext,
    ) {
      ctx.log.op = "overview";
      await enforce(ctx, "overview_read", null);
      const first = args.first ?? 100;
      if (!Number.isInteger(first) || first < 1 || first > 1000) {
        throw new AppError(400, "VALIDATION_FAILED", "first must be an integer 1..1000", [
          { path: "first", message: "1..1000" },
        ]);
      }
      const after = args.after ?? null;
      if (after !== null && parseOverviewCursor(after) === null) {
        throw new AppError(400, "VALIDATION_FAILED", "after is not a cursor of this overview", [
          { path: "after", message: "a next value from a previous page" },
        ]);
      }
      const page = await tenantDirectory(ctx.env, ctx.config).overview(first, after);
      return {
        ...page,
        tenants: page.tenants.map((t) => ({
          tenantId: t.tenantId,
          score: t.score,
          status: t.status,
          signalCount: t.signalCount,
          lastSignalAt: t.lastSignalMs === null ? null : new Date(t.lastSignalMs).toISOString(),
          updatedAt: new Date(t.updatedMs).toISOString(),
        })),
      };
    },
    async finopsOverview(
      _: unknown,
      args: { from: string; to: string; first?: number | null; after?: string | null },
      ctx: GraphQLServerContext,
    ) {
      ctx.log.op = "finops_usage";
      await enforce(ctx, "finops_overview_read", null);
      const page = await overviewReport(ctx.config, overviewQuery(args.from, args.to, args.first, args.after));
      const units = (t: Pick<OverviewTenant, "units">) =>
        Object.entries(t.units).map(([name, value]) => ({ name, value }));
      return {
        ...page,
        tenants: page.tenants.map((t) => ({ ...t, units: units(t) })),
        totals: { ...page.totals, units: units(page.totals) },
      };
    },
    async tenantUsage(_: unknown, args: { tenantId: string; from: string; to: string }, ctx: GraphQLServerContext) {
      ctx.log.op = "finops_usage";
      await enforce(ctx, "finops_read", null);
      const query = usageQuery(args.tenantId, args.from, args.to);
      await enforce(ctx, "finops_read", query.tenantId);
      return usageReport(ctx.env, ctx.config, query.tenantId, query.days);
    },
  },
  Mutation: {
    async publishCoherenceSignal(_: unknown, args: { input: PublishInput }, ctx: GraphQLServerContext) {
      ctx.log.op = "graphql_mutation";
      await enforce(ctx, "graphql_mutation", null);
      const validated = await validateSignals([withoutNulls(args.input)], ctx.receivedAtMs);
      if (!validated.ok) {
        throw new AppError(400, "VALIDATION_FAILED", "the signal is invalid; nothing was stored", validated.details);
      }
      await enforce(ctx, "graphql_mutation", args.input.tenantId);
      const bodyHash = await sha256Hex(ctx.body);
      const { response } = await new TenantClient(ctx, args.input.tenantId).ingest({
        signals: validated.signals,
        receivedAtMs: ctx.receivedAtMs,
        requestHash: bodyHash,
        idempotency: null,
        op: "graphql_mutation",
      });
      ctx.log.provenance_id = response.provenanceId;
      ctx.log.request_sha256 = bodyHash;
      return true;
    },
  },
  // Subscriptions run in the tenant's object over WebSocket (durable-objects/realtime-hub.ts), never over HTTP.
  Subscription: {
    coherenceEvents: { subscribe: useWebSocket },
    tenantCoherenceUpdates: { subscribe: useWebSocket },
    tenantCoherenceBreakdownUpdates: { subscribe: useWebSocket },
    tenantsOverviewUpdates: { subscribe: useWebSocket },
  },
};
