import { queueOperations } from "../src/finops/cost-model";
import { METRICS } from "../src/metrics/model";
import {
  type LedgerWire,
  MAX_MESSAGE_BYTES,
  packSignals,
  type SinkMessage,
  type SinkSignal,
} from "../src/queues/messages";
import { logEvent } from "../src/telemetry/log";
import { startQueueSendSpan } from "../src/telemetry/messaging";
import { parseTraceContext, type TraceContext } from "../src/telemetry/trace-context";
import { createTracer, toTraceContext } from "../src/telemetry/tracer";
import type { TenantContext, TenantPart } from "./tenant-part";
import type { TenantStore } from "./tenant-store";

/** Retry delays for a failed hand-off to the queue: 1 s, 2 s, 4 s … capped at 60 s. */
export function outboxBackoffMs(failures: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
}

/** The sink queue's name (wrangler.toml), for span names and attributes. */
const SINK_QUEUE_NAME = "coherence-sink";

/** Rows read per hand-off round (packed into ≤ 100 KB messages). */
const ROUND_ROWS = 2000;

/**
 * The object's transactional outbox to the sink queue. The signal log itself is the outbox: a cursor
 * (`sink_seq` in `meta`) marks what the queue has accepted, so a failed send loses nothing and is retried
 * from the cursor, and the store never prunes rows past it. Scores go out by version the same way.
 * At-least-once: a crash between send and cursor update resends; the consumers are idempotent.
 */
export class SinkOutbox implements TenantPart {
  private sinkSeq: number;
  private scoreVersion: number;
  /** FinOps: the newest provenance-ledger entry counted as a Postgres row (`sink_ledger_seq` in `meta`). */
  private ledgerSeq: number;
  private busy = false;
  private again = false;
  private failures = 0;
  /** The first traced request since the last hand-off: the next hand-off's producer span continues its trace. */
  private drainTrace: TraceContext | undefined;
  /** When the next retry is due after a failure (`null` when healthy). */
  private retryAt: number | null = null;

  constructor(
    private readonly t: TenantContext,
    private readonly store: TenantStore,
    /** The sink queue, or `null` when no sink is configured (then nothing is kept for it). */
    private readonly queue: Queue | null,
    /** Called after each hand-off, sent or failed (the object reports its backlog to the directory). */
    private readonly onSettled: () => void = () => {},
  ) {
    this.sinkSeq = this.readMeta("sink_seq") ?? 0;
    this.scoreVersion = this.readMeta("sink_score_version") ?? -1;
    this.ledgerSeq = this.readMeta("sink_ledger_seq") ?? 0;
    if (queue !== null) store.keepAfter(this.sinkSeq);
    // Work left by a previous incarnation (crash, eviction mid-send) goes out now.
    if (this.pending) this.requestDrain();
  }

  /** `true` when something has not reached the queue yet. */
  get pending(): boolean {
    return (
      this.queue !== null && (this.store.newestSeq > this.sinkSeq || this.store.scoreVersion !== this.scoreVersion)
    );
  }

  /** Signals not handed to the queue yet, and when the oldest of them was accepted (epoch ms). */
  stats(): { backlog: number; oldestUnsentMs: number | null } {
    if (this.queue === null) return { backlog: 0, oldestUnsentMs: null };
    const row = this.t.sql
      .exec<{ n: number; oldest: number | null }>(
        `SELECT COUNT(*) AS n, MIN(accepted_ms) AS oldest FROM signals WHERE seq > ?`,
        this.sinkSeq,
      )
      .one();
    return { backlog: row.n, oldestUnsentMs: row.oldest };
  }

  /** A retry after a failed hand-off, for the object's alarm. */
  nextDueAt(): number | null {
    return this.retryAt;
  }

  /** The alarm: retries a failed hand-off once its backoff has passed. */
  async onAlarm(nowMs: number): Promise<void> {
    if (this.retryAt !== null && this.retryAt <= nowMs) await this.drain();
  }

  /** Hands new work to the queue within the coalescing window (batches many requests into few messages). */
  requestDrain(trace?: TraceContext): void {
    if (trace && !this.drainTrace) this.drainTrace = trace;
    // While a retry is pending, the alarm sends everything at once.
    if (this.queue === null || this.retryAt !== null) return;
    this.t.timers.at("outbox", this.t.now() + this.t.config.fanoutWindowMs, () => this.drain());
  }

