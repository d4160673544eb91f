/**
 * What one tenant-day costs us, estimated from its usage counters and published list prices. Pure.
 *
 * Prices are the providers' published pay-as-you-go rates (USD, checked 2026-11), marginal: free allowances and
 * plan fees are left out because they are not caused by any one tenant. Quantities we do not measure per tenant
 * (Durable Object wall time, SQLite rows per signal, queue messages per write, Neon compute per score write) come
 * from {@link COST_ASSUMPTIONS}, each with where its number comes from.
 */
export const UNIT_PRICES_USD = {
  /** Workers Standard: $0.30 per million requests. */
  workerRequest: 0.3 / 1e6,
  /** Durable Objects: $0.15 per million requests (HTTP, RPC, WebSocket messages, alarms). */
  durableObjectRequest: 0.15 / 1e6,
  /** Durable Objects duration: $12.50 per million GB-s (128 MB per object while active). */
  durableObjectGbSecond: 12.5 / 1e6,
  /** Durable Objects SQLite storage: $1.00 per million rows written. */
  durableObjectRowWritten: 1.0 / 1e6,
  /** Queues: $0.40 per million operations (each 64 KB write, read or delete). */
  queueOperation: 0.4 / 1e6,
  /** Upstash Redis pay-as-you-go: $0.20 per 100,000 commands. */
  upstashCommand: 0.2 / 1e5,
  /** Neon (Launch): $0.14 per compute-unit hour. */
  neonComputeUnitHour: 0.14,
} as const;

export const COST_ASSUMPTIONS = {
  /** Memory billed per active object (Cloudflare bills 128 MB per object). */
  durableObjectGb: 0.128,
  /** Active wall time per object request; bench/RESULTS.md measures a few ms per request on the object. */
  durableObjectSecondsPerRequest: 0.005,
  /** SQLite rows written per accepted signal: the row and its two indexes (tenant-schema.ts). */
  rowsWrittenPerSignal: 3,
  /** Rows written per request: provenance, usage counter. */
  rowsWrittenPerRequest: 2,
  /** Queue operations per write request: one signal and one score message, each written, read, deleted. */
  queueOperationsPerWriteRequest: 6,
  /** Neon compute per materialized score: ~5 ms of a 0.25 CU endpoint. */
  neonComputeUnitHoursPerWrite: (0.005 * 0.25) / 3600,
} as const;

/** One tenant's counters for one UTC day (docs/api.md §4.6, plus what the object measured for the cost model). */
export interface DayUsage {
  requests: { ingest: number; graphql_query: number; graphql_mutation: number; subscribe: number };
  signals: number;
  rejected: number;
  /** Upstash commands the tenant's object sent that day (usage flushes). */
  upstashCommands: number;
}

/** A breakdown of the estimate, USD per line. */
export interface CostBreakdown {
  workers: number;
  durableObjects: number;
  queues: number;
  upstash: number;
  neon: number;
  total: number;
}

/** Cost of one tenant-day, itemized. */
export function estimateCost(day: DayUsage): CostBreakdown {
  const p = UNIT_PRICES_USD;
  const a = COST_ASSUMPTIONS;
  const r = day.requests;
  const requests = r.ingest + r.graphql_query + r.graphql_mutation + r.subscribe;
  // Rejected requests are answered but write nothing and send nothing to the sinks.
  const accepted = Math.max(0, requests - day.rejected);
  const writes = Math.max(0, Math.min(accepted, r.ingest + r.graphql_mutation));
  const workers = requests * p.workerRequest;
  const rows = day.signals * a.rowsWrittenPerSignal + requests * a.rowsWrittenPerRequest;
  const durableObjects =
    requests * p.durableObjectRequest +
    requests * a.durableObjectSecondsPerRequest * a.durableObjectGb * p.durableObjectGbSecond +
    rows * p.durableObjectRowWritten;
  const queues = writes * a.queueOperationsPerWriteRequest * p.queueOperation;
  const upstash = day.upstashCommands * p.upstashCommand;
  const neon = writes * a.neonComputeUnitHoursPerWrite * p.neonComputeUnitHour;
  const total = workers + durableObjects + queues + upstash + neon;
  return { workers, durableObjects, queues, upstash, neon, total };
}

/** `estimatedCostUsd` as the usage endpoint reports it: rounded to 1e-8 USD. */
export function estimatedCostUsd(day: DayUsage): number {
  return Math.round(estimateCost(day).total * 1e8) / 1e8;
}
