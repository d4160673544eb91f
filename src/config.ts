import { z } from "zod";
import type { PolicyTags } from "./domain/provenance";
import { parseRetention } from "./domain/retention";
import { READ_MODES, type ReadMode } from "./domain/switches";
import { type LogLevel, logEvent, setLogLevel } from "./telemetry/log";
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

/** A price in USD (≥ 0), or null when unset. */
const optionalPrice = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? null : Number(v)))
  .refine((v) => v === null || (Number.isFinite(v) && v >= 0), "must be a number ≥ 0");

/** Layers the benchmark may switch off to measure what each costs (`DEV_LAYERS_OFF`, development/test only). */
export const DEV_LAYERS = ["metrics", "token-cache", "policy-cache", "tracing"] as const;
export type DevLayer = (typeof DEV_LAYERS)[number];

const configSchema = z.object({
  ENVIRONMENT: z.enum(["production", "staging", "development", "test"]).default("production"),
  FEATURE_COHERENCE: bool(true),
  ALLOW_ADHOC_OPERATIONS: bool(false),
  ALLOW_ADHOC_OPERATIONS_UNTIL: optionalText,
  DEV_UNPINNED_DURABLE_OBJECTS: bool(false),
  JWT_PUBLIC_KEY: optionalText,
  JWT_JWKS_URL: optionalText,
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LOG_HASH_KEY: optionalText,
  REALTIME_TICKET_KEY: optionalText,
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
  READ_MODE: z.enum(READ_MODES).default("durable-object"),
  SINK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(9).default(9),
  SINK_RETRY_DELAY_CAP_S: z.coerce.number().int().min(1).max(300).default(300),
  SINK_REDRIVE_BASE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  UPSTASH_REDIS_REST_URL: optionalText,
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  FINOPS_FLUSH_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  FINOPS_TENANT_DAILY_BUDGET_USD: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? null : Number(v)))
    .refine((v) => v === null || (Number.isFinite(v) && v > 0), "must be a positive number"),
  CONDUCTOR_BUDGET_DAILY_USD: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? null : Number(v)))
    .refine((v) => v === null || (Number.isFinite(v) && v > 0), "must be a positive number"),
  FINOPS_NEO4J_GB_MONTH_USD: optionalPrice,
  FINOPS_NEO4J_HOUR_USD: optionalPrice,
  FINOPS_POSTGRES_GB_MONTH_USD: optionalPrice,
  FINOPS_POSTGRES_HOUR_USD: optionalPrice,
  POLICY_PURPOSE: z.string().default("benchmarking"),
  POLICY_RETENTION: z
    .string()
    .default("standard-365d")
    .refine((v) => parseRetention(v).ok, {
      message: "a retention policy <name>-<days>d (1..3650 days), e.g. standard-365d or short-30d",
    }),
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
  /**
   * Ad-hoc (non-persisted) GraphQL documents: `false`, `true` (development/test only) or, elsewhere, until an
   * instant at most 24 h after the settings were loaded (`ALLOW_ADHOC_OPERATIONS_UNTIL`, docs/adr.md ADR-002's
   * "temporarily allow for triage"). Use {@link adhocOperationsAllowed}: the instant is checked per request.
   */
  allowAdhocOperations: boolean | { untilMs: number };
  /** Dev/test only: workerd has no jurisdictions, so objects are addressed without `jurisdiction("us")`. */
  unpinnedDurableObjects: boolean;
  jwt: { publicKeyPem: string | null; jwksUrl: string | null; issuer: string | null; audience: string | null };
  rpsMax: number;
  /** Lowest log level written; below it a line costs nothing (see `setLogLevel`). */
  logLevel: LogLevel;
  /** Key of the pseudonym logs carry instead of a token's `sub` (src/telemetry/pseudonym.ts). */
  logHashKey: string;
  /** Key of the realtime tickets' MAC (src/auth/ticket.ts). */
  realtimeTicketKey: string;
  /** Benchmark only (development/test): layers switched off to measure their cost (bench/run.mjs). */
  layersOff: ReadonlySet<DevLayer>;
  /** Realtime fan-out coalescing window (docs/api.md §4.5: at most 100 ms). */
  fanoutWindowMs: number;
  /** Open WebSockets one tenant's object accepts; the next upgrade gets 429 `TOO_MANY_CONNECTIONS`. */
  wsMaxSocketsPerTenant: number;
  /** Test only (development/test): every /graphql answer is delayed this long, to prove the SLO gate fails. */
  debugDelayMs: number;
  /** Sinks (docs/api.md §7); `null` when their settings are absent: that sink is off. */
  neo4j: { url: string; user: string; password: string; database: string } | null;
  postgres: { url: string; wsProxy: string | null } | null;
  /** docs/adr.md ADR-001's fallback: `postgres` serves `tenantCoherence` from the materialized table. */
  readMode: ReadMode;
  /**
   * The sink pipeline's recovery (docs/api.md §7): a message is tried `maxAttempts` times (the queue's own limit is
   * 9) with delays 2, 4, 8 … s capped at `retryDelayCapS`, then kept in the dead-letter store, which sends it back by
   * itself once the stores answer again, probing from `redriveBaseMs` after the failure, doubling up to 20×.
   */
  sinkRecovery: { maxAttempts: number; retryDelayCapS: number; redriveBaseMs: number };
  /** FinOps counters (docs/api.md §4.6) in Upstash; `null` when its settings are absent (counting continues, reads 503). */
  upstash: { url: string; token: string } | null;
  finops: {
    /** How often a tenant's object pushes changed counters to Upstash (reads push first, so they are exact). */
    flushIntervalMs: number;
    /** Overrides the per-tenant daily budget of `.maestro/ci_budget.json` (tests, incidents). */
    tenantDailyBudgetUsd: number | null;
    /** Overrides the environment's daily budget of `.maestro/ci_budget.json` (the seed's CONDUCTOR_BUDGET_DAILY_USD). */
    envDailyBudgetUsd: number | null;
    /** The plan's Neo4j and Postgres figures where they differ from `finops/prices.json` (USD; null: the sheet's). */
    storePrices: {
      neo4jGbMonth: number | null;
      neo4jHour: number | null;
      postgresGbMonth: number | null;
      postgresHour: number | null;
    };
  };
  policyTags: PolicyTags;
  /** Days data rests in every store, from `POLICY_RETENTION` (src/domain/retention.ts). */
  retentionDays: number;
  /** OTLP/HTTP trace export; `null` (tracing off, no cost) without `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  telemetry: TelemetrySettings | null;
}

/** Environments where local-run, test and benchmark settings are allowed (an allow-list). */
const DEV_ENVIRONMENTS: ReadonlySet<string> = new Set(["development", "test"]);

