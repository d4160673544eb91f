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
  /**
   * Sums over the tenant's signals with `ts` in `(nowMs − 24 h, nowMs]` — the scoring window — for `read-mode`
   * `neo4j` (docs/adr.md ADR-001's fallback): Σv·w, Σw, the count, and the newest acceptance instant.
   */
  readWindow(tenantId: string, nowMs: number): Promise<WindowSums>;
}

/** A window's running sums as a store computes them. */
export interface WindowSums {
  sumVW: number;
  sumW: number;
  count: number;
  /** When the newest of them was accepted; `null` for none. */
  lastAcceptedMs: number | null;
}

/** Where the provenance ledger is kept for its retention period (Postgres, append-only for the writer). */
export interface LedgerStore {
  /** Appends entries; one already there (same tenant and position) is left as it is. */
  appendLedger(entries: readonly LedgerEntry[], trace?: TraceScope): Promise<void>;
  /** The entry of request `provenanceId` of `tenantId`, or `null`. */
  ledgerEntry(tenantId: string, provenanceId: string): Promise<LedgerEntry | null>;
  /**
   * Removes each tenant's entries received before `cutoffMs` (a prefix of its chain), remembering the last one
   * removed so the chain stays checkable; refuses a cutoff younger than the 365-day retention. Returns how many.
   */
  purgeLedgerBefore(cutoffMs: number): Promise<number>;
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
