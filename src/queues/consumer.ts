import { openSinks, type Sinks } from "../adapters/sinks";
import type { Config } from "../config";
import type { LedgerEntry } from "../domain/ledger";
import { metricsBuffer } from "../metrics/collect";
import { METRICS, type Observation } from "../metrics/model";
import { SinkError } from "../ports";
import { deadLetterStore } from "../residency";
import { currentSwitches } from "../switches";
import { logEvent } from "../telemetry/log";
import { startQueueProcessSpan } from "../telemetry/messaging";
import type { TraceContext } from "../telemetry/trace-context";
import { createTracer, type TraceScope } from "../telemetry/tracer";
import { expandLedger, expandSignals, type SinkScore, type SinkSignal, sinkMessageSchema } from "./messages";

/** Delay before the n-th retry of a message: 2 s, 4 s, 8 s … capped at `capS` (5 min by default). */
export function retryDelaySeconds(attempts: number, capS = 300): number {
  return Math.min(capS, 2 ** Math.max(1, attempts));
}

/**
 * Graph statements in flight per consumer invocation, and rows per statement. Measured against the raw store
 * (bench/sinks.mjs): Neo4j takes the service's statement fastest two at a time with each lane owning whole
 * tenants (two statements of one tenant contend on its node); ten or more at once, or 50,000-row statements,
 * are slower than that.
 */
export const GRAPH_LANES = 2;
export const MAX_ROWS_PER_STATEMENT = 2000;

/** One tenant's share of a batch: its signal rows, its newest score, and the messages they came from. */
interface TenantWork {
  tenantId: string;
  signals: SinkSignal[];
  /** Provenance-ledger entries of the batch's requests (repeats across messages are harmless). */
  ledger: LedgerEntry[];
  score: SinkScore | null;
  messages: Array<Message<unknown>>;
  /** Each message's trace context (from the hand-off that sent it), in message order. */
  traces: Array<TraceContext | undefined>;
}

/**
 * Writes one tenant's share of a batch: all its signals in one `UNWIND` (then its score) to Neo4j, and its
 * provenance-ledger entries and newest score to Postgres at the same time — so a slow graph never delays the
 * materialized score. Idempotent: MERGE on the dedupe key in Neo4j, versioned UPSERT in Postgres (older versions
 * in the batch are skipped), ledger entries inserted once per (tenant, position).
 */
export async function applyTenantWork(
  work: Pick<TenantWork, "tenantId" | "signals" | "score"> & { ledger?: LedgerEntry[] },
  sinks: Sinks,
  trace?: TraceScope,
): Promise<void> {
  const graph = async () => {
    if (!sinks.graph) return;
    for (let i = 0; i < work.signals.length; i += MAX_ROWS_PER_STATEMENT) {
      await sinks.graph.writeSignals(work.tenantId, work.signals.slice(i, i + MAX_ROWS_PER_STATEMENT), trace);
    }
    if (work.score) await sinks.graph.writeScore(work.score, trace);
  };
  const postgres = async () => {
    if (!sinks.scores) return;
    if (work.ledger && work.ledger.length > 0) await sinks.scores.appendLedger(work.ledger, trace);
    if (work.score) await sinks.scores.upsertScore(work.score, trace);
  };
  await Promise.all([graph(), postgres()]);
}

/**
 * The sink queue's consumer. A batch is grouped by tenant (its signals in statements of at most
 * {@link MAX_ROWS_PER_STATEMENT} rows, the newest score only), {@link GRAPH_LANES} tenants are written at a time,
 * and each tenant's messages are acked or retried together — one
 * tenant's failure never holds back another's. A message that cannot be parsed, or fails in a way retrying
 * cannot fix, goes straight to the dead-letter queue; transient failures retry with backoff until the queue's
 * retry limit moves them there.
 */
