import { env } from "cloudflare:workers";
import { importPKCS8, SignJWT } from "jose";
import type { TenantObject } from "../../durable-objects/tenant";
import type { NormalizedSignal } from "../../src/domain/signal";
import type { IngestCommand } from "../../src/domain/tenant-protocol";

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
