import type { Contribution } from "./breakdown";
import type { PolicyTags } from "./provenance";
import type { ScoreStatus } from "./score";
import type { NormalizedSignal } from "./signal";

/** What the Worker asks a tenant's Durable Object to apply: one accepted request. */
export interface IngestCommand {
  /**
   * The tenant the Worker addressed. The object serves the tenant it is addressed by (its name, read once when
   * it starts), so it does not read this; it stays for callers and logs.
   */
  tenantId: string;
  signals: NormalizedSignal[];
  provenanceId: string;
  receivedAtMs: number;
  policyTags: PolicyTags;
  /** sha256 of the raw request body, recorded in the provenance ledger. */
  requestHash: string;
  idempotency: { key: string; bodyHash: string } | null;
  /** The tenant's request limit per second (`RPS_MAX`), enforced by the object. */
  rpsMax: number;
  /** Which operation this is, for the tenant's FinOps counters. */
  op: "ingest" | "graphql_mutation";
  /** The caller's trace context (W3C `traceparent`/`baggage` values; telemetry/trace-context.ts), when tracing. */
  trace?: { traceparent: string; baggage?: string };
}

/** Per-signal outcome in a 202 answer. */
export interface SignalOutcome {
  signalId: string;
  status: "accepted" | "duplicate";
}

/** The 202 body of an ingest request (docs/api.md §4.3). */
export interface IngestResponse {
  accepted: number;
  duplicates: number;
  provenanceId: string;
  signals: SignalOutcome[];
}

/** Result of an ingest RPC: applied (or replayed from the idempotency record), or refused. */
export type IngestOutcome =
  | { kind: "applied"; response: IngestResponse; replayed: boolean }
  | { kind: "idempotency_conflict" }
  | RateLimited;

/** The object refused the request: the tenant is over `RPS_MAX`. Nothing was read or stored. */
export interface RateLimited {
  kind: "rate_limited";
  retryAfterSeconds: number;
}

/** Result of a score RPC. */
export type ScoreOutcome = { kind: "ok"; view: ScoreView } | RateLimited;

/** A tenant's score with the contributions behind it (docs/api.md §5.2). */
export type BreakdownView = ScoreView & { bySource: Contribution[]; byType: Contribution[] };

/** One point of a tenant's score history: the score as minute `at` ended (the last point: now). */
export interface ScorePoint {
  at: string;
  score: number;
  status: ScoreStatus;
  signalCount: number;
}

/** Result of a history RPC. */
export type HistoryOutcome = { kind: "ok"; view: { tenantId: string; points: ScorePoint[] } } | RateLimited;

/** Result of a breakdown RPC. */
export type BreakdownOutcome = { kind: "ok"; view: BreakdownView } | RateLimited;

/** A tenant's score as read models expose it. */
export interface ScoreView {
  tenantId: string;
  score: number;
  status: ScoreStatus;
  updatedAt: string;
  signalCount: number;
}
