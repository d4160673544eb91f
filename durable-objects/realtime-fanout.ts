import { toIso } from "../src/domain/time";
import type { PersistedRegistry } from "../src/graphql/persisted";
import { METRICS } from "../src/metrics/model";
import {
  ACK_GRACE_MS,
  eventsToSend,
  flushDelay,
  MAX_UNACKED_EVENTS,
  PAGE_EVENTS,
  recordPing,
  recordSent,
  shouldPing,
  tooFarBehind,
  unacked,
} from "../src/realtime/coalesce";
import { encodeCursor } from "../src/realtime/cursor";
import { Close } from "../src/realtime/protocol";
import { realtimeSchema } from "../src/realtime/schema";
import { renderEvent } from "../src/realtime/subscriptions";
import { logEvent } from "../src/telemetry/log";
import {
  BREAKDOWN,
  EVENTS,
  SCORE,
  type SocketRecord,
  type SocketTable,
  type SubRecord,
  safeSend,
} from "./socket-table";
import type { TenantContext } from "./tenant-part";
import type { EventRow, TenantStore } from "./tenant-store";

/** The scheduler key of the fan-out flush (coalesced flushes and flow-control re-checks share it). */
const FLUSH = "fanout";

/**
 * Fan-out of accepted signals and score changes to the tenant's subscribers, in coalesced flushes that read
 * from the object's replay log (so replay and live delivery are one path: each subscription advances its own
 * `lastSeq`, and nothing is sent twice or skipped), within each socket's flow-control budget.
 */
export class Fanout {
  private lastFlushMs: number | null = null;

  constructor(
    private readonly t: TenantContext,
    private readonly store: TenantStore,
    private readonly sockets: SocketTable,
    private readonly registry: PersistedRegistry,
  ) {}

  /** New signals or a score change: flush within the coalescing window. */
  request(): void {
    const now = this.t.now();
    this.t.timers.at(FLUSH, now + flushDelay(now, this.lastFlushMs, this.t.config.fanoutWindowMs), this.flushAll);
  }

  /** Events and score changes a socket's subscriptions have not been sent yet. */
  backlogOf(rec: SocketRecord): number {
    let backlog = 0;
    for (const sub of Object.values(rec.s)) {
      if (sub.k === EVENTS) backlog += Math.max(0, this.store.newestSeq - sub.q);
      else if (sub.q !== this.store.scoreVersion) backlog++;
    }
    return backlog;
  }

  /** Sends every subscription what it has not seen yet, within each socket's flow-control budget. */
  flush(): void {
    this.lastFlushMs = this.t.now();
    const round = newRound();
    for (const ws of this.sockets.all()) this.flushSocket(ws, round);
    this.report(round);
  }

  /** Brings one socket up to date outside a full flush (new subscription, acknowledged page). */
  flushOne(ws: WebSocket): void {
    const round = newRound();
    this.flushSocket(ws, round);
    this.report(round);
  }

  /** The scheduled flush: a failure is logged, and the next change or re-check tries again. */
  private readonly flushAll = (): void => {
    try {
      this.flush();
    } catch (err) {
      logEvent({
        level: "error",
        op: "fanout",
        tenant_id: this.t.tenantId,
        error_code: "FANOUT_FAILED",
        message: String(err),
      });
    }
  };

  /** Sends a round's fan-out latencies to the metrics aggregator (batched; identical samples travel as one). */
  private report(round: FlushRound): void {
    if (round.latencies.size === 0) return;
    this.t.metrics.record(
      [...round.latencies].map(([value, count]) => ({ name: METRICS.fanoutLatency.name, value, count })),
      (send) => this.t.state.waitUntil(send),
    );
  }

