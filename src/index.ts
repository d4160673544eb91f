import policyWasm from "../policy/authz.wasm";
import { openSinks } from "./adapters/sinks";
import { installPolicy } from "./auth/authz";
import { loadConfig } from "./config";
import { retentionCutoffMs } from "./domain/retention";
import { app } from "./http/app";
import { consumeSinkBatch } from "./queues/consumer";
import { consumeDeadLetters } from "./queues/dead-letters";
import { deadLetterStore } from "./residency";
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
    // Retention by policy (POLICY_RETENTION) wherever data rests: tenant objects keep at most a day; the graph's
    // signals, Postgres's ledger and idle scores (migrations/postgres/0005) and the dead letters go here; the
    // FinOps counters expire by themselves in Upstash (src/finops/usage.ts).
    const config = loadConfig(env);
    const sinks = openSinks(config);
    try {
      const cutoffMs = retentionCutoffMs(controller.scheduledTime, config.retentionDays);
      const [removed, ledgerRemoved, deadLetters] = await Promise.all([
        sinks.graph?.deleteSignalsBefore(cutoffMs) ?? 0,
        sinks.scores?.purgeLedgerBefore(cutoffMs) ?? 0,
        env.DEAD_LETTERS ? deadLetterStore(env, config).purgeBefore(cutoffMs) : { deadLetters: 0, parked: 0 },
      ]);
      logEvent({
        op: "retention",
        policy: config.policyTags.retention,
        removed,
        ledger_removed: ledgerRemoved,
        dead_letters_removed: deadLetters.deadLetters,
        parked_removed: deadLetters.parked,
        cutoff: new Date(cutoffMs).toISOString(),
      });
    } finally {
      await sinks.scores?.close();
    }
  },
} satisfies ExportedHandler<Env>;
