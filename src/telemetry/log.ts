/** Fields of one structured log line (docs/api.md §3). Never put a token or a secret in one. */
export interface LogFields {
  level?: LogLevel;
  op: string;
  tenant_id?: string | null;
  provenance_id?: string | null;
  latency_ms?: number;
  error_code?: string | null;
  [key: string]: unknown;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let minRank = RANK.info;

/**
 * Sets the lowest level written (`LOG_LEVEL`, applied by `loadConfig`). Below it a line costs nothing: under
 * `wrangler dev` every printed line crosses a pipe into wrangler's Node process, which costs ~40 % of a small
 * Worker's throughput on this machine even when wrangler's own log level hides it.
 */
export function setLogLevel(level: LogLevel): void {
  minRank = RANK[level];
}

/** Whether a line of `level` would be written (lets callers skip building it). */
export function logEnabled(level: LogLevel): boolean {
  return RANK[level] >= minRank;
}

/** Writes one JSON object per line to the Worker's log stream (one `console.log` call per line). */
export function logEvent(fields: LogFields): void {
  const level = fields.level ?? "info";
  if (RANK[level] < minRank) return;
  console.log(JSON.stringify({ ts: new Date().toISOString(), level, ...fields }));
}
