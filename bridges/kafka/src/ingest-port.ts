// The bridge's way into the service: @coherence/client (one ingest implementation for every producer). The client
// batches per tenant, sends each batch under one Idempotency-Key, retries what is transient (for ever here: a service
// outage must never empty the topic into the dead-letter topic) and splits refused batches down to the signals at
// fault. This file wires it to the bridge's settings, tokens, metrics and log lines.
import {
  type CoherenceClient,
  CoherenceError,
  clientCredentials,
  createCoherenceClient,
  type IngestRequestInfo,
  type TokenProvider,
} from "@coherence/client";
import type { BridgeConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Rejection } from "./message.ts";
import type { Metrics } from "./metrics.ts";
import { oauthClients, tokenSource } from "./tokens.ts";

/** The client's codes for a signal that can never be accepted, as the dead letter's `x-error-code`. */
const DEAD_LETTER_CODES: Record<string, Rejection["code"]> = {
  VALIDATION_FAILED: "VALIDATION_FAILED",
  MALFORMED_JSON: "MALFORMED_JSON",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  SIGNAL_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FORBIDDEN: "FORBIDDEN",
};

/**
 * What a publish() failure means for the record: a dead letter (the signal is at fault or the tenant is not ours),
 * `abandoned` (shutdown gave up on it: not committed, Kafka delivers it again), or `later` (anything else — a token
 * refused after a refresh, a misrouted INGEST_URL …: the bridge publishes it again after a backoff).
 */
export function judgeFailure(
  err: unknown,
): { kind: "dead-letter"; rejection: Rejection } | { kind: "abandoned" } | { kind: "later"; code: string } {
  if (!(err instanceof CoherenceError)) return { kind: "later", code: "INTERNAL" };
  if (err.code === "ABORTED" || err.code === "CLIENT_CLOSED") return { kind: "abandoned" };
  const code = DEAD_LETTER_CODES[err.code];
  if (code) return { kind: "dead-letter", rejection: { code, reason: err.message } };
  return { kind: "later", code: err.code };
}

/** The bridge's token source: OAuth client credentials for the tenants INGEST_OAUTH_CLIENTS_FILE names, else tokens. */
export function bridgeTokens(config: BridgeConfig, log: Logger, fetchImpl?: typeof fetch): TokenProvider {
  const fixed = tokenSource({
    token: config.INGEST_TOKEN,
    file: config.INGEST_TOKENS_FILE,
    onError: (message) => log({ level: "error", op: "bridge_tokens", error_code: "TOKENS_FILE", message }),
  });
  const oauth = new Map<string, TokenProvider>();
  if (config.INGEST_OAUTH_ISSUER && config.INGEST_OAUTH_CLIENTS_FILE) {
    for (const [tenantId, c] of oauthClients(config.INGEST_OAUTH_CLIENTS_FILE)) {
      oauth.set(
        tenantId,
        clientCredentials({
          issuer: config.INGEST_OAUTH_ISSUER,
          clientId: c.clientId,
          clientSecret: c.clientSecret,
          scope: config.INGEST_OAUTH_SCOPE,
          ...(config.INGEST_OAUTH_RESOURCE ? { resource: config.INGEST_OAUTH_RESOURCE } : {}),
          ...(fetchImpl ? { fetch: fetchImpl } : {}),
        }),
      );
    }
  }
  return {
    refreshable: true,
    async token(request) {
      const viaOauth = request.tenantId === null ? undefined : oauth.get(request.tenantId);
      if (viaOauth) return viaOauth.token(request);
      const token = request.tenantId === null ? null : fixed.forTenant(request.tenantId);
      if (token === null) throw new CoherenceError("FORBIDDEN", "no ingest token is configured for this tenant");
      return token;
    },
  };
}

/**
 * The client the bridge publishes through, reporting every request to the bridge's metrics and log. `fetchImpl`
 * replaces the network (tests).
 */
export function ingestClient(
  config: BridgeConfig,
  log: Logger,
  metrics: Metrics,
  fetchImpl?: typeof fetch,
): CoherenceClient {
  const answered = (info: IngestRequestInfo) => {
    // The bridge's metric labels predate the client: a request without an answer is NETWORK_ERROR there.
    const code = info.code === "NETWORK" ? "NETWORK_ERROR" : info.code;
    metrics.inc("kafka_bridge_ingest_requests_total", { status: String(info.status) });
    if (info.status !== 0) metrics.observe("kafka_bridge_ingest_request_duration_seconds", {}, info.latencyMs / 1000);
    if (info.outcome === "retry") metrics.inc("kafka_bridge_ingest_retries_total", { code: code ?? "" });
    log({
      level: info.outcome === "accepted" ? "info" : "warn",
      op: "bridge_ingest",
      tenant_id: info.tenantId,
      provenance_id: info.provenanceId,
      latency_ms: info.latencyMs,
      error_code: code,
      status: info.status,
      signals: info.signals,
      outcome: info.outcome,
      attempt: info.attempt - 1,
      ...(info.retryInMs !== null ? { retry_in_ms: info.retryInMs } : {}),
    });
  };
  return createCoherenceClient({
    url: config.INGEST_URL,
    token: bridgeTokens(config, log, fetchImpl),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
    timeoutMs: config.BRIDGE_REQUEST_TIMEOUT_MS,
    retry: {
      maxAttempts: Number.POSITIVE_INFINITY,
      baseDelayMs: config.BRIDGE_BACKOFF_BASE_MS,
      maxDelayMs: config.BRIDGE_BACKOFF_MAX_MS,
      maxRetryAfterMs: config.BRIDGE_BACKOFF_MAX_MS,
    },
    batching: {
      maxBatchSize: config.BRIDGE_BATCH_MAX,
      maxBatchBytes: config.BRIDGE_BATCH_BYTES,
      maxDelayMs: config.BRIDGE_LINGER_MS,
      concurrency: config.BRIDGE_CONCURRENCY,
      // The bridge bounds its own work (it pauses fetching at BRIDGE_MAX_IN_FLIGHT); the client's queue never holds
      // more than that.
      maxQueued: config.BRIDGE_MAX_IN_FLIGHT,
      // Records already carry their ts and id (message.ts derives them from the record, stable across redeliveries).
      stamp: false,
      onRequest: answered,
    },
  });
}
