// The bridge: reads `coherence.signals.v1`, publishes each record's signal through @coherence/client (which batches
// per tenant and retries), dead-letters what can never be accepted, and commits each partition only up to the records
// it has settled (at-least-once; the service's dedupe key makes a redelivery count once). Work in flight is bounded:
// past BRIDGE_MAX_IN_FLIGHT records fetching pauses.
import { setTimeout as sleep } from "node:timers/promises";
import type { CoherenceClient, Signal } from "@coherence/client";
import { backoffDelay } from "./backoff.ts";
import { CommitTracker } from "./commits.ts";
import type { BridgeConfig } from "./config.ts";
import { type DeadLetterSink, deadLetterSink } from "./dead-letter-sink.ts";
import { ingestClient, judgeFailure } from "./ingest-port.ts";
import { type ConsumerSession, type KafkaRecord, openConsumer, partitionLag, prepareTopics } from "./kafka-clients.ts";
import type { Logger } from "./log.ts";
import { decodeRecord, type Rejection } from "./message.ts";
import type { Metrics } from "./metrics.ts";

interface Item {
  record: KafkaRecord;
  tenantId: string;
  json: string;
  /** Publishes so far that failed in a way worth trying again later (a backoff step each). */
  failures: number;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class KafkaBridge {
  readonly #config: BridgeConfig;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #abort = new AbortController();
  readonly #commits = new CommitTracker();
  readonly #deadLetters: DeadLetterSink;
  readonly #client: CoherenceClient;
  #session: ConsumerSession | null = null;
  #inFlight = 0;
  #paused = false;
  #stopping: Promise<void> | null = null;
  #restarting = false;
  /** Records waiting to be published again, by their timer. */
  readonly #later = new Map<NodeJS.Timeout, Item>();
  #timers: NodeJS.Timeout[] = [];
  #idle: Array<() => void> = [];

  constructor(config: BridgeConfig, log: Logger, metrics: Metrics) {
    this.#config = config;
    this.#log = log;
    this.#metrics = metrics;
    this.#deadLetters = deadLetterSink({ config, log, metrics, signal: this.#abort.signal });
    this.#client = ingestClient(config, log, metrics);
  }

  /** True once the consumer has joined and until shutdown starts (for /readyz). */
  get ready(): boolean {
    return this.#session !== null && this.#stopping === null && !this.#restarting;
  }

  /** Prepares the dead-letter topic, joins the group and starts reading. Throws when Kafka cannot be reached. */
  async start(): Promise<void> {
    const prepared = await prepareTopics(this.#config);
    if (prepared.error) {
      this.#log({
        level: "warn",
        op: "bridge_start",
        error_code: "DLQ_TOPIC",
        message: `could not create ${this.#config.KAFKA_DLQ_TOPIC}: ${prepared.error}`,
      });
    }
    await this.#open();
    this.#timers.push(setInterval(() => void this.#commit(), this.#config.BRIDGE_COMMIT_INTERVAL_MS));
    if (this.#config.BRIDGE_LAG_INTERVAL_MS > 0) {
      this.#timers.push(setInterval(() => void this.#sampleLag(), this.#config.BRIDGE_LAG_INTERVAL_MS));
    }
    this.#log({
      op: "bridge_start",
      topic: this.#config.KAFKA_TOPIC,
      group_id: this.#config.KAFKA_GROUP_ID,
      dlq_topic: this.#config.KAFKA_DLQ_TOPIC,
      dlq_topic_created: prepared.created,
      ingest_url: this.#config.INGEST_URL,
    });
  }

  async #open(): Promise<void> {
    const session = await openConsumer(this.#config, {
      onJoin: (join) => {
        this.#metrics.inc("kafka_bridge_rebalances_total");
        this.#log({
          op: "bridge_rebalance",
          generation_id: join.generationId ?? null,
          partitions: join.assignments?.flatMap((a) => a.partitions) ?? null,
        });
        // The client resumes its streams after a rebalance; keep the backpressure pause in force.
        if (this.#inFlight >= this.#config.BRIDGE_MAX_IN_FLIGHT) this.#pause();
      },
      onHeartbeatError: (error) =>
        this.#log({ level: "warn", op: "bridge_consumer", error_code: "HEARTBEAT_FAILED", message: errorText(error) }),
    });
    this.#session = session;
    session.stream.on("data", (record: KafkaRecord) => this.#onRecord(record));
    session.stream.on("error", (err) => {
      this.#log({ level: "error", op: "bridge_consumer", error_code: "CONSUMER_ERROR", message: errorText(err) });
    });
    session.stream.on("close", () => {
      if (this.#stopping === null && this.#session === session) void this.#reopen();
    });
    if (this.#paused) session.stream.pause();
  }

  /** The stream died (a failed commit that requires a rejoin, a lost broker …): start over from committed offsets. */
  async #reopen(): Promise<void> {
    if (this.#restarting) return;
    this.#restarting = true;
    const old = this.#session;
    this.#session = null;
    this.#commits.clear();
    await old?.consumer.close(true).catch(() => undefined);
    for (let attempt = 0; this.#stopping === null; attempt++) {
      await sleep(Math.min(this.#config.BRIDGE_BACKOFF_MAX_MS, this.#config.BRIDGE_BACKOFF_BASE_MS * 2 ** attempt));
      if (this.#stopping !== null) break;
      try {
        await this.#open();
        this.#log({ level: "warn", op: "bridge_consumer", message: "consumer reopened", attempt });
        break;
      } catch (err) {
        this.#log({ level: "error", op: "bridge_consumer", error_code: "CONSUMER_OPEN", message: errorText(err) });
      }
    }
    this.#restarting = false;
  }

  #onRecord(record: KafkaRecord): void {
    // Read after shutdown began: never tracked, never committed, so Kafka delivers it again after the restart.
    if (this.#stopping !== null) return;
    this.#metrics.inc("kafka_bridge_messages_received_total");
    this.#inFlight++;
    this.#metrics.set("kafka_bridge_inflight_messages", {}, this.#inFlight);
    if (this.#inFlight >= this.#config.BRIDGE_MAX_IN_FLIGHT) this.#pause();
    this.#commits.track(record);
    const decoded = decodeRecord(record.value, {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestampMs: Number(record.timestamp),
    });
    if (!decoded.ok) {
      this.#deadLetter(record, decoded, decoded.tenantId);
      return;
    }
    this.#publish({ record, tenantId: decoded.tenantId, json: decoded.json, failures: 0 });
  }

  /**
   * Hands the record's signal to the client; settles the record when the service has it (or it is dead-lettered).
   * The client retries transient failures itself; a failure it gives up on that is not the signal's fault is tried
   * again here after a backoff, so nothing is dead-lettered because the service (or its auth) was away.
   */
  #publish(item: Item): void {
    // The record's JSON as decoded (message.ts): forwarded untouched, the service judges it.
    const signal = JSON.parse(item.json) as Signal;
    this.#client.publish(signal).then(
      (result) => {
        this.#metrics.inc("kafka_bridge_signals_forwarded_total", { status: result.status });
        this.#settle(item.record, true);
      },
      (err: unknown) => {
        const verdict = judgeFailure(err);
        if (verdict.kind === "dead-letter") return this.#deadLetter(item.record, verdict.rejection, item.tenantId);
        if (verdict.kind === "abandoned" || this.#abort.signal.aborted) return this.#settle(item.record, false);
        const delay = backoffDelay(item.failures++, {
          baseMs: this.#config.BRIDGE_BACKOFF_BASE_MS,
          maxMs: this.#config.BRIDGE_BACKOFF_MAX_MS,
        });
        this.#log({
          level: "warn",
          op: "bridge_ingest",
          tenant_id: item.tenantId,
          error_code: verdict.code,
          retry_in_ms: delay,
        });
        const timer = setTimeout(() => {
          this.#later.delete(timer);
          this.#publish(item);
        }, delay);
        this.#later.set(timer, item);
      },
    );
  }

  /** A record is done with: `done` when acknowledged or dead-lettered (its offset may be committed). */
  #settle(record: KafkaRecord, done: boolean): void {
    if (done) this.#commits.settled(record);
    this.#inFlight--;
    this.#metrics.set("kafka_bridge_inflight_messages", {}, this.#inFlight);
    if (this.#paused && this.#stopping === null && this.#inFlight <= this.#config.BRIDGE_MAX_IN_FLIGHT / 2) {
      this.#resume();
    }
    if (this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  #deadLetter(record: KafkaRecord, rejection: Rejection, tenantId: string | null): void {
    this.#deadLetters.write(record, rejection, tenantId).then(
      () => this.#settle(record, true),
      () => this.#settle(record, false),
    );
  }

  /**
   * Stops fetching. Checked against the stream itself, not only our flag: the client resumes its streams after a
   * rebalance, and the bound must hold then too.
   */
  #pause(): void {
    const stream = this.#session?.stream;
    if (this.#paused && (!stream || stream.isPaused())) return;
    stream?.pause();
    if (this.#paused) return;
    this.#paused = true;
    this.#metrics.set("kafka_bridge_paused", {}, 1);
    this.#metrics.inc("kafka_bridge_pauses_total");
    this.#log({ level: "warn", op: "bridge_pause", in_flight: this.#inFlight });
  }

  #resume(): void {
    this.#paused = false;
    this.#session?.stream.resume();
    this.#metrics.set("kafka_bridge_paused", {}, 0);
    this.#log({ op: "bridge_resume", in_flight: this.#inFlight });
  }

  /** Commits, per partition, the offset after the settled prefix (only when it moved). */
  async #commit(): Promise<void> {
    for (const { partition, offset, error } of await this.#commits.commit()) {
      if (error === null) {
        this.#metrics.inc("kafka_bridge_commits_total", { result: "ok" });
        this.#metrics.set("kafka_bridge_committed_offset", { partition: String(partition) }, Number(offset));
      } else {
        this.#metrics.inc("kafka_bridge_commits_total", { result: "error" });
        this.#log({
          level: "warn",
          op: "bridge_commit",
          error_code: "COMMIT_FAILED",
          partition,
          offset,
          message: errorText(error),
        });
      }
    }
  }

  async #sampleLag(): Promise<void> {
    const session = this.#session;
    if (!session?.consumer.isActive()) return;
    try {
      const lags = await partitionLag(session, this.#config.KAFKA_TOPIC);
      this.#metrics.clear("kafka_bridge_consumer_lag");
      for (const [partition, lag] of lags) {
        this.#metrics.set("kafka_bridge_consumer_lag", { partition: String(partition) }, lag);
      }
    } catch {
      // A rebalance or a broker hiccup; the next sample will do.
    }
  }

  /**
   * Graceful shutdown: stop reading, send what was read, wait for it (at most BRIDGE_SHUTDOWN_TIMEOUT_MS, then give
   * up on what is still retrying), commit every settled offset, leave the group, close the clients.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  /** Shutdown ran out of time: what is not settled now is not committed, and Kafka delivers it again. */
  #giveUp(): void {
    this.#abort.abort(new Error("shutdown timeout"));
    this.#client.abort();
    for (const [timer, item] of this.#later) {
      clearTimeout(timer);
      this.#settle(item.record, false);
    }
    this.#later.clear();
  }

  async #shutdown(): Promise<void> {
    const started = performance.now();
    this.#session?.stream.pause();
    this.#log({ op: "bridge_stop", phase: "draining", in_flight: this.#inFlight });
    if (this.#inFlight > 0) {
      const drained = new Promise<void>((ok) => this.#idle.push(ok));
      // Send what is queued now rather than after the linger time.
      void this.#client.flush();
      const timer = setTimeout(() => this.#giveUp(), this.#config.BRIDGE_SHUTDOWN_TIMEOUT_MS);
      await drained;
      clearTimeout(timer);
    }
    await this.#client.close();
    for (const t of this.#timers) clearInterval(t);
    await this.#commit();
    const session = this.#session;
    this.#session = null;
    await session?.stream.close().catch(() => undefined);
    await session?.consumer.close().catch(() => undefined);
    await this.#deadLetters.close().catch(() => undefined);
    this.#log({
      op: "bridge_stop",
      phase: "stopped",
      latency_ms: Math.round(performance.now() - started),
      aborted: this.#abort.signal.aborted,
      received: this.#metrics.value("kafka_bridge_messages_received_total"),
    });
  }
}
