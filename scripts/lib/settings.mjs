// Settings for the local Worker: dev defaults < .dev.vars < environment variables named by the contract.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./env.mjs";

/** Every setting the Worker reads; each may come from the environment or from .dev.vars. */
export const SETTING_NAMES = [
  "ENVIRONMENT",
  "FEATURE_COHERENCE",
  "ALLOW_ADHOC_OPERATIONS",
  "DEV_UNPINNED_DURABLE_OBJECTS",
  "JWT_PUBLIC_KEY",
  "JWT_JWKS_URL",
  "JWT_ISSUER",
  "JWT_AUDIENCE",
  "RPS_MAX",
  "LOG_LEVEL",
  "DEV_LAYERS_OFF",
  "POLICY_PURPOSE",
  "POLICY_RETENTION",
  "POLICY_LICENSE",
  "POLICY_RESIDENCY",
  "NEO4J_URL",
  "NEO4J_USER",
  "NEO4J_PASSWORD",
  "NEO4J_DATABASE",
  "DATABASE_URL",
  "NEON_WSPROXY",
  "READ_MODE",
  "SINK_MAX_ATTEMPTS",
  "SINK_RETRY_DELAY_CAP_S",
  "SINK_REDRIVE_BASE_MS",
  "FANOUT_WINDOW_MS",
  "WS_MAX_SOCKETS_PER_TENANT",
  "DEBUG_DELAY_MS",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "FINOPS_FLUSH_INTERVAL_MS",
  "FINOPS_TENANT_DAILY_BUDGET_USD",
  "CONDUCTOR_BUDGET_DAILY_USD",
  "FINOPS_NEO4J_GB_MONTH_USD",
  "FINOPS_NEO4J_HOUR_USD",
  "FINOPS_POSTGRES_GB_MONTH_USD",
  "FINOPS_POSTGRES_HOUR_USD",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_SERVICE_NAME",
  "OTEL_EXPORTER_OTLP_HEADERS",
];

/**
 * Parses a dotenv-style file (KEY=VALUE, optional quotes, # comments).
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseDotenv(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 1) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out[key] = value.replace(/\\n/g, "\n");
  }
  return out;
}

/**
 * The settings given explicitly (.dev.vars, then the environment), without the dev defaults: what tells
 * `npm start` whether the Worker has token keys of its own (scripts/lib/idp.mjs, `idpWanted`).
 * @returns {Record<string, string>}
 */
export function explicitSettings() {
  const file = join(root, ".dev.vars");
  /** @type {Record<string, string>} */
  const out = existsSync(file) ? parseDotenv(readFileSync(file, "utf8")) : {};
  for (const name of SETTING_NAMES) {
    const value = process.env[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The merged settings for `wrangler dev`.
 * @param {string} devPublicPem
 * @returns {Record<string, string>}
 */
export function localSettings(devPublicPem) {
  /** @type {Record<string, string>} */
  const defaults = {
    ENVIRONMENT: "development",
    DEV_UNPINNED_DURABLE_OBJECTS: "true",
    JWT_PUBLIC_KEY: devPublicPem,
  };
  const file = join(root, ".dev.vars");
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file, "utf8")) : {};
  /** @type {Record<string, string>} */
  const fromEnv = {};
  for (const name of SETTING_NAMES) {
    const value = process.env[name];
    if (value !== undefined) fromEnv[name] = value;
  }
  const merged = { ...defaults, ...fromFile, ...fromEnv };
  // A JWKS given without an explicit PEM replaces the dev key (the verifier prefers a PEM when both are set).
  if (merged.JWT_JWKS_URL && fromFile.JWT_PUBLIC_KEY === undefined && fromEnv.JWT_PUBLIC_KEY === undefined) {
    delete merged.JWT_PUBLIC_KEY;
  }
  return merged;
}
