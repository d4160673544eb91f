import { Neo4jQueryApi, SinkError } from "../adapters/neo4j-query-api";
import { NeonScoreStore } from "../adapters/neon";
import type { Config } from "../config";
import { logEvent } from "../http/log";
import type { GraphWriter, ScoreStore } from "../ports";
import { type SinkMessage, sinkMessageSchema } from "./messages";

/** Delay before the n-th retry of a message: 2 s, 4 s, 8 s … capped at 5 min. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 2 ** Math.max(1, attempts));
}

/** The sinks configured for this deployment; an absent one is `null` and skipped. */
export interface Sinks {
  graph: GraphWriter | null;
  scores: (ScoreStore & { close(): Promise<void> }) | null;
}

export function openSinks(config: Config): Sinks {
  return {
    graph: config.neo4j ? new Neo4jQueryApi(config.neo4j) : null,
    scores: config.postgres ? new NeonScoreStore(config.postgres) : null,
  };
}

/** Applies one message to every configured sink. Idempotent: MERGE in Neo4j, versioned UPSERT in Postgres. */
export async function applyMessage(message: SinkMessage, sinks: Sinks): Promise<void> {
  if (message.kind === "signals") {
    await sinks.graph?.writeSignals(message.tenantId, message.signals);
    return;
  }
  await Promise.all([sinks.graph?.writeScore(message.score), sinks.scores?.upsertScore(message.score)]);
}

/**
 * The sink queue's consumer: acks or retries each message on its own (one bad message never holds back the
 * batch). A message that cannot be parsed, or fails in a way retrying cannot fix, goes straight to the
 * dead-letter queue; transient failures retry with backoff until the queue's retry limit moves them there.
 */
export async function consumeSinkBatch(batch: MessageBatch<unknown>, env: Env, config: Config): Promise<void> {
  const sinks = openSinks(config);
  try {
    for (const msg of batch.messages) {
      const parsed = sinkMessageSchema.safeParse(msg.body);
      if (!parsed.success) {
        await deadLetter(env, msg, "INVALID_MESSAGE", parsed.error.issues[0]?.message ?? "invalid");
        msg.ack();
        continue;
      }
      try {
        await applyMessage(parsed.data, sinks);
        msg.ack();
      } catch (err) {
        const sinkErr = err instanceof SinkError ? err : null;
        logEvent({
          level: "warn",
          op: "sink",
          tenant_id: parsed.data.kind === "signals" ? parsed.data.tenantId : parsed.data.score.tenantId,
          error_code: sinkErr ? `${sinkErr.sink.toUpperCase()}_FAILED` : "SINK_FAILED",
          message: err instanceof Error ? err.message : String(err),
          attempts: msg.attempts,
        });
        if (sinkErr && !sinkErr.retryable) {
          await deadLetter(env, msg, `${sinkErr.sink.toUpperCase()}_REJECTED`, sinkErr.message);
          msg.ack();
        } else {
          msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
        }
      }
    }
  } finally {
    await sinks.scores?.close();
  }
}

async function deadLetter(env: Env, msg: Message<unknown>, code: string, reason: string): Promise<void> {
  logEvent({ level: "error", op: "sink", error_code: code, message: reason, message_id: msg.id });
  await env.SINK_DLQ.send({ body: msg.body, error: { code, reason }, failedAt: Date.now() }, { contentType: "json" });
}
