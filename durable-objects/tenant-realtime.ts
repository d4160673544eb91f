import { decodeJwt } from "jose";
import { authorize } from "../src/auth/authz";
import { bearerToken, CLOCK_TOLERANCE_S, TokenError, verifyToken } from "../src/auth/jwt";
import type { Principal } from "../src/auth/principal";
import { loadConfig } from "../src/config";
import { toIso } from "../src/domain/time";
import type { PersistedRegistry } from "../src/graphql/persisted";
import { MetricsBuffer } from "../src/metrics/collect";
import { METRICS } from "../src/metrics/model";
import {
  ACK_GRACE_MS,
  acknowledge,
  eventsToSend,
  type FlowState,
  flushDelay,
  MAX_UNACKED_EVENTS,
  PAGE_EVENTS,
  recordPing,
  recordSent,
  shouldPing,
  tooFarBehind,
  unacked,
} from "../src/realtime/coalesce";
import { checkCursor, encodeCursor } from "../src/realtime/cursor";
import {
  type Action,
  type AuthResult,
  Close,
  type ConnectionState,
  errorFrame,
  GRAPHQL_TRANSPORT_WS,
  onAuthenticated,
  onFrame,
  type Phase,
  type SubscribePayload,
} from "../src/realtime/protocol";
import { realtimeSchema } from "../src/realtime/schema";
import { renderEvent, resolveSubscription } from "../src/realtime/subscriptions";
import { logEvent } from "../src/telemetry/log";
import type { EventRow, TenantStore } from "./tenant-store";

/** A connection that has not completed `connection_init` by then is closed with 4408 (contract: within 11 s). */
export const INIT_TIMEOUT_MS = 10_000;

const EVENTS = 0;
const SCORE = 1;

/** One subscription in a socket's attachment: kind, operation name, last seq (events) or score version sent. */
interface SubRecord {
  k: typeof EVENTS | typeof SCORE;
  o: string;
  q: number;
}

/** Per-socket state, kept in the hibernation attachment (a few hundred bytes at most: ids are capped). */
interface SocketRecord {
  t: string;
  c: number;
  p: Phase;
  s: Record<string, SubRecord>;
  f: FlowState;
  /** Scopes of the token that authenticated the socket (the policy judges every subscribe with them). */
  a?: string[];
  /** When that token stops being valid (its `exp` plus the verifier's leeway), epoch ms: the socket closes then. */
  x?: number;
}

/**
 * graphql-ws over the hibernation API inside a tenant's object: accepts sockets, runs the pure protocol
 * machine per frame, authenticates `connection_init`, and fans accepted signals and score changes out in
 * coalesced flushes that read from the object's replay log (so replay and live delivery are one path:
 * each subscription advances its own `lastSeq`, and nothing is sent twice or skipped).
 */
export class RealtimeHub {
  private readonly sockets = new Map<WebSocket, SocketRecord>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFlushMs: number | null = null;

