import policyWasm from "../policy/authz.wasm";
import { openSinks } from "./adapters/sinks";
import { installPolicy } from "./auth/authz";
import { loadConfig } from "./config";
import { RETENTION_MS } from "./domain/window";
import { app } from "./http/app";
import { consumeSinkBatch } from "./queues/consumer";
import { consumeDeadLetters } from "./queues/dead-letters";
import { logEvent } from "./telemetry/log";

export { DeadLetterStore } from "../durable-objects/dead-letters";
export { MetricsAggregator } from "../durable-objects/metrics";
export { OpsSwitches } from "../durable-objects/ops-switches";
export { TenantObject } from "../durable-objects/tenant";
export { TenantDirectory } from "../durable-objects/tenant-directory";

// The compiled OPA policy (npm run policy:build) decides every request and subscribe of this isolate.
installPolicy(policyWasm);

// Only handlers and Durable Object classes may be exported from the entry module (workerd rejects the rest).

/** The Worker: HTTP through the Hono app, the sink queues, and the daily retention job. */
export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    const config = loadConfig(env);
    if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch, env, config);
    return consumeSinkBatch(batch, env, config, ctx);
  },
  async scheduled(controller, env) {
    // Tenant objects keep 24 h; the graph is the only store with older signals.
    const sinks = openSinks(loadConfig(env));
    try {
      const cutoffMs = controller.scheduledTime - RETENTION_MS;
      const removed = (await sinks.graph?.deleteSignalsBefore(cutoffMs)) ?? 0;
      // The provenance ledger's entries, 365 days after their request (migrations/postgres/0004).
      const ledgerRemoved = (await sinks.scores?.purgeLedgerBefore(cutoffMs)) ?? 0;
      logEvent({ op: "retention", removed, ledger_removed: ledgerRemoved, cutoff: new Date(cutoffMs).toISOString() });
    } finally {
      await sinks.scores?.close();
    }
  },
} satisfies ExportedHandler<Env>;
