import type { Config } from "../config";
import type { NormalizedSignal } from "../domain/signal";
import type { IngestOutcome, IngestResponse } from "../domain/tenant-protocol";
import type { UsageMark } from "../http/context";
import { AppError } from "../http/errors";
import { METRICS, type Observation } from "../metrics/model";
import { tracedRpcCall } from "../telemetry/rpc";
import type { TraceScope } from "../telemetry/tracer";
import { tenantStub } from "../tenants";

/** The 429 answer for a tenant over `RPS_MAX` (docs/api.md §5.3). */
export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError(429, "RATE_LIMITED", "too many requests for this tenant; retry later", undefined, {
    "Retry-After": String(retryAfterSeconds),
  });
}

/** Result of applying one request's signals: the 202 body, and whether it was an idempotent replay. */
export interface AppliedIngest {
  response: IngestResponse;
  replayed: boolean;
}

/**
 * Hands validated signals of one request to the tenant's Durable Object, which dedupes and stores them
 * atomically with their provenance record. Shared by HTTP ingest and the GraphQL mutation.
 */
export async function applySignals(args: {
  env: Env;
  config: Config;
  tenantId: string;
  signals: NormalizedSignal[];
  receivedAtMs: number;
  requestHash: string;
  idempotency: { key: string; bodyHash: string } | null;
  op: "ingest" | "graphql_mutation";
  /** Set once the object has answered: it counted the request for FinOps itself. */
  usage: UsageMark;
  /** The request's metric observations; processed and duplicate signals are added. */
  observations?: Observation[];
  /** The request's trace: the RPC gets a client span, and the object continues the trace. */
  trace?: TraceScope;
}): Promise<AppliedIngest> {
  const stub = tenantStub(args.env.TENANT, args.config, args.tenantId);
  const outcome = await tracedRpcCall<IngestOutcome>(args.trace, "TenantObject", "ingest", (trace) =>
    stub.ingest({
      tenantId: args.tenantId,
      signals: args.signals,
      provenanceId: crypto.randomUUID(),
      receivedAtMs: args.receivedAtMs,
      policyTags: args.config.policyTags,
      requestHash: args.requestHash,
      idempotency: args.idempotency,
      rpsMax: args.config.rpsMax,
      op: args.op,
      trace,
    }),
  );
  args.usage.counted = true;
  if (outcome.kind === "rate_limited") throw rateLimited(outcome.retryAfterSeconds);
  if (outcome.kind === "idempotency_conflict") {
    throw new AppError(
      422,
      "IDEMPOTENCY_KEY_REUSED",
      "this Idempotency-Key was used with a different request body in the last 24 h",
    );
  }
  if (!outcome.replayed) {
    const { accepted, duplicates } = outcome.response;
    args.observations?.push(
      { name: METRICS.ingestProcessed.name, value: accepted + duplicates },
      { name: METRICS.ingestDuplicates.name, value: duplicates },
    );
  }
  return { response: outcome.response, replayed: outcome.replayed };
}
