// The Kafka side, through @platformatic/kafka (pure JavaScript, no native addon or downloaded binary): the group
// consumer and its stream, the dead-letter producer, and the admin calls the bridge makes at start-up.
import {
  Admin,
  Consumer,
  type ConsumerGroupJoinPayload,
  type Message,
  type MessagesStream,
  ProduceAcks,
  Producer,
  stringSerializer,
} from "@platformatic/kafka";
import type { BridgeConfig } from "./config.ts";
import type { DeadLetter } from "./dead-letters.ts";

/** A record as the bridge reads it: key, value and headers stay bytes (the value is decoded by message.ts). */
export type KafkaRecord = Message<Buffer, Buffer, Buffer, Buffer>;
export type RecordStream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;

export interface ConsumerSession {
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  stream: RecordStream;
}

/**
 * Joins the group and opens the stream from the group's committed offsets (the earliest offset for partitions that
 * have none: a new group reads the topic from its start rather than skipping what was produced before it existed).
 * Commits are manual: only offsets the bridge has settled are ever committed.
 */
export async function openConsumer(
  config: BridgeConfig,
  events: { onJoin: (join: ConsumerGroupJoinPayload) => void; onHeartbeatError: (error: Error) => void },
): Promise<ConsumerSession> {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: config.KAFKA_CLIENT_ID,
    bootstrapBrokers: config.KAFKA_BROKERS,
    groupId: config.KAFKA_GROUP_ID,
    ...(config.KAFKA_GROUP_INSTANCE_ID ? { groupInstanceId: config.KAFKA_GROUP_INSTANCE_ID } : {}),
    sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.min(3000, Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 3)),
    rebalanceTimeout: Math.max(config.KAFKA_SESSION_TIMEOUT_MS, 30_000),
    autocommit: false,
    // Bounds what one fetch adds to memory beyond the stream's buffer (highWaterMark records).
    maxBytes: 4 * 1024 * 1024,
    maxBytesPerPartition: 1024 * 1024,
    maxWaitTime: 500,
    highWaterMark: 1024,
  });
  consumer.on("consumer:group:join", events.onJoin);
  // A failed heartbeat is what usually precedes a rejoin (and so a re-fetch from the committed offsets).
  consumer.on("consumer:heartbeat:error", (payload) => events.onHeartbeatError(payload.error));
  try {
    const stream = await consumer.consume({
      topics: [config.KAFKA_TOPIC],
      mode: "committed",
      fallbackMode: "earliest",
      autocommit: false,
    });
    return { consumer, stream };
  } catch (err) {
    await consumer.close(true).catch(() => undefined);
    throw err;
  }
}

/** The consumer generation a record was fetched in (records fetched before a rejoin carry the old one). */
export function generationOf(record: KafkaRecord): number {
  const consumer = record.metadata.consumer;
  if (consumer && typeof consumer === "object" && "generationId" in consumer) {
    const id = (consumer as { generationId: unknown }).generationId;
    if (typeof id === "number") return id;
  }
  return 0;
}

/** Commits `record.offset + 1` through the stream (which merges concurrent commits of a partition). */
export function commitAfter(record: KafkaRecord): Promise<void> {
  return new Promise((ok, fail) => {
    record.commit((error) => (error ? fail(error) : ok()));
  });
}

/** The dead-letter producer: acks from all in-sync replicas before a record counts as written. */
export function openDeadLetterProducer(config: BridgeConfig): {
  send: (topic: string, letters: DeadLetter[]) => Promise<void>;
  close: () => Promise<void>;
} {
  const producer = new Producer<Buffer, Buffer, string, Buffer>({
    clientId: `${config.KAFKA_CLIENT_ID}-dlq`,
    bootstrapBrokers: config.KAFKA_BROKERS,
    acks: ProduceAcks.ALL,
    serializers: { headerKey: stringSerializer },
  });
  return {
    send: async (topic, letters) => {
      await producer.send({
        messages: letters.map((l) => ({ topic, key: l.key, value: l.value, headers: l.headers })),
      });
    },
    close: () => producer.close(),
  };
}

/**
 * Creates the dead-letter topic when it is missing (broker defaults for partitions and replicas). A broker that
 * refuses the creation (ACLs, or an operator who creates topics by hand) is not fatal: dead-letter writes retry.
 */
export async function prepareTopics(config: BridgeConfig): Promise<{ created: boolean; error: string | null }> {
  const admin = new Admin({ clientId: `${config.KAFKA_CLIENT_ID}-admin`, bootstrapBrokers: config.KAFKA_BROKERS });
  try {
    const topics = new Set(await admin.listTopics());
    if (topics.has(config.KAFKA_DLQ_TOPIC)) return { created: false, error: null };
    try {
      await admin.createTopics({ topics: [config.KAFKA_DLQ_TOPIC] });
      return { created: true, error: null };
    } catch (err) {
      return { created: false, error: err instanceof Error ? err.message : String(err) };
    }
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Per-partition lag (end offset − committed offset) of this consumer's assigned partitions. */
export async function partitionLag(session: ConsumerSession, topic: string): Promise<Map<number, number>> {
  const lags = await session.consumer.getLag({ topics: [topic] });
  const out = new Map<number, number>();
  (lags.get(topic) ?? []).forEach((lag, partition) => {
    if (lag >= 0n) out.set(partition, Number(lag));
  });
  return out;
}
