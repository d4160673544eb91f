import type { LedgerEntry } from "./domain/ledger";
import type { SinkScore, SinkSignal } from "./queues/messages";
import type { TraceScope } from "./telemetry/tracer";

/** Where signals and scores go as a graph (Neo4j over its HTTP Query API in production). */
export interface GraphWriter {
  /** Writes signals idempotently (MERGE on the dedupe key); a redelivery changes nothing. */
  writeSignals(tenantId: string, signals: SinkSignal[], trace?: TraceScope): Promise<void>;
  /** Writes a score unless a newer version is already there. */
  writeScore(score: SinkScore, trace?: TraceScope): Promise<void>;
  /** Removes signals whose `ts` is older than `cutoffMs`; returns how many went. */
  deleteSignalsBefore(cutoffMs: number): Promise<number>;
  /** Cheap liveness probe for `/readyz`. */
  ping(): Promise<void>;
}

/** Where the provenance ledger is kept for its retention period (Postgres, append-only for the writer). */
export interface LedgerStore {
  /** Appends entries; one already there (same tenant and position) is left as it is. */
  appendLedger(entries: readonly LedgerEntry[], trace?: TraceScope): Promise<void>;
}

/** Where scores are materialized for fast reads (Neon Postgres in production). */
export interface ScoreStore {
  /** Upserts a score, never moving a tenant's row back to an older version. */
  upsertScore(score: SinkScore, trace?: TraceScope): Promise<void>;
  /** The materialized score of a tenant, or `null`. */
  readScore(tenantId: string): Promise<SinkScore | null>;
  ping(): Promise<void>;
}

/** A sink call that failed; the consumer retries the message. Carries no credentials. */
export class SinkError extends Error {
  constructor(
    readonly sink: "neo4j" | "postgres",
    message: string,
    /** `false` when retrying cannot help (e.g. a Cypher syntax error): the message goes to the dead-letter queue. */
    readonly retryable = true,
  ) {
    super(message);
  }
}
