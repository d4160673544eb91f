// The GraphQL resolvers (src/graphql/resolvers.ts) called as yoga calls them, with a server context built by
// hand: the policy's decisions in the contract's order, the errors' codes and statuses, and what each resolver
// asks of the tenant's object (a fake of its RPC methods; the object itself is tested in workerd).

import type { GraphQLError } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal";
import { loadConfig } from "../../src/config";
import { effectiveSwitches } from "../../src/domain/switches";
import type { IngestCommand, IngestOutcome, ScoreOutcome, ScoreView } from "../../src/domain/tenant-protocol";
import type { GraphQLServerContext } from "../../src/graphql/context";
import { maskError } from "../../src/graphql/errors";
import { resolvers } from "../../src/graphql/resolvers";
import { Tracer } from "../../src/telemetry/tracer";
import { fakeNamespace, installCompiledPolicy, workerEnv } from "./worker-harness";

beforeAll(installCompiledPolicy);

const view: ScoreView = {
  tenantId: "acme",
  score: 0.8,
  status: "HEALTHY",
  updatedAt: "2026-11-02T00:00:00.000Z",
  signalCount: 3,
};

/** A context for `principal`; the tenant objects answer `score`/`ingest` with what the test gives. */
function context(
  principal: Principal,
  {
    settings = {},
    score = async (): Promise<ScoreOutcome> => ({ kind: "ok", view: view }),
    ingest = async (c: IngestCommand): Promise<IngestOutcome> => ({
      kind: "applied",
      replayed: false,
      response: { accepted: 1, duplicates: 0, provenanceId: c.provenanceId, signals: [] },
    }),
  }: {
    settings?: Record<string, string>;
    score?: () => Promise<ScoreOutcome>;
    ingest?: (c: IngestCommand) => Promise<IngestOutcome>;
  } = {},
) {
  const commands: IngestCommand[] = [];
  const tenants = fakeNamespace(() => ({
    score,
    ingest: (c: IngestCommand) => {
      commands.push(c);
      return ingest(c);
    },
    flushUsage: async () => {},
  }));
  const env = workerEnv({ ENVIRONMENT: "test", DEV_UNPINNED_DURABLE_OBJECTS: "true", TENANT: tenants, ...settings });
  const config = loadConfig(env);
  const ctx: GraphQLServerContext = {
    env,
    config,
    switches: effectiveSwitches(config, {}),
    principal,
    log: { op: "graphql", tenant_id: null, provenance_id: null, error_code: null },
    usage: { counted: false },
    observations: [],
    trace: { tracer: Tracer.disabled, span: Tracer.disabled.startSpan("") },
    body: new TextEncoder().encode('{"id":"pq"}'),
    receivedAtMs: Date.parse("2026-11-02T12:00:00Z"),
  };
  return { ctx, tenants, commands };
}

const tenant = (scopes: string, id = "acme"): Principal => ({
  tenant: id,
  scopes: new Set(scopes.split(" ")),
  subjectHash: null,
});

/**
 * The GraphQL error a promise rejected with, as yoga renders it (src/graphql/errors.ts `maskError`, which turns the
 * AppError a resolver throws into its coded form), as `{ code, status, message }`.
 */
async function failure(p: Promise<unknown>) {
  const thrown = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!thrown) throw new Error("expected the resolver to fail");
  const err = maskError(thrown, "Unexpected error.") as GraphQLError;
  const ext = err.extensions as { code?: string; http?: { status?: number; headers?: Record<string, string> } };
  return { code: ext.code, status: ext.http?.status, headers: ext.http?.headers, message: err.message };
}

describe("Query.tenantCoherence", () => {
  it("reads the tenant's object and marks the read as counted by it", async () => {
    const { ctx, tenants } = context(tenant("coherence:read"));
    await expect(resolvers.Query.tenantCoherence(null, { tenantId: "acme" }, ctx)).resolves.toEqual(view);
    expect(tenants.names).toEqual(["acme"]);
    expect(ctx.usage.counted).toBe(true);
    expect(ctx.log.op).toBe("graphql_query");
  });

  it("refuses another tenant's score without asking any object", async () => {
    const { ctx, tenants } = context(tenant("coherence:read"));
    const err = await failure(resolvers.Query.tenantCoherence(null, { tenantId: "globex" }, ctx));
    expect(err).toMatchObject({ code: "FORBIDDEN", status: 403 });
    expect(tenants.names).toEqual([]);
    expect(ctx.log.authz).toEqual(["graphql_query:tenant_mismatch"]);
  });

  it("answers RATE_LIMITED with Retry-After when the object refuses the read", async () => {
    const { ctx } = context(tenant("coherence:read"), {
      score: async () => ({ kind: "rate_limited", retryAfterSeconds: 2 }),
    });
    const err = await failure(resolvers.Query.tenantCoherence(null, { tenantId: "acme" }, ctx));
    expect(err).toMatchObject({ code: "RATE_LIMITED", status: 429, headers: { "Retry-After": "2" } });
  });

  it("with READ_MODE=postgres, answers 503 when no database is configured or it cannot be reached", async () => {
    const none = context(tenant("coherence:read"), { settings: { READ_MODE: "postgres" } });
    const noDb = await failure(resolvers.Query.tenantCoherence(null, { tenantId: "acme" }, none.ctx));
    expect(noDb).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      status: 503,
      message: "READ_MODE=postgres needs DATABASE_URL",
    });
    const down = context(tenant("coherence:read"), {
      // Port 9 (discard) on loopback: nothing answers a WebSocket there.
      settings: {
        READ_MODE: "postgres",
        DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db",
        NEON_WSPROXY: "127.0.0.1:9/v1",
      },
    });
    const err = await failure(resolvers.Query.tenantCoherence(null, { tenantId: "acme" }, down.ctx));
    expect(err).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503, message: "the score store is unavailable" });
    expect(down.tenants.names).toEqual([]);
  });
});

