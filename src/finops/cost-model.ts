import priceSheet from "../../finops/prices.json";

/**
 * What a tenant's usage costs us, from counted billable units and the price sheet `finops/prices.json`. Pure and
 * linear: the cost of a sum of days (or tenants) is the sum of their costs, which is what lets the all-tenant
 * overview rank tenants inside Upstash by a weighted sum of their counters (src/finops/overview.ts).
 *
 * Every unit is counted where it happens, by the tenant's object (durable-objects/usage-ledger.ts), except Worker
 * CPU time, which no Worker can read (clocks stand still while code runs): it is modelled per request from the
 * sheet's assumptions, and said so.
 */

/** Counted billable units per tenant and UTC day (fields `u:<unit>` of the usage hash). */
export const UNITS = [
  /** Worker invocations charged to the tenant: HTTP requests (refused ones too) and WebSocket upgrades. */
  "worker_requests",
  /** Worker CPU time in microseconds, modelled per request (prices.json `assumptions`). */
  "worker_cpu_us",
  /** Calls into the tenant's object: RPC sessions, upgrade fetches, alarm invocations. */
  "do_requests",
  /** WebSocket messages the object received (billed 20:1 as object requests). */
  "ws_messages_in",
  /** WebSocket frames the object sent (not billed; counted to reconcile with what clients receive). */
  "ws_messages_out",
  /** Milliseconds the object was running or held in memory by pending work (not hibernatable). */
  "do_active_ms",
  /** SQLite rows read and written, as the runtime reports them per statement. */
  "do_rows_read",
  "do_rows_written",
  /** The object's SQLite size at the day's last count (a gauge: one day of storage). */
  "do_storage_bytes",
  /** Queue messages sent by the object and their operations (write + read + delete per 64 KB chunk). */
  "queue_messages",
  "queue_operations",
  /** Upstash commands the object sent (counter pushes). */
  "upstash_commands",
  /**
   * Bytes of signal rows handed to the graph sink (Neo4j), and rows kept in Postgres: one per provenance-ledger entry
   * (counted once, however many messages carry it) plus the tenant's one score row (upserted by version, so counted
   * when its first score is sent). Reconciled against the stores by bench/finops-reconcile.mjs.
   */
  "neo4j_bytes",
  "postgres_rows",
] as const;
export type Unit = (typeof UNITS)[number];
export type UnitCounts = Record<Unit, number>;

/** Bytes billed per row kept in Postgres (a provenance-ledger or score row with its indexes; an assumption). */
export const POSTGRES_ROW_BYTES = 200;

const p = priceSheet.prices;
const a = priceSheet.assumptions;

/** The price sheet's figures in the shape the model uses, with the Neo4j/Postgres figures overridable. */
export interface Prices {
  workerRequest: number;
  workerCpuMs: number;
  durableObjectRequest: number;
  webSocketRatio: number;
  durableObjectGbSecond: number;
  durableObjectGb: number;
  rowRead: number;
  rowWritten: number;
  storageGbMonth: number;
  queueOperation: number;
  upstashCommand: number;
  neo4jGbMonth: number;
  neo4jHour: number;
  postgresGbMonth: number;
  postgresHour: number;
  storageDaysPerMonth: number;
}

export const PRICES: Prices = Object.freeze({
  workerRequest: p.workerRequest.usd,
  workerCpuMs: p.workerCpuMs.usd,
  durableObjectRequest: p.durableObjectRequest.usd,
  webSocketRatio: p.webSocketMessagesPerRequest.ratio,
  durableObjectGbSecond: p.durableObjectGbSecond.usd,
  durableObjectGb: p.durableObjectGbSecond.gbPerObject,
  rowRead: p.durableObjectRowRead.usd,
  rowWritten: p.durableObjectRowWritten.usd,
  storageGbMonth: p.durableObjectStorageGbMonth.usd,
  queueOperation: p.queueOperation.usd,
  upstashCommand: p.upstashCommand.usd,
  neo4jGbMonth: p.neo4j.gbMonthUsd,
  neo4jHour: p.neo4j.hourUsd,
  postgresGbMonth: p.postgres.gbMonthUsd,
  postgresHour: p.postgres.hourUsd,
  storageDaysPerMonth: a.storageDaysPerMonth.value,
});

/** Queue: bytes per billed chunk and operations per delivered message (write, read, delete). */
export const QUEUE_CHUNK_BYTES = p.queueOperation.chunkBytes;
export const QUEUE_OPERATIONS_PER_CHUNK = p.queueOperation.operationsPerMessage;

