import type { Config } from "./config";
import type { LedgerEntry, LedgerLink } from "./domain/ledger";
import type { NormalizedSignal } from "./domain/signal";
import type {
  BreakdownView,
  IngestOutcome,
  IngestResponse,
  RateLimited,
  ScorePoint,
  ScoreView,
} from "./domain/tenant-protocol";
import { AppError, rateLimited } from "./errors";
import type { UsageOp } from "./finops/usage";
import { METRICS, type Observation } from "./metrics/model";
import { type Pinning, pinnedStub } from "./residency";
import { tracedRpcCall } from "./telemetry/rpc";
import type { TraceContext } from "./telemetry/trace-context";
import type { TraceScope } from "./telemetry/tracer";

/** The stub of `tenantId`'s object, pinned to the US jurisdiction (src/residency.ts). */
export function tenantStub(ns: Env["TENANT"], pinning: Pinning, tenantId: string) {
  return pinnedStub(ns, pinning, tenantId);
}

/** What a call to a tenant's object needs from the request that makes it (src/http/context.ts). */
export interface TenantCallContext {
  env: Env;
  config: Config;
  /** Set once the object has answered a call that counts the request for FinOps itself. */
  usage?: { counted: boolean };
  /** The request's metric observations; an ingest adds its processed and duplicate signals. */
  observations?: Observation[];
  /** The request's trace: each RPC gets a client span, and the object continues the trace. */
  trace?: TraceScope;
}

/** Result of applying one request's signals: the 202 body, and whether it was an idempotent replay. */
export interface AppliedIngest {
  response: IngestResponse;
  replayed: boolean;
}

/**
 * The Worker's one way to talk to a tenant's Durable Object: pinned addressing, a traced RPC per call, and the
 * object's refusals (outcomes) turned into {@link AppError}s. The object counts the requests it answers for
 * FinOps inside the same call; the client marks them so the usage middleware does not count them again.
 */
export class TenantClient {
  private readonly stub: ReturnType<typeof tenantStub>;

  constructor(
    private readonly call: TenantCallContext,
    readonly tenantId: string,
  ) {
    this.stub = tenantStub(call.env.TENANT, call.config, tenantId);
  }

  /**
   * Hands one request's validated signals to the object, which dedupes and stores them atomically with their
   * provenance record (HTTP ingest and the GraphQL mutation). Throws RATE_LIMITED or IDEMPOTENCY_KEY_REUSED.
   */
  async ingest(args: {
    signals: NormalizedSignal[];
    receivedAtMs: number;
    requestHash: string;
    idempotency: { key: string; bodyHash: string } | null;
    op: "ingest" | "graphql_mutation";
  }): Promise<AppliedIngest> {
    const { config } = this.call;
    const outcome = await tracedRpcCall<IngestOutcome>(this.call.trace, "TenantObject", "ingest", (trace) =>
      this.stub.ingest({
        tenantId: this.tenantId,
        signals: args.signals,
        provenanceId: crypto.randomUUID(),
        receivedAtMs: args.receivedAtMs,
        policyTags: config.policyTags,
        requestHash: args.requestHash,
        idempotency: args.idempotency,
        rpsMax: config.rpsMax,
        op: args.op,
        trace,
      }),
    );
    this.counted();
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
      this.call.observations?.push(
        { name: METRICS.ingestProcessed.name, value: accepted + duplicates },
        { name: METRICS.ingestDuplicates.name, value: duplicates },
      );
    }
    return { response: outcome.response, replayed: outcome.replayed };
  }

  /** The tenant's current score (the object counts the read). Throws RATE_LIMITED. */
  score(): Promise<ScoreView> {
    return this.limitedRead<ScoreView>("score", (trace) =>
      this.stub.score(this.tenantId, this.call.config.rpsMax, trace),
    );
  }

  /** Why the tenant's score is what it is (the object counts the read). Throws RATE_LIMITED. */
  breakdown(): Promise<BreakdownView> {
    return this.limitedRead<BreakdownView>("breakdown", (trace) =>
      this.stub.breakdown(this.tenantId, this.call.config.rpsMax, trace),
    );
  }

  /** The tenant's score over the last `minutes` (the object counts the read). Throws RATE_LIMITED. */
  history(minutes: number): Promise<{ tenantId: string; points: ScorePoint[] }> {
    return this.limitedRead<{ tenantId: string; points: ScorePoint[] }>("history", (trace) =>
      this.stub.history(this.tenantId, this.call.config.rpsMax, minutes, trace),
    );
  }

  private async limitedRead<V>(
    name: string,
    rpc: (trace: TraceContext | undefined) => Promise<{ kind: "ok"; view: V } | RateLimited>,
  ): Promise<V> {
    const outcome = await tracedRpcCall<{ kind: "ok"; view: V } | RateLimited>(
      this.call.trace,
      "TenantObject",
      name,
      rpc,
    );
    this.counted();
    if (outcome.kind === "rate_limited") throw rateLimited(outcome.retryAfterSeconds);
    return outcome.view;
  }

  /** Request `provenanceId`'s ledger entry while the object keeps it (about a day), and the chain's head. */
  ledgerEntry(provenanceId: string): Promise<{ entry: LedgerEntry | null; head: LedgerLink | null }> {
    return tracedRpcCall(this.call.trace, "TenantObject", "ledgerEntry", () => this.stub.ledgerEntry(provenanceId));
  }

  /** The ledger entries the object keeps after position `afterSeq` (at most `limit`), and the chain's head. */
  ledgerAfter(afterSeq: number, limit: number): Promise<{ entries: LedgerEntry[]; head: LedgerLink | null }> {
    return tracedRpcCall(this.call.trace, "TenantObject", "ledgerAfter", () => this.stub.ledgerAfter(afterSeq, limit));
  }

  /** Counts a request the object did not answer itself (refused at the edge, or served elsewhere). */
  async recordUsage(op: UsageOp, rejected: boolean): Promise<void> {
    await this.stub.recordUsage(this.tenantId, op, rejected);
  }

  /** Pushes the object's latest FinOps counters to Upstash (before a usage read). */
  async flushUsage(): Promise<void> {
    await this.stub.flushUsage();
  }

  /** Hands a WebSocket upgrade to the object, which speaks graphql-ws itself. */
  upgrade(request: Request): Promise<Response> {
    return this.stub.fetch(request);
  }

  private counted(): void {
    if (this.call.usage) this.call.usage.counted = true;
  }
}