  /** Brings one socket's subscriptions up to date; `round` shares pages and rendered payloads across sockets. */
  private flushSocket(ws: WebSocket, round: FlushRound): void {
    const rec = this.sockets.get(ws);
    if (rec?.p !== "ready") return;
    const sentAt = this.t.now();
    let sentEvents = 0;
    let changed = false;
    for (const [id, sub] of Object.entries(rec.s)) {
      if (sub.k === SCORE || sub.k === BREAKDOWN) {
        // Both follow the score's version: a breakdown changes exactly when the sums do.
        if (sub.q === this.store.scoreVersion) continue;
        let view: unknown;
        if (sub.k === SCORE) {
          round.score ??= this.store.score(this.t.now());
          view = round.score;
        } else {
          round.breakdown ??= this.store.breakdown(this.t.now());
          view = round.breakdown;
        }
        this.sendNext(ws, id, sub, round, sub.k === SCORE ? "score" : "breakdown", () => view);
        sub.q = this.store.scoreVersion;
        changed = true;
        continue;
      }
      const backlog = this.store.newestSeq - sub.q;
      if (backlog <= 0) continue;
      let budget = eventsToSend(backlog, rec.f);
      if (budget === 0) continue;
      let rows = round.pages.get(sub.q);
      if (!rows) {
        rows = this.store.eventsAfter(sub.q, PAGE_EVENTS);
        round.pages.set(sub.q, rows);
      }
      for (const row of rows) {
        if (budget-- <= 0) break;
        this.sendNext(ws, id, sub, round, String(row.seq), () => eventView(row));
        sub.q = row.seq;
        sentEvents++;
        // Live fan-out latency: events accepted after the socket connected (replays of older ones are not).
        if (row.accepted_ms >= rec.c) {
          const ms = Math.max(0, sentAt - row.accepted_ms);
          round.latencies.set(ms, (round.latencies.get(ms) ?? 0) + 1);
        }
      }
      // Everything after sub.q was pruned (a long-hibernated subscriber): never stall on the gap.
      if (rows.length === 0) sub.q = this.store.newestSeq;
      changed = true;
    }
    const now = this.t.now();
    const backlog = this.backlogOf(rec);
    if (sentEvents > 0) rec.f = recordSent(rec.f, sentEvents);
    if (shouldPing(rec.f, backlog)) {
      rec.f = recordPing(rec.f, now);
      safeSend(ws, JSON.stringify({ type: "ping", payload: { n: rec.f.sent } }), this.t.meter);
      changed = true;
    }
    if (tooFarBehind(rec.f, backlog, now)) {
      this.sockets.close(ws, Close.TryAgainLater, "too far behind; resubscribe with after");
      return;
    }
    // Owing more than the limit but still within the grace: look again when it runs out, traffic or not.
    if (rec.f.since !== null && unacked(rec.f) + backlog > MAX_UNACKED_EVENTS) {
      this.t.timers.at(FLUSH, rec.f.since + ACK_GRACE_MS, this.flushAll);
    }
    if (changed) this.sockets.save(ws, rec);
  }

  private sendNext(
    ws: WebSocket,
    id: string,
    sub: SubRecord,
    round: FlushRound,
    eventKey: string,
    value: () => unknown,
  ): void {
    const text = this.registry.byKey.get(sub.o);
    if (text === undefined) return;
    // Payloads depend only on the operation and the event, so each is rendered once per flush.
    const cacheKey = `${sub.o}#${eventKey}`;
    let payload = round.payloads.get(cacheKey);
    if (payload === undefined) {
      const kind = SUBSCRIPTION_FIELD[sub.k];
      // Registered subscriptions select the same fields whatever their variables; the tenant is the object's.
      const variables = { tenantId: this.t.tenantId };
      payload = JSON.stringify(renderEvent(realtimeSchema(), { kind, text, variables }, value()));
      round.payloads.set(cacheKey, payload);
    }
    safeSend(ws, `{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`, this.t.meter);
  }
}

/** The subscription field of each kind of {@link SubRecord}. */
const SUBSCRIPTION_FIELD = {
  [EVENTS]: "coherenceEvents",
  [SCORE]: "tenantCoherenceUpdates",
  [BREAKDOWN]: "tenantCoherenceBreakdownUpdates",
} as const;

/** Caches shared by all sockets within one flush. */
interface FlushRound {
  pages: Map<number, EventRow[]>;
  payloads: Map<string, string>;
  score: ReturnType<TenantStore["score"]> | null;
  breakdown: ReturnType<TenantStore["breakdown"]> | null;
  /** Live fan-out latencies of this round: ms → frames. */
  latencies: Map<number, number>;
}

function newRound(): FlushRound {
  return { pages: new Map(), payloads: new Map(), score: null, breakdown: null, latencies: new Map() };
}

function eventView(row: EventRow) {
  return {
    id: row.signal_id,
    type: row.type,
    value: row.value,
    weight: row.weight,
    source: row.source,
    ts: toIso(row.ts_ms),
    cursor: encodeCursor(row.seq),
  };
}
