/** Fields of one structured log line (contract §8). Never put a token or a secret in one. */
export interface LogFields {
  level?: "info" | "warn" | "error";
  op: string;
  tenant_id?: string | null;
  provenance_id?: string | null;
  latency_ms?: number;
  error_code?: string | null;
  [key: string]: unknown;
}

/** Writes one JSON object per line to the Worker's log stream. */
export function logEvent(fields: LogFields): void {
  const line = { ts: new Date().toISOString(), level: fields.level ?? "info", ...fields };
  console.log(JSON.stringify(line));
}
