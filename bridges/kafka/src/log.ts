// One JSON object per line on stdout, with the fields the Worker's lines carry (docs/api.md §5.3): `ts`, `level`, `op`,
// `tenant_id`, `provenance_id`, `latency_ms`, `error_code`, plus what the event adds. Never a token.

export interface LogFields {
  level?: "info" | "warn" | "error";
  op: string;
  tenant_id?: string | null;
  provenance_id?: string | null;
  latency_ms?: number | null;
  error_code?: string | null;
  [key: string]: unknown;
}

export type Logger = (fields: LogFields) => void;

/** Writes one line to stdout; bigint values (offsets) are written as numbers' decimal strings. */
export const logEvent: Logger = (fields) => {
  const line = {
    ts: new Date().toISOString(),
    level: fields.level ?? "info",
    tenant_id: null,
    provenance_id: null,
    latency_ms: null,
    error_code: null,
    ...fields,
  };
  process.stdout.write(`${JSON.stringify(line, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
};
