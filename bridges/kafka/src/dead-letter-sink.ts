// The dead-letter side wired to the real world: the Kafka producer, the batching writer, and a log line and a
// metric per dead letter.
import { setTimeout as sleep } from "node:timers/promises";
import type { BridgeConfig } from "./config.ts";
import { DeadLetterWriter, deadLetterOf } from "./dead-letters.ts";
import { type KafkaRecord, openDeadLetterProducer } from "./kafka-clients.ts";
import type { Logger } from "./log.ts";
import type { Rejection } from "./message.ts";
import type { Metrics } from "./metrics.ts";

export interface DeadLetterSink {
  /** Resolves once the broker has the dead letter; rejects only when `signal` aborted (shutdown). */
  write(record: KafkaRecord, rejection: Rejection, tenantId: string | null): Promise<void>;
  close(): Promise<void>;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function deadLetterSink(opts: {
  config: BridgeConfig;
  log: Logger;
  metrics: Metrics;
  signal: AbortSignal;
}): DeadLetterSink {
  const { config, log, metrics } = opts;
  const producer = openDeadLetterProducer(config);
  const writer = new DeadLetterWriter(
    config.KAFKA_DLQ_TOPIC,
    {
      send: producer.send,
      sleep: (ms, signal) => sleep(ms, undefined, { signal }),
      failed: (error, attempt, delayMs) =>
        log({
          level: "warn",
          op: "bridge_dead_letter_retry",
          error_code: "DLQ_WRITE_FAILED",
          message: errorText(error),
          attempt,
          retry_in_ms: delayMs,
        }),
    },
    { baseMs: config.BRIDGE_BACKOFF_BASE_MS, maxMs: config.BRIDGE_BACKOFF_MAX_MS },
    opts.signal,
  );
  return {
    write(record, rejection, tenantId) {
      metrics.inc("kafka_bridge_dead_letters_total", { code: rejection.code });
      log({
        level: "warn",
        op: "bridge_dead_letter",
        tenant_id: tenantId,
        error_code: rejection.code,
        reason: rejection.reason,
        partition: record.partition,
        offset: record.offset,
      });
      return writer.write(
        deadLetterOf(
          {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            timestampMs: Number(record.timestamp),
            key: record.key,
            value: record.value,
            headers: record.headerEntries,
          },
          rejection,
          tenantId,
        ),
      );
    },
    close: () => producer.close(),
  };
}
