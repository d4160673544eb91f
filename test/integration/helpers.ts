import { env, exports } from "cloudflare:workers";
import { importPKCS8, SignJWT } from "jose";
import type { TenantObject } from "../../durable-objects/tenant";
import type { Principal } from "../../src/auth/principal";
import { type Config, loadConfig } from "../../src/config";
import type { NormalizedSignal } from "../../src/domain/signal";
import { effectiveSwitches } from "../../src/domain/switches";
import type { IngestCommand } from "../../src/domain/tenant-protocol";
import type { GraphQLServerContext } from "../../src/graphql/context";
import { Tracer } from "../../src/telemetry/tracer";

const testEnv = env as unknown as Env & { TEST_SIGNING_KEY: string };

/** Signs a token with the test key the Worker under test trusts. */
export async function token(claims: { tenant: string; scope: string }, ttlSeconds = 300): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256" })
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(await importPKCS8(testEnv.TEST_SIGNING_KEY, "ES256"));
}

/**
 * A WebSocket upgrade of `tenantId`'s realtime route through the Worker, with the graphql-ws subprotocol and, when
 * given, `Authorization: Bearer` (docs/api.md §4.5) or `?ticket=`.
 */
export function upgrade(tenantId: string, credential: { bearer?: string; ticket?: string } = {}): Promise<Response> {
  const query = credential.ticket ? `?ticket=${encodeURIComponent(credential.ticket)}` : "";
  return exports.default.fetch(
    new Request(`https://coherence.test/v1/tenants/${tenantId}/graphql${query}`, {
      headers: {
        Upgrade: "websocket",
        "Sec-WebSocket-Protocol": "graphql-transport-ws",
        ...(credential.bearer ? { authorization: `Bearer ${credential.bearer}` } : {}),
      },
    }),
  );
}

/** The context the `/graphql` route hands yoga and the fast path, for a POST of `body` by `principal`. */
export function graphqlContext(
  body: unknown,
  principal: Principal,
  config: Config = loadConfig(env),
): GraphQLServerContext {
  const raw = new TextEncoder().encode(JSON.stringify(body));
  return {
    env: env as Env,
    config,
    switches: effectiveSwitches(config, {}),
    principal,
    log: { op: "graphql", tenant_id: principal.tenant, provenance_id: null, error_code: null },
    usage: { counted: false },
    observations: [],
    trace: { tracer: Tracer.disabled, span: Tracer.disabled.startSpan("") },
    body: raw as Uint8Array<ArrayBuffer>,
    parsedBody: body,
    receivedAtMs: Date.now(),
  };
}

/** A normalized signal for direct RPC calls. */
export function signal(tenantId: string, tsMs: number, value: number, extra: Partial<NormalizedSignal> = {}) {
  return {
    tenantId,
    signalId: `sig-${tsMs}-${value}`,
    type: "latency",
    source: "probe",
    value,
    weight: 1,
    tsMs,
    tsIso: new Date(tsMs).toISOString(),
    ...extra,
  } satisfies NormalizedSignal;
}

/** An ingest command as the Worker would send it. */
export function command(tenantId: string, signals: NormalizedSignal[], receivedAtMs: number): IngestCommand {
  return {
    tenantId,
    signals,
    provenanceId: crypto.randomUUID(),
    receivedAtMs,
    policyTags: { purpose: "benchmarking", retention: "standard-365d", license: "Restricted-TOS", residency: "US" },
    requestHash: "test",
    idempotency: null,
    rpsMax: 1000,
    op: "ingest",
  };
}

/** Reads a tenant's score through RPC, failing the test if the object refused. */
export async function readScore(stub: DurableObjectStub<TenantObject>, tenantId: string) {
  const outcome = await stub.score(tenantId, 1000);
  if (outcome.kind !== "ok") throw new Error(`score refused: ${outcome.kind}`);
  return outcome.view;
}