describe("Query.tenantUsage", () => {
  it("needs finops:read, then a valid query, then the tenant's own id", async () => {
    const args = { tenantId: "acme", from: "2026-11-01", to: "2026-11-02" };
    const noScope = context(tenant("coherence:read"));
    expect(await failure(resolvers.Query.tenantUsage(null, args, noScope.ctx))).toMatchObject({ code: "FORBIDDEN" });
    const { ctx } = context(tenant("finops:read"));
    const invalid = await failure(resolvers.Query.tenantUsage(null, { ...args, from: "2026-11-31" }, ctx));
    expect(invalid).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    const other = await failure(resolvers.Query.tenantUsage(null, { ...args, tenantId: "globex" }, ctx));
    expect(other).toMatchObject({ code: "FORBIDDEN", status: 403 });
  });

  it("answers FINOPS_UNAVAILABLE (503) when the counters are off", async () => {
    const { ctx } = context(tenant("finops:read"));
    const err = await failure(
      resolvers.Query.tenantUsage(null, { tenantId: "acme", from: "2026-11-01", to: "2026-11-01" }, ctx),
    );
    expect(err).toMatchObject({ code: "FINOPS_UNAVAILABLE", status: 503 });
  });
});

describe("Mutation.publishCoherenceSignal", () => {
  const input = { tenantId: "acme", type: "latency", value: 0.7, weight: null, source: "probe", signalId: null };

  it("hands the validated signal to the tenant's object with the request's hash, dropping explicit nulls", async () => {
    const { ctx, commands } = context(tenant("coherence:write"));
    await expect(resolvers.Mutation.publishCoherenceSignal(null, { input }, ctx)).resolves.toBe(true);
    expect(commands).toHaveLength(1);
    const [command] = commands as [IngestCommand];
    expect(command).toMatchObject({
      tenantId: "acme",
      op: "graphql_mutation",
      receivedAtMs: ctx.receivedAtMs,
      idempotency: null,
    });
    expect(command.signals).toHaveLength(1);
    expect(command.signals[0]).toMatchObject({ type: "latency", value: 0.7, source: "probe", weight: 1 });
    // sha256 of the raw body, recorded with the provenance and in the log line.
    expect(command.requestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(ctx.log.request_sha256).toBe(command.requestHash);
    expect(ctx.log.provenance_id).toBe(command.provenanceId);
  });

  it("validates before judging the tenant, and stores nothing when the signal is invalid", async () => {
    const { ctx, commands } = context(tenant("coherence:write", "globex"));
    const err = await failure(resolvers.Mutation.publishCoherenceSignal(null, { input: { ...input, value: 2 } }, ctx));
    expect(err).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    const foreign = await failure(resolvers.Mutation.publishCoherenceSignal(null, { input }, ctx));
    expect(foreign).toMatchObject({ code: "FORBIDDEN", status: 403 });
    expect(commands).toHaveLength(0);
  });

  it("refuses a token without coherence:write before validating", async () => {
    const { ctx } = context(tenant("coherence:read"));
    const err = await failure(resolvers.Mutation.publishCoherenceSignal(null, { input: { ...input, value: 2 } }, ctx));
    expect(err).toMatchObject({ code: "FORBIDDEN", status: 403 });
  });

  it("answers the object's refusals in their GraphQL form", async () => {
    const limited = context(tenant("coherence:write"), {
      ingest: async () => ({ kind: "rate_limited", retryAfterSeconds: 1 }),
    });
    const err = await failure(resolvers.Mutation.publishCoherenceSignal(null, { input }, limited.ctx));
    expect(err).toMatchObject({ code: "RATE_LIMITED", status: 429 });
  });
});

describe("the rest of the schema", () => {
  it("sends subscriptions to the WebSocket endpoint", () => {
    for (const field of [resolvers.Subscription.coherenceEvents, resolvers.Subscription.tenantCoherenceUpdates]) {
      expect(() => field.subscribe()).toThrow(/WebSocket/);
    }
  });

  it("serializes DateTime values as ISO strings and leaves input to the signal rules", () => {
    expect(resolvers.DateTime.serialize(new Date(Date.UTC(2026, 10, 2)))).toBe("2026-11-02T00:00:00.000Z");
    expect(resolvers.DateTime.serialize("2026-11-02T00:00:00Z")).toBe("2026-11-02T00:00:00Z");
    expect(resolvers.DateTime.parseValue("not a date")).toBe("not a date");
  });
});
