import { z } from "zod";
import type { PolicyTags } from "./domain/provenance";
import { type LogLevel, setLogLevel } from "./telemetry/log";
import { type TelemetrySettings, telemetryEnvSchema, toTelemetrySettings } from "./telemetry/settings";

const bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : /^(1|true|yes|on)$/i.test(v)));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? null : v));

/** Layers the benchmark may switch off to measure what each costs (`DEV_LAYERS_OFF`, development/test only). */
export const DEV_LAYERS = ["metrics", "token-cache", "policy-cache", "tracing"] as const;
export type DevLayer = (typeof DEV_LAYERS)[number];

const configSchema = z.object({
  ENVIRONMENT: z.enum(["production", "staging", "development", "test"]).default("production"),
  FEATURE_COHERENCE: bool(true),
  ALLOW_ADHOC_OPERATIONS: bool(false),
  DEV_UNPINNED_DURABLE_OBJECTS: bool(false),
  JWT_PUBLIC_KEY: optionalText,
  JWT_JWKS_URL: optionalText,
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  DEV_LAYERS_OFF: z
    .string()
    .optional()
    .transform(
      (v) =>
        new Set(
          (v ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s.length > 0),
        ),
    )
    .refine((set) => [...set].every((l) => (DEV_LAYERS as readonly string[]).includes(l)), {
      message: `layers are ${DEV_LAYERS.join(", ")}`,
    }),
  RPS_MAX: z.coerce.number().int().positive().default(1000),
  FANOUT_WINDOW_MS: z.coerce.number().int().min(0).max(100).default(100),
  DEBUG_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  WS_MAX_SOCKETS_PER_TENANT: z.coerce.number().int().positive().max(32_768).default(5000),
  NEO4J_URL: optionalText,
  NEO4J_USER: z.string().default("neo4j"),
  NEO4J_PASSWORD: z.string().default(""),
  NEO4J_DATABASE: z.string().default("neo4j"),
  DATABASE_URL: optionalText,
  NEON_WSPROXY: optionalText,
  READ_MODE: z.enum(["durable-object", "postgres"]).default("durable-object"),
  UPSTASH_REDIS_REST_URL: optionalText,
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  FINOPS_FLUSH_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  FINOPS_TENANT_DAILY_BUDGET_USD: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? null : Number(v)))
    .refine((v) => v === null || (Number.isFinite(v) && v > 0), "must be a positive number"),
  POLICY_PURPOSE: z.string().default("benchmarking"),
  POLICY_RETENTION: z.string().default("standard-365d"),
  POLICY_LICENSE: z.string().default("Restricted-TOS"),
  POLICY_RESIDENCY: z.string().default("US"),
  // Tracing (OpenTelemetry's own variable names): off without OTEL_EXPORTER_OTLP_ENDPOINT.
  ...telemetryEnvSchema.shape,
});

/**
 * Every setting and secret the Worker reads, as the bindings it arrives in (all strings, all optional). `Env`
 * extends this (src/env.d.ts), so the bindings type and this schema cannot disagree: `wrangler types` only sees
 * the `[vars]` of wrangler.toml, not secrets or settings left at their defaults.
 */
export type SettingsBindings = { readonly [K in keyof z.input<typeof configSchema>]?: string };