  /** This object's own metric buffer (never the Worker isolate's: see MetricsBuffer). */
  private metrics: MetricsBuffer | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly store: TenantStore,
    private readonly registry: PersistedRegistry,
    private readonly clock: () => number,
    private readonly windowMs: number,
    /** Called when init deadlines change, so the object re-arms its single alarm. */
    private readonly onDeadlinesChanged: () => void,
    /** Called once per `subscribe` message answered (FinOps counts them). */
    private readonly onSubscribe: (tenantId: string, rejected: boolean) => void = () => {},
  ) {
    // Woken from hibernation or eviction: pick up subscriptions that missed a flush while asleep.
    let behind = false;
    for (const ws of ctx.getWebSockets()) {
      const rec = this.record(ws);
      if (rec && this.backlogOf(rec) > 0) behind = true;
    }
    if (behind) this.requestFlush();
  }

  /** Accepts a WebSocket upgrade for `tenantId` (the Worker has checked the route and the flag). */
  accept(tenantId: string, request: Request): Response {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(GRAPHQL_TRANSPORT_WS)) {
      return jsonError(400, "UNSUPPORTED_SUBPROTOCOL", `use the ${GRAPHQL_TRANSPORT_WS} subprotocol`);
    }
    // Sockets one tenant's object accepts at once (WS_MAX_SOCKETS_PER_TENANT); more are refused before the upgrade.
    if (this.ctx.getWebSockets().length >= loadConfig(this.env).wsMaxSocketsPerTenant) {
      return jsonError(429, "TOO_MANY_CONNECTIONS", "this tenant has too many open connections", {
        "Retry-After": "5",
      });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    this.save(server, {
      t: tenantId,
      c: this.clock(),
      p: "awaiting_init",
      s: {},
      f: { sent: 0, acked: 0, since: null },
    });
    this.onDeadlinesChanged();
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: { "Sec-WebSocket-Protocol": GRAPHQL_TRANSPORT_WS },
    });
  }

  /** One client frame. */
  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const rec = this.record(ws);
    if (!rec) return;
    const step = onFrame(connectionState(rec), data);
    rec.p = step.state.phase;
    await this.apply(ws, rec, step.actions);
  }

  /** The peer closed or the socket failed: forget it. */
  closed(ws: WebSocket): void {
    this.sockets.delete(ws);
    this.onDeadlinesChanged();
  }

  /** New signals or a score change: flush within the coalescing window. */
  requestFlush(): void {
    if (this.flushTimer !== null) return;
    const delay = flushDelay(this.clock(), this.lastFlushMs, this.windowMs);
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      try {
        this.flush();
      } catch (err) {
        logEvent({
          level: "error",
          op: "fanout",
          tenant_id: this.store.tenantId,
          error_code: "FANOUT_FAILED",
          message: String(err),
        });
      }
    }, delay);
  }

  private recheckTimer: ReturnType<typeof setTimeout> | null = null;

  /** One pending re-check of slow clients (only while some client owes acknowledgements). */
  private recheckAt(atMs: number): void {
    if (this.recheckTimer !== null) return;
    this.recheckTimer = setTimeout(
      () => {
        this.recheckTimer = null;
        this.flush();
      },
      Math.max(0, atMs - this.clock()),
    );
  }

  /** When a socket must be closed: its `connection_init` deadline, or once ready, its token's expiry. */
  private deadlineOf(rec: SocketRecord): number | null {
    if (rec.p !== "ready") return rec.c + INIT_TIMEOUT_MS;
    return rec.x ?? null;
  }

  /** Earliest instant some socket must be closed (init timeout or token expiry), for the object's alarm. */
  nextSocketDeadline(): number | null {
    let earliest: number | null = null;
    for (const ws of this.ctx.getWebSockets()) {
      const rec = this.record(ws);
      const due = rec ? this.deadlineOf(rec) : null;
      if (due !== null && (earliest === null || due < earliest)) earliest = due;
    }
    return earliest;
  }

  /**
   * Closes sockets whose deadline passed: 4408 without `connection_init` in time, 4401 once the token that
   * authenticated the socket has expired (a long-lived socket never outlives its credentials).
   */
  expireSockets(nowMs: number): void {
    for (const ws of this.ctx.getWebSockets()) {
      const rec = this.record(ws);
      const due = rec ? this.deadlineOf(rec) : null;
      if (!rec || due === null || due > nowMs) continue;
      if (rec.p === "ready") {
        logEvent({ level: "warn", op: "token_expired", tenant_id: rec.t, error_code: "UNAUTHENTICATED" });
        this.close(ws, Close.Unauthorized, "token expired");
      } else {
        this.close(ws, Close.ConnectionInitialisationTimeout, "connection initialisation timeout");
      }
    }
  }

  /** Sends every subscription what it has not seen yet, within each socket's flow-control budget. */
  flush(): void {
    this.lastFlushMs = this.clock();
    const round = newRound();
    for (const ws of this.ctx.getWebSockets()) this.flushSocket(ws, round);
    this.report(round);
  }

  /** Brings one socket up to date outside a full flush (new subscription, acknowledged page). */
  private flushOne(ws: WebSocket): void {
    const round = newRound();
    this.flushSocket(ws, round);
    this.report(round);
  }

  /** Sends a round's fan-out latencies to the metrics aggregator (batched; identical samples travel as one). */
  private report(round: FlushRound): void {
    if (round.latencies.size === 0) return;
    this.metrics ??= new MetricsBuffer(this.env.METRICS, loadConfig(this.env));
    this.metrics.record(
      [...round.latencies].map(([value, count]) => ({ name: METRICS.fanoutLatency.name, value, count })),
      (send) => this.ctx.waitUntil(send),
    );
  }

  /** Brings one socket's subscriptions up to date; `round` shares pages and rendered payloads across sockets. */
  private flushSocket(ws: WebSocket, round: FlushRound): void {
    const rec = this.record(ws);
    if (rec?.p !== "ready") return;
    const sentAt = this.clock();
    let sentEvents = 0;
    let changed = false;
    for (const [id, sub] of Object.entries(rec.s)) {
      if (sub.k === SCORE) {
        if (sub.q === this.store.scoreVersion) continue;
        round.score ??= this.store.score(rec.t, this.clock());
        const view = round.score;
        this.sendNext(ws, rec.t, id, sub, round, "score", () => view);
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
        this.sendNext(ws, rec.t, id, sub, round, String(row.seq), () => eventView(row));
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
    const now = this.clock();
    const backlog = this.backlogOf(rec);
    if (sentEvents > 0) rec.f = recordSent(rec.f, sentEvents);
    if (shouldPing(rec.f, backlog)) {
      rec.f = recordPing(rec.f, now);
      safeSend(ws, JSON.stringify({ type: "ping", payload: { n: rec.f.sent } }));
      changed = true;
    }
    if (tooFarBehind(rec.f, backlog, now)) {
      this.close(ws, Close.TryAgainLater, "too far behind; resubscribe with after");
      return;
    }
    // Owing more than the limit but still within the grace: look again when it runs out, traffic or not.
    if (rec.f.since !== null && unacked(rec.f) + backlog > MAX_UNACKED_EVENTS) {
      this.recheckAt(rec.f.since + ACK_GRACE_MS);
    }
    if (changed) this.save(ws, rec);
  }

  private sendNext(
    ws: WebSocket,
    tenantId: string,
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
      const kind = sub.k === EVENTS ? "coherenceEvents" : "tenantCoherenceUpdates";
      // Registered subscriptions select the same fields whatever their variables; the tenant is the socket's.
      payload = JSON.stringify(renderEvent(realtimeSchema(), { kind, text, variables: { tenantId } }, value()));
      round.payloads.set(cacheKey, payload);
    }
    safeSend(ws, `{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
  }

  private async apply(ws: WebSocket, rec: SocketRecord, actions: Action[]): Promise<void> {
    for (const action of actions) {
      switch (action.type) {
        case "send":
          safeSend(ws, action.frame);
          break;
        case "close":
          this.close(ws, action.code, action.reason);
          return;
        case "authenticate": {
          this.save(ws, rec);
          const { result, scopes, expiresAtMs } = await this.authenticate(action.payload, rec.t);
          const current = this.sockets.get(ws);
          if (!current) return; // closed while verifying
          if (result === "ok") {
            current.a = scopes;
            current.x = expiresAtMs;
          }
          const step = onAuthenticated(connectionState(current), result);
          current.p = step.state.phase;
          this.save(ws, current);
          this.onDeadlinesChanged();
          await this.apply(ws, current, step.actions);
          return;
        }
        case "start":
          await this.start(ws, rec, action.id, action.payload);
          break;
        case "stop":
          delete rec.s[action.id];
          this.save(ws, rec);
          break;
        case "acknowledge": {
          const next = acknowledge(rec.f, action.payload?.n, this.clock());
          if (next !== rec.f) {
            rec.f = next;
            this.save(ws, rec);
            // The client caught up with a page: send it the next one now.
            if (unacked(rec.f) === 0 && this.backlogOf(rec) > 0) this.flushOne(ws);
          }
          break;
        }
      }
    }
  }

  private async start(ws: WebSocket, rec: SocketRecord, id: string, payload: SubscribePayload): Promise<void> {
    const resolved = resolveSubscription(payload, this.registry, realtimeSchema());
    const refuse = (code: string, message: string) => {
      safeSend(ws, errorFrame(id, code, message));
      logEvent({ level: "warn", op: "subscribe", tenant_id: rec.t, error_code: code });
      this.onSubscribe(rec.t, true);
    };
    if (!resolved.ok) {
      refuse(resolved.code, resolved.message);
      return;
    }
    const { sub } = resolved;
    // The connection's principal: the path's tenant (checked at connection_init) with the token's scopes.
    const principal: Principal = { tenant: rec.t, scopes: new Set(rec.a ?? []), subjectHash: null };
    const decision = await authorize("subscribe", principal, [sub.tenantId]);
    if (!decision.allow) {
      logEvent({ level: "warn", op: "authz", tenant_id: rec.t, authz: [`subscribe:${decision.reason}`] });
      refuse("FORBIDDEN", "subscriptions are limited to the connection's tenant and scope");
      return;
    }
    const name = this.registry.nameByText.get(sub.text) ?? sub.text;
    if (sub.kind === "tenantCoherenceUpdates") {
      setSubscription(rec, id, { k: SCORE, o: name, q: -1 });
    } else {
      let from = this.store.newestSeq;
      if (sub.after !== null) {
        const check = checkCursor(sub.after, this.store.newestSeq, this.store.prunedThroughSeq);
        if (!check.ok) {
          refuse(
            check.code,
            check.code === "BAD_CURSOR" ? "malformed or unknown cursor" : "cursor is older than the replay window",
          );
          return;
        }
        from = check.seq;
      }
      setSubscription(rec, id, { k: EVENTS, o: name, q: from });
    }
    this.save(ws, rec);
    this.onSubscribe(rec.t, false);
    logEvent({ op: "subscribe", tenant_id: rec.t, error_code: null, subscription: sub.kind });
    // A new subscription's replay or first score goes out now, not at the next event.
    this.flushOne(ws);
  }

  /** Verifies the `connection_init` token and asks the policy whether it may subscribe to `tenantId`. */
  private async authenticate(
    payload: Record<string, unknown>,
    tenantId: string,
  ): Promise<{ result: AuthResult; scopes: string[]; expiresAtMs: number }> {
    const header = payload.authorization ?? payload.Authorization;
    const token = typeof header === "string" ? bearerToken(header) : null;
    if (!token) return { result: "unauthenticated", scopes: [], expiresAtMs: 0 };
    try {
      const principal = await verifyToken(token, loadConfig(this.env));
      const decision = await authorize("subscribe", principal, [tenantId]);
      logEvent({
        level: decision.allow ? "info" : "warn",
        op: "connection_init",
        tenant_id: tenantId,
        authz: [`subscribe:${decision.reason}`],
      });
      // Verified above (exp is required), so reading exp from the payload is safe.
      const exp = decodeJwt(token).exp ?? 0;
      return {
        result: decision.allow ? "ok" : "forbidden",
        scopes: [...principal.scopes],
        expiresAtMs: (exp + CLOCK_TOLERANCE_S) * 1000,
      };
    } catch (err) {
      if (err instanceof TokenError) return { result: "unauthenticated", scopes: [], expiresAtMs: 0 };
      throw err;
    }
  }

  private backlogOf(rec: SocketRecord): number {
    let backlog = 0;
    for (const sub of Object.values(rec.s)) {
      if (sub.k === EVENTS) backlog += Math.max(0, this.store.newestSeq - sub.q);
      else if (sub.q !== this.store.scoreVersion) backlog++;
    }
    return backlog;
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    this.sockets.delete(ws);
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
    this.onDeadlinesChanged();
  }

  private record(ws: WebSocket): SocketRecord | null {
    const cached = this.sockets.get(ws);
    if (cached) return cached;
    const rec = ws.deserializeAttachment() as SocketRecord | null;
    if (rec) this.sockets.set(ws, rec);
    return rec;
  }

  private save(ws: WebSocket, rec: SocketRecord): void {
    this.sockets.set(ws, rec);
    ws.serializeAttachment(rec);
  }
}

/** Caches shared by all sockets within one flush. */
interface FlushRound {
  pages: Map<number, EventRow[]>;
  payloads: Map<string, string>;
  score: ReturnType<TenantStore["score"]> | null;
  /** Live fan-out latencies of this round: ms → frames. */
  latencies: Map<number, number>;
}

/**
 * Adds a subscription under a client-chosen id as an own property, so ids such as `__proto__` are stored like
 * any other instead of hitting `Object.prototype`'s accessor.
 */
function setSubscription(rec: SocketRecord, id: string, sub: SubRecord): void {
  Object.defineProperty(rec.s, id, { value: sub, enumerable: true, writable: true, configurable: true });
}

function newRound(): FlushRound {
  return { pages: new Map(), payloads: new Map(), score: null, latencies: new Map() };
}

function connectionState(rec: SocketRecord): ConnectionState {
  return { phase: rec.p, ids: Object.keys(rec.s) };
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

function safeSend(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // The peer is gone; its close event will clean up.
  }
}

function jsonError(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { code, message, details: [] } }, { status, headers });
}