export async function consumeSinkBatch(
  batch: MessageBatch<unknown>,
  env: Env,
  config: Config,
  ctx?: { waitUntil(promise: Promise<unknown>): void },
  sinks: Sinks = openSinks(config),
): Promise<void> {
  // `materializer` off (docs/api.md §4.11): nothing is written; the batch is parked, whole, until it is on again.
  const obs: Observation[] = [];
  const outcome = (what: "acked" | "retried" | "dead_lettered" | "parked", n = 1) =>
    obs.push({ name: METRICS.sinkMessages.name, labels: { outcome: what }, value: n });
  const report = () => {
    if (obs.length === 0 || !env.METRICS) return;
    metricsBuffer(env.METRICS, config).record(obs, (send) => (ctx ? ctx.waitUntil(send) : void send));
  };
  if (!(await currentSwitches(env, config)).materializer) {
    await deadLetterStore(env, config).park(batch.messages.map((m) => m.body));
    batch.ackAll();
    logEvent({ level: "warn", op: "materializer_off", count: batch.messages.length });
    outcome("parked", batch.messages.length);
    report();
    return;
  }
  // One tracer per batch: one OTLP request for all of its spans, after the batch is settled.
  const tracer = createTracer(config.telemetry, {
    onError: (message) => logEvent({ level: "warn", op: "otlp_export", error_code: "OTLP_EXPORT_FAILED", message }),
  });
  try {
    const byTenant = new Map<string, TenantWork>();
    const workFor = (tenantId: string) => {
      let w = byTenant.get(tenantId);
      if (!w) {
        w = { tenantId, signals: [], ledger: [], score: null, messages: [], traces: [] };
        byTenant.set(tenantId, w);
      }
      return w;
    };
    for (const msg of batch.messages) {
      const parsed = sinkMessageSchema.safeParse(msg.body);
      if (!parsed.success) {
        await deadLetter(env, msg, "INVALID_MESSAGE", parsed.error.issues[0]?.message ?? "invalid");
        msg.ack();
        outcome("dead_lettered");
        continue;
      }
      const m = parsed.data;
      if (m.kind === "signals") {
        const w = workFor(m.tenantId);
        w.signals.push(...expandSignals(m));
        w.ledger.push(...expandLedger(m));
        w.messages.push(msg);
        w.traces.push(m.trace);
      } else {
        const w = workFor(m.score.tenantId);
        if (!w.score || m.score.version > w.score.version) w.score = m.score;
        w.messages.push(msg);
        w.traces.push(m.trace);
      }
    }
    // Largest share first, so the lanes finish together (the batch's last tenant does not run alone).
    const works = [...byTenant.values()].sort((a, b) => b.signals.length - a.signals.length);
    await inLanes(works, GRAPH_LANES, async (work) => {
      // Continues the first message's trace; the other messages' producer spans become links.
      const span = startQueueProcessSpan(tracer, batch.queue, work.traces).setBaggage("tenant_id", work.tenantId);
      try {
        await applyTenantWork(work, sinks, { tracer, span });
        for (const msg of work.messages) msg.ack();
        outcome("acked", work.messages.length);
        observeWritten(obs, work, sinks, Date.now());
      } catch (err) {
        span.recordError(err);
        const sinkErr = err instanceof SinkError ? err : null;
        obs.push({
          name: METRICS.sinkWrites.name,
          labels: {
            store: sinkErr?.sink ?? "unknown",
            outcome: "error",
            code: sinkErr ? (sinkErr.retryable ? "transient" : "rejected") : "unexpected",
          },
          value: 1,
        });
        const settled = await settleFailure(env, config, work, err);
        outcome("retried", settled.retried);
        outcome("dead_lettered", settled.deadLettered);
      } finally {
        span.end();
      }
    });
  } finally {
    report();
    await sinks.scores?.close();
    if (tracer.enabled) {
      const flushed = tracer.flush();
      if (ctx) ctx.waitUntil(flushed);
      else await flushed;
    }
  }
}

/** Runs `fn` over `items` with at most `lanes` at a time (all within this invocation). */
async function inLanes<T>(items: T[], lanes: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

/** Successful writes by store, and each written signal's lag from acceptance (samples grouped by 0.1 s). */
function observeWritten(obs: Observation[], work: TenantWork, sinks: Sinks, nowMs: number): void {
  const stores = [...(sinks.graph ? ["neo4j"] : []), ...(sinks.scores ? ["postgres"] : [])];
  const lags = new Map<number, number>();
  for (const s of work.signals) {
    const lag = Math.max(0, Math.round((nowMs - s.acceptedMs) / 100) / 10);
    lags.set(lag, (lags.get(lag) ?? 0) + 1);
  }
  for (const store of stores) {
    obs.push({ name: METRICS.sinkWrites.name, labels: { store, outcome: "ok", code: "" }, value: 1 });
    // Postgres holds scores and the ledger, not signals: its lag is the signals' whose score it now has.
    for (const [value, count] of lags) obs.push({ name: METRICS.sinkLag.name, labels: { store }, value, count });
  }
}

async function settleFailure(
  env: Env,
  config: Config,
  work: TenantWork,
  err: unknown,
): Promise<{ retried: number; deadLettered: number }> {
  const { maxAttempts, retryDelayCapS } = config.sinkRecovery;
  let retried = 0;
  let deadLettered = 0;
  const sinkErr = err instanceof SinkError ? err : null;
  logEvent({
    level: "warn",
    op: "sink",
    tenant_id: work.tenantId,
    error_code: sinkErr ? `${sinkErr.sink.toUpperCase()}_FAILED` : "SINK_FAILED",
    message: err instanceof Error ? err.message : String(err),
    attempts: work.messages[0]?.attempts,
  });
  for (const msg of work.messages) {
    if (sinkErr && !sinkErr.retryable) {
      await deadLetter(env, msg, `${sinkErr.sink.toUpperCase()}_REJECTED`, sinkErr.message);
      msg.ack();
      deadLettered++;
    } else if (msg.attempts >= maxAttempts) {
      // The retry budget is spent: the dead-letter store keeps it and redrives it once the store is back.
      await deadLetter(env, msg, "RETRIES_EXHAUSTED", `after ${msg.attempts} attempts: ${String(err).slice(0, 200)}`);
      msg.ack();
      deadLettered++;
    } else {
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts, retryDelayCapS) });
      retried++;
    }
  }
  return { retried, deadLettered };
}

async function deadLetter(env: Env, msg: Message<unknown>, code: string, reason: string): Promise<void> {
  logEvent({ level: "error", op: "sink", error_code: code, message: reason, message_id: msg.id });
  await env.SINK_DLQ.send({ body: msg.body, error: { code, reason }, failedAt: Date.now() }, { contentType: "json" });
}