/** `LOG_HASH_KEY` in development and test when unset (required elsewhere). */
const DEV_LOG_HASH_KEY = "development-only-log-hash-key";
/** `REALTIME_TICKET_KEY` in development and test when unset (required elsewhere). */
const DEV_TICKET_KEY = "development-only-realtime-ticket-key";

/** The longest an ad-hoc-operations window may reach ahead (ADR-002: triage, not a mode). */
export const MAX_ADHOC_WINDOW_MS = 24 * 3_600_000;

/**
 * `ALLOW_ADHOC_OPERATIONS`: plain `true` in development/test; elsewhere only with `ALLOW_ADHOC_OPERATIONS_UNTIL`,
 * an ISO instant in the future and at most 24 h ahead. Enabled outside development/test, it is logged as a
 * warning once per isolate; a window already past is no error (the service keeps running) and allows nothing.
 */
function adhocSetting(allow: boolean, until: string | null, dev: boolean): Config["allowAdhocOperations"] {
  if (!allow) return false;
  if (dev && until === null) return true;
  const untilMs = until === null ? Number.NaN : Date.parse(until);
  if (until === null || Number.isNaN(untilMs) || !/^\d{4}-\d{2}-\d{2}T/.test(until)) {
    throw new ConfigError(
      "ALLOW_ADHOC_OPERATIONS outside development/test needs ALLOW_ADHOC_OPERATIONS_UNTIL, an ISO time at most 24 h ahead",
    );
  }
  const now = Date.now();
  if (untilMs - now > MAX_ADHOC_WINDOW_MS) {
    throw new ConfigError("ALLOW_ADHOC_OPERATIONS_UNTIL is more than 24 h ahead");
  }
  logEvent({
    level: "warn",
    op: "config",
    error_code: untilMs > now ? "ADHOC_OPERATIONS_ENABLED" : "ADHOC_OPERATIONS_EXPIRED",
    message:
      untilMs > now
        ? `ad-hoc GraphQL operations are allowed until ${new Date(untilMs).toISOString()} (triage window)`
        : `ALLOW_ADHOC_OPERATIONS_UNTIL ${new Date(untilMs).toISOString()} has passed: ad-hoc operations are refused; remove the setting`,
  });
  return { untilMs };
}

/** Whether ad-hoc GraphQL documents may run at `nowMs`. */
export function adhocOperationsAllowed(config: Config, nowMs: number): boolean {
  const allow = config.allowAdhocOperations;
  return typeof allow === "boolean" ? allow : nowMs < allow.untilMs;
}