/** Queue operations one sent message of `bytes` costs when delivered once: 3 per started 64 KB chunk. */
export function queueOperations(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / QUEUE_CHUNK_BYTES)) * QUEUE_OPERATIONS_PER_CHUNK;
}

/** Modelled Worker CPU microseconds of one request of `op` carrying `signals` signals. */
export function cpuMicros(op: keyof typeof a.cpuMsPerRequest.value, signals = 0): number {
  return Math.round((a.cpuMsPerRequest.value[op] + signals * a.cpuMsPerSignal.value) * 1000);
}

/** USD per unit: the weight of each counter in the linear model. Storage and sinks are per byte(-day). */
export function unitWeights(prices: Prices = PRICES): UnitCounts {
  const byteDay = (gbMonth: number) => gbMonth / 1e9 / prices.storageDaysPerMonth;
  return {
    worker_requests: prices.workerRequest,
    worker_cpu_us: prices.workerCpuMs / 1000,
    do_requests: prices.durableObjectRequest,
    ws_messages_in: prices.durableObjectRequest / prices.webSocketRatio,
    ws_messages_out: 0,
    do_active_ms: (prices.durableObjectGb * prices.durableObjectGbSecond) / 1000,
    do_rows_read: prices.rowRead,
    do_rows_written: prices.rowWritten,
    do_storage_bytes: byteDay(prices.storageGbMonth),
    queue_messages: 0,
    queue_operations: prices.queueOperation,
    upstash_commands: prices.upstashCommand,
    // Data handed to a store is charged once, for the month it is first kept (a GB-month per GB written).
    neo4j_bytes: prices.neo4jGbMonth / 1e9,
    postgres_rows: (prices.postgresGbMonth / 1e9) * POSTGRES_ROW_BYTES,
  };
}

/** Zero of every unit. */
export function zeroUnits(): UnitCounts {
  return Object.fromEntries(UNITS.map((u) => [u, 0])) as UnitCounts;
}

/** A breakdown of the estimate, USD per line. */
export interface CostBreakdown {
  workers: number;
  durableObjects: number;
  queues: number;
  upstash: number;
  neo4j: number;
  postgres: number;
  total: number;
}

/** Cost of counted units (a tenant-day, a tenant over a range, or every tenant), itemized. */
export function estimateCost(units: UnitCounts, prices: Prices = PRICES): CostBreakdown {
  const w = unitWeights(prices);
  const line = (...names: Unit[]) => names.reduce((sum, u) => sum + units[u] * w[u], 0);
  const workers = line("worker_requests", "worker_cpu_us");
  const durableObjects = line(
    "do_requests",
    "ws_messages_in",
    "do_active_ms",
    "do_rows_read",
    "do_rows_written",
    "do_storage_bytes",
  );
  const queues = line("queue_operations");
  const upstash = line("upstash_commands");
  const neo4j = line("neo4j_bytes");
  const postgres = line("postgres_rows");
  const total = workers + durableObjects + queues + upstash + neo4j + postgres;
  return { workers, durableObjects, queues, upstash, neo4j, postgres, total };
}

/** USD rounded to 1e-8, as every FinOps answer reports it. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e8) / 1e8;
}

/** `estimatedCostUsd` as the usage endpoints report it. */
export function estimatedCostUsd(units: UnitCounts, prices: Prices = PRICES): number {
  return roundUsd(estimateCost(units, prices).total);
}

/**
 * The environment's fixed cost per day: the stores' hourly figures (instance hours, not caused by any one tenant),
 * for each store that is configured.
 */
export function fixedDailyUsd(stores: { neo4j: boolean; postgres: boolean }, prices: Prices = PRICES): number {
  return 24 * ((stores.neo4j ? prices.neo4jHour : 0) + (stores.postgres ? prices.postgresHour : 0));
}

/** The sheet's prices with a deployment's Neo4j/Postgres figures (null keeps the sheet's). */
export function withStorePrices(over: {
  neo4jGbMonth: number | null;
  neo4jHour: number | null;
  postgresGbMonth: number | null;
  postgresHour: number | null;
}): Prices {
  return {
    ...PRICES,
    neo4jGbMonth: over.neo4jGbMonth ?? PRICES.neo4jGbMonth,
    neo4jHour: over.neo4jHour ?? PRICES.neo4jHour,
    postgresGbMonth: over.postgresGbMonth ?? PRICES.postgresGbMonth,
    postgresHour: over.postgresHour ?? PRICES.postgresHour,
  };
}
