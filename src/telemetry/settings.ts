import { z } from "zod";

/** The default `service.name` of every span (resource attribute), overridable with `OTEL_SERVICE_NAME`. */
export const DEFAULT_SERVICE_NAME = "coherence-service";

/** Tracing settings; `null` where tracing is off (`OTEL_EXPORTER_OTLP_ENDPOINT` unset). */
export interface TelemetrySettings {
  /** Base URL of an OTLP/HTTP receiver; spans go to `{endpoint}/v1/traces`. */
  endpoint: string;
  serviceName: string;
  /** Extra request headers for the exporter (e.g. a vendor's API key); never logged. */
  headers: Record<string, string>;
}

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? null : v.trim()));

/**
 * The environment variables of the OpenTelemetry specification this service reads, as a zod shape that
 * `src/config.ts` can merge into its own schema (so a bad value fails like any other setting).
 */
export const telemetryEnvSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.refine(
    (v) => v === null || /^https?:\/\/[^/\s]+/i.test(v),
    "must be an http(s) URL",
  ),
  OTEL_SERVICE_NAME: optionalText,
  OTEL_EXPORTER_OTLP_HEADERS: optionalText.refine(
    (v) => v === null || parseOtlpHeaders(v) !== null,
    "must be key=value pairs separated by commas",
  ),
});
export type TelemetryEnv = z.infer<typeof telemetryEnvSchema>;

/**
 * Parses `OTEL_EXPORTER_OTLP_HEADERS` (`k1=v1,k2=v2`, values percent-encoded, as the OpenTelemetry
 * specification defines it). Returns `null` when a member is malformed.
 */
export function parseOtlpHeaders(value: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const member of value.split(",")) {
    if (member.trim() === "") continue;
    const eq = member.indexOf("=");
    if (eq <= 0) return null;
    const key = member.slice(0, eq).trim().toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(key)) return null;
    try {
      out[key] = decodeURIComponent(member.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return out;
}

/** Settings from already-validated variables; `null` (tracing off) without an endpoint. */
export function toTelemetrySettings(env: TelemetryEnv): TelemetrySettings | null {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  return {
    endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: env.OTEL_SERVICE_NAME ?? DEFAULT_SERVICE_NAME,
    headers: env.OTEL_EXPORTER_OTLP_HEADERS ? (parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS) ?? {}) : {},
  };
}

/**
 * Reads the tracing settings from Worker bindings (or `process.env`). Throws on an invalid value, naming the
 * variable but never its content (headers may carry credentials).
 */
export function parseTelemetrySettings(env: Record<string, unknown>): TelemetrySettings | null {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(telemetryEnvSchema.shape)) {
    const v = env[key];
    if (typeof v === "string") raw[key] = v;
  }
  const parsed = telemetryEnvSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`invalid tracing settings: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
  }
  return toTelemetrySettings(parsed.data);
}