/** Thrown when bindings are unusable; the Worker answers 503 rather than run misconfigured. */
export class ConfigError extends Error {}

const cache = new WeakMap<object, Config>();

/**
 * Parses the Worker's `env` into a typed {@link Config}, once per `env` object.
 * Fails closed: outside development and test, the settings for local runs, tests and benchmarks are refused,
 * and the token issuer and audience are required.
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
  const dev = DEV_ENVIRONMENTS.has(e.ENVIRONMENT);
  if (!dev) {
    // Allow-list: settings for local runs, tests and benchmarks exist only in development and test.
    const devOnly = [
      e.DEBUG_DELAY_MS > 0 && "DEBUG_DELAY_MS",
      e.DEV_UNPINNED_DURABLE_OBJECTS && "DEV_UNPINNED_DURABLE_OBJECTS",
      e.DEV_LAYERS_OFF.size > 0 && "DEV_LAYERS_OFF",
    ].filter((name): name is string => typeof name === "string");
    if (devOnly.length > 0) {
      throw new ConfigError(
        `${devOnly.join(", ")}: allowed only when ENVIRONMENT is development or test (it is ${e.ENVIRONMENT})`,
      );
    }
    const missing = [!e.JWT_ISSUER && "JWT_ISSUER", !e.JWT_AUDIENCE && "JWT_AUDIENCE"].filter(Boolean);
    if (missing.length > 0) {
      throw new ConfigError(`${missing.join(" and ")} required when ENVIRONMENT is ${e.ENVIRONMENT}`);
    }
    const secrets = [!e.LOG_HASH_KEY && "LOG_HASH_KEY", !e.REALTIME_TICKET_KEY && "REALTIME_TICKET_KEY"].filter(
      Boolean,
    );
    if (secrets.length > 0) {
      throw new ConfigError(`${secrets.join(" and ")} required when ENVIRONMENT is ${e.ENVIRONMENT}`);
    }
  }
  const allowAdhocOperations = adhocSetting(e.ALLOW_ADHOC_OPERATIONS, e.ALLOW_ADHOC_OPERATIONS_UNTIL, dev);
  const config: Config = {
    environment: e.ENVIRONMENT,
    featureCoherence: e.FEATURE_COHERENCE,
    allowAdhocOperations,
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
    logHashKey: e.LOG_HASH_KEY ?? DEV_LOG_HASH_KEY,
    realtimeTicketKey: e.REALTIME_TICKET_KEY ?? DEV_TICKET_KEY,
    layersOff: e.DEV_LAYERS_OFF as Set<DevLayer>,
    fanoutWindowMs: e.FANOUT_WINDOW_MS,
    wsMaxSocketsPerTenant: e.WS_MAX_SOCKETS_PER_TENANT,
    debugDelayMs: e.DEBUG_DELAY_MS,
    neo4j: e.NEO4J_URL
      ? { url: e.NEO4J_URL, user: e.NEO4J_USER, password: e.NEO4J_PASSWORD, database: e.NEO4J_DATABASE }
      : null,
    postgres: e.DATABASE_URL ? { url: e.DATABASE_URL, wsProxy: e.NEON_WSPROXY } : null,
    readMode: e.READ_MODE,
    sinkRecovery: {
      maxAttempts: e.SINK_MAX_ATTEMPTS,
      retryDelayCapS: e.SINK_RETRY_DELAY_CAP_S,
      redriveBaseMs: e.SINK_REDRIVE_BASE_MS,
    },
    upstash:
      e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
        ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
        : null,
    finops: {
      flushIntervalMs: e.FINOPS_FLUSH_INTERVAL_MS,
      tenantDailyBudgetUsd: e.FINOPS_TENANT_DAILY_BUDGET_USD,
      envDailyBudgetUsd: e.CONDUCTOR_BUDGET_DAILY_USD,
      storePrices: {
        neo4jGbMonth: e.FINOPS_NEO4J_GB_MONTH_USD,
        neo4jHour: e.FINOPS_NEO4J_HOUR_USD,
        postgresGbMonth: e.FINOPS_POSTGRES_GB_MONTH_USD,
        postgresHour: e.FINOPS_POSTGRES_HOUR_USD,
      },
    },
    policyTags: {
      purpose: e.POLICY_PURPOSE,
      retention: e.POLICY_RETENTION,
      license: e.POLICY_LICENSE,
      residency: e.POLICY_RESIDENCY,
    },
    telemetry: toTelemetrySettings(e),
    retentionDays: (parseRetention(e.POLICY_RETENTION) as { days: number }).days,
  };
  setLogLevel(config.logLevel);
  cache.set(env, config);
  return config;
}