/** The Worker's settings, parsed once from its bindings. */
export interface Config {
  environment: "production" | "staging" | "development" | "test";
  featureCoherence: boolean;
  allowAdhocOperations: boolean;
  /** Dev/test only: workerd has no jurisdictions, so objects are addressed without `jurisdiction("us")`. */
  unpinnedDurableObjects: boolean;
  jwt: { publicKeyPem: string | null; jwksUrl: string | null; issuer: string | null; audience: string | null };
  rpsMax: number;
  /** Lowest log level written; below it a line costs nothing (see `setLogLevel`). */
  logLevel: LogLevel;
  /** Benchmark only (development/test): layers switched off to measure their cost (bench/run.mjs). */
  layersOff: ReadonlySet<DevLayer>;
  /** Realtime fan-out coalescing window (docs/api.md §4.5: at most 100 ms). */
  fanoutWindowMs: number;
  /** Open WebSockets one tenant's object accepts; the next upgrade gets 429 `TOO_MANY_CONNECTIONS`. */
  wsMaxSocketsPerTenant: number;
  /** Test only (refused in production): every /graphql answer is delayed this long, to prove the SLO gate fails. */
  debugDelayMs: number;
  /** Sinks (docs/api.md §7); `null` when their settings are absent: that sink is off. */
  neo4j: { url: string; user: string; password: string; database: string } | null;
  postgres: { url: string; wsProxy: string | null } | null;
  /** docs/adr.md ADR-001's fallback: `postgres` serves `tenantCoherence` from the materialized table. */
  readMode: "durable-object" | "postgres";
  /** FinOps counters (docs/api.md §4.6) in Upstash; `null` when its settings are absent (counting continues, reads 503). */
  upstash: { url: string; token: string } | null;
  finops: {
    /** How often a tenant's object pushes changed counters to Upstash (reads push first, so they are exact). */
    flushIntervalMs: number;
    /** Overrides the per-tenant daily budget of `.maestro/ci_budget.json` (tests, incidents). */
    tenantDailyBudgetUsd: number | null;
  };
  policyTags: PolicyTags;
  /** OTLP/HTTP trace export; `null` (tracing off, no cost) without `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  telemetry: TelemetrySettings | null;
}

/** Thrown when bindings are unusable; the Worker answers 503 rather than run misconfigured. */
export class ConfigError extends Error {}

const cache = new WeakMap<object, Config>();

/**
 * Parses the Worker's `env` into a typed {@link Config}, once per `env` object.
 * Fails closed: the unpinned-object fallback is refused in production, and so is a missing key source.
 */
export function loadConfig(env: object): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") raw[k] = String(v);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
    throw new ConfigError(`invalid settings: ${fields}`);
  }
  const e = parsed.data;
  if (e.ENVIRONMENT === "production" && e.DEBUG_DELAY_MS > 0) {
    throw new ConfigError("DEBUG_DELAY_MS is a test setting and is refused when ENVIRONMENT=production");
  }
  if (e.ENVIRONMENT === "production" && e.DEV_UNPINNED_DURABLE_OBJECTS) {
    throw new ConfigError("DEV_UNPINNED_DURABLE_OBJECTS is refused when ENVIRONMENT=production");
  }
  if (e.DEV_LAYERS_OFF.size > 0 && e.ENVIRONMENT !== "development" && e.ENVIRONMENT !== "test") {
    throw new ConfigError(
      "DEV_LAYERS_OFF is a benchmark setting, allowed only when ENVIRONMENT is development or test",
    );
  }
  const config: Config = {
    environment: e.ENVIRONMENT,
    featureCoherence: e.FEATURE_COHERENCE,
    allowAdhocOperations: e.ALLOW_ADHOC_OPERATIONS,
    unpinnedDurableObjects: e.DEV_UNPINNED_DURABLE_OBJECTS,
    jwt: {
      // Env vars often carry PEM with literal "\n"; accept both forms.
      publicKeyPem: e.JWT_PUBLIC_KEY?.replace(/\\n/g, "\n") ?? null,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    rpsMax: e.RPS_MAX,
    logLevel: e.LOG_LEVEL,
    layersOff: e.DEV_LAYERS_OFF as Set<DevLayer>,
    fanoutWindowMs: e.FANOUT_WINDOW_MS,
    wsMaxSocketsPerTenant: e.WS_MAX_SOCKETS_PER_TENANT,
    debugDelayMs: e.DEBUG_DELAY_MS,
    neo4j: e.NEO4J_URL
      ? { url: e.NEO4J_URL, user: e.NEO4J_USER, password: e.NEO4J_PASSWORD, database: e.NEO4J_DATABASE }
      : null,
    postgres: e.DATABASE_URL ? { url: e.DATABASE_URL, wsProxy: e.NEON_WSPROXY } : null,
    readMode: e.READ_MODE,
    upstash:
      e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
        ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
        : null,
    finops: { flushIntervalMs: e.FINOPS_FLUSH_INTERVAL_MS, tenantDailyBudgetUsd: e.FINOPS_TENANT_DAILY_BUDGET_USD },
    policyTags: {
      purpose: e.POLICY_PURPOSE,
      retention: e.POLICY_RETENTION,
      license: e.POLICY_LICENSE,
      residency: e.POLICY_RESIDENCY,
    },
    telemetry: toTelemetrySettings(e),
  };
  setLogLevel(config.logLevel);
  cache.set(env, config);
  return config;
}