  /** Sends everything past the cursors; on failure keeps the cursors and schedules a retry on the alarm. */
  async drain(): Promise<void> {
    if (this.queue === null) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const tenantId = this.t.tenantId;
    // Only a hand-off caused by a traced request is traced (a retry on the alarm starts no trace of its own).
    const parent = parseTraceContext(this.drainTrace);
    this.drainTrace = undefined;
    const tracer = createTracer(parent ? this.t.config.telemetry : null);
    const span = startQueueSendSpan(tracer, SINK_QUEUE_NAME, parent);
    const trace = toTraceContext(span);
    let sent = 0;
    try {
      do {
        this.again = false;
        for (;;) {
          const { rows, ledger } = this.rowsAfter(this.sinkSeq, ROUND_ROWS);
          if (rows.length === 0) break;
          for (const message of packSignals(tenantId, rows, MAX_MESSAGE_BYTES, trace, ledger)) {
            await this.send(message);
            sent++;
          }
          this.sinkSeq = rows[rows.length - 1]?.seq ?? this.sinkSeq;
          this.writeMeta("sink_seq", this.sinkSeq);
          this.writeMeta("sink_ledger_seq", this.ledgerSeq);
          this.store.keepAfter(this.sinkSeq);
        }
        const version = this.store.scoreVersion;
        if (version !== this.scoreVersion) {
          const view = this.store.score(this.t.now());
          await this.send({
            v: 3,
            kind: "score",
            score: {
              tenantId,
              score: view.score,
              status: view.status,
              signalCount: view.signalCount,
              updatedAtMs: Date.parse(view.updatedAt),
              version: this.store.scoreVersion,
            },
            ...(trace ? { trace } : {}),
          });
          sent++;
          this.scoreVersion = this.store.scoreVersion;
          this.writeMeta("sink_score_version", this.scoreVersion);
        }
      } while (this.again);
      this.retryAt = null;
      this.failures = 0;
    } catch (err) {
      span.recordError(err);
      this.failures++;
      this.retryAt = this.t.now() + outboxBackoffMs(this.failures);
      logEvent({
        level: "warn",
        op: "outbox",
        tenant_id: tenantId,
        error_code: "QUEUE_SEND_FAILED",
        message: err instanceof Error ? err.message : String(err),
        retry_in_ms: this.retryAt - this.t.now(),
      });
    } finally {
      this.busy = false;
      span.setAttribute("messaging.batch.message_count", sent).end();
      if (sent > 0) {
        this.t.metrics.record([{ name: METRICS.sinkSent.name, value: sent }], (send) => this.t.state.waitUntil(send));
      }
      this.onSettled();
      // The object stays alive while the export is pending; nothing waits for it.
      void tracer.flush();
    }
  }

  private async send(message: SinkMessage): Promise<void> {
    await (this.queue as Queue).send(message, { contentType: "json" });
    // FinOps: counted once the queue took it (a failed send is retried and counted then). Queues bills per 64 KB
    // of the message body, written, read and deleted; the graph's share is the signal rows' bytes.
    const bytes = new TextEncoder().encode(JSON.stringify(message)).byteLength;
    const meter = this.t.meter;
    meter.add("queue_messages", 1);
    meter.add("queue_operations", queueOperations(bytes));
    if (message.kind === "score") {
      // Postgres keeps one score row per tenant (upserted by version): a row is added by the tenant's first score.
      if (this.scoreVersion === -1) meter.add("postgres_rows", 1);
      return;
    }
    meter.add("neo4j_bytes", bytes);
    // Each provenance-ledger entry is one row kept in Postgres. An entry rides with its request's first row in
    // every message holding rows of that request, so it is counted once, by its ledger seq (monotonic per tenant).
    // Only v3 messages (what this outbox packs) carry the ledger; a v2 record holds none.
    const provenance = message.v === 3 ? message.provenance : [];
    for (const entry of provenance) {
      const wire = entry[2];
      if (wire !== undefined && wire[0] > this.ledgerSeq) {
        meter.add("postgres_rows", 1);
        this.ledgerSeq = wire[0];
      }
    }
  }

  /** Signals after `seq`, and the provenance-ledger entries of their requests (they ride with the signals). */
  private rowsAfter(seq: number, limit: number): { rows: SinkSignal[]; ledger: Map<string, LedgerWire> } {
    const found = this.t.sql
      .exec<{
        seq: number;
        signal_id: string;
        type: string;
        source: string;
        value: number;
        weight: number;
        ts_ms: number;
        accepted_ms: number;
        provenance_id: string;
        tags: string | null;
        l_seq: number | null;
        l_request_sha256: string | null;
        l_signal_count: number | null;
        l_received_ms: number | null;
        l_prev_hash: string | null;
        l_hash: string | null;
      }>(
        `SELECT s.seq, s.signal_id, s.type, s.source, s.value, s.weight, s.ts_ms, s.accepted_ms, s.provenance_id, p.tags,
                l.seq AS l_seq, l.request_sha256 AS l_request_sha256, l.signal_count AS l_signal_count,
                l.received_ms AS l_received_ms, l.prev_hash AS l_prev_hash, l.hash AS l_hash
         FROM signals s LEFT JOIN provenance p ON p.provenance_id = s.provenance_id
         LEFT JOIN ledger l ON l.provenance_id = s.provenance_id
         WHERE s.seq > ? ORDER BY s.seq LIMIT ?`,
        seq,
        limit,
      )
      .toArray();
    const ledger = new Map<string, LedgerWire>();
    for (const r of found) {
      if (r.l_seq === null || ledger.has(r.provenance_id)) continue;
      ledger.set(r.provenance_id, [
        r.l_seq,
        r.l_request_sha256 as string,
        r.l_signal_count as number,
        r.l_received_ms as number,
        r.l_prev_hash as string,
        r.l_hash as string,
      ]);
    }
    const rows = found.map((r) => ({
      seq: r.seq,
      signalId: r.signal_id,
      type: r.type,
      source: r.source,
      value: r.value,
      weight: r.weight,
      tsMs: r.ts_ms,
      acceptedMs: r.accepted_ms,
      provenanceId: r.provenance_id,
      // Provenance rows outlive signals by a day; past that (a long outage) the deployment's tags apply.
      tags: r.tags ? (JSON.parse(r.tags) as Record<string, string>) : { ...this.t.config.policyTags },
    }));
    return { rows, ledger };
  }

  private readMeta(key: string): number | null {
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0];
    return row ? Number(row.value) : null;
  }

  private writeMeta(key: string, value: number): void {
    this.t.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      key,
      String(value),
    );
  }
}
