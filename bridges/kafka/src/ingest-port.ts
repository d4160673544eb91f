// The forwarder's port, wired to the real world: HTTP to the service, tokens per tenant, timers, and the bridge's
// metrics and log lines for every answer.
import { setTimeout as sleep } from "node:timers/promises";
import type { BatchItem } from "./batches.ts";
import type { BridgeConfig } from "./config.ts";
import type { ForwardPort } from "./forwarder.ts";
import { ingestSender } from "./ingest-http.ts";
import type { Logger } from "./log.ts";
import type { Rejection } from "./message.ts";
import type { Metrics } from "./metrics.ts";
import { tokenSource } from "./tokens.ts";

export function ingestPort<T extends BatchItem>(opts: {
  config: BridgeConfig;
  log: Logger;
  metrics: Metrics;
  /** The service stored this signal. */
  onAcknowledged: (item: T) => void;
  /** This signal can never be accepted. */
  onRejected: (item: T, rejection: Rejection) => void;
}): ForwardPort<T> {
  const { config, log, metrics } = opts;
  const tokens = tokenSource({
    token: config.INGEST_TOKEN,
    file: config.INGEST_TOKENS_FILE,
    onError: (message) => log({ level: "error", op: "bridge_tokens", error_code: "TOKENS_FILE", message }),
  });
  return {
    send: ingestSender(config.INGEST_URL, config.BRIDGE_REQUEST_TIMEOUT_MS),
    token: (tenantId) => tokens.forTenant(tenantId),
    sleep: (ms, signal) => sleep(ms, undefined, { signal }),
    now: () => performance.now(),
    acknowledged: (items, verdict) => {
      items.forEach((item, i) => {
        metrics.inc("kafka_bridge_signals_forwarded_total", { status: verdict.statuses[i] ?? "accepted" });
        opts.onAcknowledged(item);
      });
    },
    rejected: (items, rejection) => {
      for (const item of items) opts.onRejected(item, rejection);
    },
    answered: (info) => {
      metrics.inc("kafka_bridge_ingest_requests_total", { status: String(info.status) });
      if (info.status !== 0) metrics.observe("kafka_bridge_ingest_request_duration_seconds", {}, info.latencyMs / 1000);
      if (info.verdict === "retry") metrics.inc("kafka_bridge_ingest_retries_total", { code: info.code ?? "" });
      log({
        level: info.verdict === "accepted" ? "info" : "warn",
        op: "bridge_ingest",
        tenant_id: info.tenantId,
        provenance_id: info.provenanceId,
        latency_ms: Math.round(info.latencyMs * 100) / 100,
        error_code: info.code,
        status: info.status,
        signals: info.signals,
        outcome: info.verdict,
        attempt: info.attempt,
        ...(info.retryInMs !== null ? { retry_in_ms: info.retryInMs } : {}),
      });
    },
  };
}
