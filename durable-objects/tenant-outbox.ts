import type { PolicyTags } from "../src/domain/provenance";
import { MAX_MESSAGE_BYTES, packSignals, type SinkMessage, type SinkSignal } from "../src/queues/messages";
import { logEvent } from "../src/telemetry/log";
import { startQueueSendSpan } from "../src/telemetry/messaging";
import type { TelemetrySettings } from "../src/telemetry/settings";
import { parseTraceContext, type TraceContext } from "../src/telemetry/trace-context";
import { createTracer, toTraceContext } from "../src/telemetry/tracer";
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
export class SinkOutbox {
  private sinkSeq: number;
  private scoreVersion: number;
  private busy = false;
  private again = false;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The first traced request since the last hand-off: the next hand-off's producer span continues its trace. */
  private drainTrace: TraceContext | undefined;
  /** When the next retry is due after a failure (`null` when healthy), for the object's alarm. */
  retryAt: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly store: TenantStore,
    private readonly queue: Queue | null,
    private readonly defaultTags: PolicyTags,
    private readonly clock: () => number,
    private readonly windowMs: number,
    private readonly onRetryChanged: () => void,
    private readonly telemetry: TelemetrySettings | null = null,
  ) {
    this.sinkSeq = this.readMeta("sink_seq") ?? 0;
    this.scoreVersion = this.readMeta("sink_score_version") ?? -1;
  }

  /** Seq through which the store may prune: everything the queue has accepted (everything, if sinks are off). */
  prunableThroughSeq(): number {
    return this.queue === null ? Number.MAX_SAFE_INTEGER : this.sinkSeq;
  }

  /** `true` when something has not reached the queue yet. */
  get pending(): boolean {
    return (
      this.queue !== null && (this.store.newestSeq > this.sinkSeq || this.store.scoreVersion !== this.scoreVersion)
    );
  }

  /** Hands new work to the queue within the coalescing window (batches many requests into few messages). */
  requestDrain(trace?: TraceContext): void {
    if (trace && !this.drainTrace) this.drainTrace = trace;
    if (this.queue === null || this.timer !== null || this.retryAt !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, this.windowMs);
  }

  /** Sends everything past the cursors; on failure keeps the cursors and schedules a retry on the alarm. */
  async drain(): Promise<void> {
    if (this.queue === null) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const tenantId = this.store.tenantId;
    // Only a hand-off caused by a traced request is traced (a retry on the alarm starts no trace of its own).
    const parent = parseTraceContext(this.drainTrace);
    this.drainTrace = undefined;
    const tracer = createTracer(parent ? this.telemetry : null);
    const span = startQueueSendSpan(tracer, SINK_QUEUE_NAME, parent);
    const trace = toTraceContext(span);
    let sent = 0;
    try {
      do {
        this.again = false;
        for (;;) {
          const rows = this.rowsAfter(this.sinkSeq, ROUND_ROWS);
          if (rows.length === 0 || tenantId === null) break;
          for (const message of packSignals(tenantId, rows, MAX_MESSAGE_BYTES, trace)) {
            await this.send(message);
            sent++;
          }
          this.sinkSeq = rows[rows.length - 1]?.seq ?? this.sinkSeq;
          this.writeMeta("sink_seq", this.sinkSeq);
        }
        const version = this.store.scoreVersion;
        if (version !== this.scoreVersion && tenantId !== null) {
          const view = this.store.score(tenantId, this.clock());
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
      if (this.retryAt !== null) {
        this.retryAt = null;
        this.failures = 0;
        this.onRetryChanged();
      }
    } catch (err) {
      span.recordError(err);
      this.failures++;
      this.retryAt = this.clock() + outboxBackoffMs(this.failures);
      logEvent({
        level: "warn",
        op: "outbox",
        tenant_id: tenantId,
        error_code: "QUEUE_SEND_FAILED",
        message: err instanceof Error ? err.message : String(err),
        retry_in_ms: this.retryAt - this.clock(),
      });
      this.onRetryChanged();
    } finally {
      this.busy = false;
      span.setAttribute("messaging.batch.message_count", sent).end();
      // The object stays alive while the export is pending; nothing waits for it.
      void tracer.flush();
    }
  }

  private async send(message: SinkMessage): Promise<void> {
    await (this.queue as Queue).send(message, { contentType: "json" });
  }

  private rowsAfter(seq: number, limit: number): SinkSignal[] {
    const rows = this.sql
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
      }>(
        `SELECT s.seq, s.signal_id, s.type, s.source, s.value, s.weight, s.ts_ms, s.accepted_ms, s.provenance_id, p.tags
         FROM signals s LEFT JOIN provenance p ON p.provenance_id = s.provenance_id
         WHERE s.seq > ? ORDER BY s.seq LIMIT ?`,
        seq,
        limit,
      )
      .toArray();
    return rows.map((r) => ({
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
      tags: r.tags ? (JSON.parse(r.tags) as Record<string, string>) : { ...this.defaultTags },
    }));
  }

  private readMeta(key: string): number | null {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0];
    return row ? Number(row.value) : null;
  }

  private writeMeta(key: string, value: number): void {
    this.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      key,
      String(value),
    );
  }
}
