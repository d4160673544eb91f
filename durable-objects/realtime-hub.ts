import { authorize } from "../src/auth/authz";
import type { Principal } from "../src/auth/principal";
import { AppError, errorResponse } from "../src/errors";
import type { PersistedRegistry } from "../src/graphql/persisted";
import { acknowledge, unacked } from "../src/realtime/coalesce";
import { checkCursor } from "../src/realtime/cursor";
import {
  type Action,
  Close,
  errorFrame,
  GRAPHQL_TRANSPORT_WS,
  onFrame,
  type SubscribePayload,
} from "../src/realtime/protocol";
import { realtimeSchema } from "../src/realtime/schema";
import { resolveSubscription } from "../src/realtime/subscriptions";
import { logEvent } from "../src/telemetry/log";
import { Fanout } from "./realtime-fanout";
import {
  authenticateInit,
  BREAKDOWN,
  connectionState,
  deadlineOf,
  EVENTS,
  SCORE,
  type SocketRecord,
  SocketTable,
  safeSend,
  setSubscription,
} from "./socket-table";
import type { TenantContext, TenantPart } from "./tenant-part";
import type { TenantStore } from "./tenant-store";
import type { UsageLedger } from "./usage-ledger";

/**
 * graphql-ws over the hibernation API inside a tenant's object: accepts sockets, runs the pure protocol machine
 * per frame, authenticates `connection_init`, starts and stops subscriptions, and closes sockets whose deadline
 * passed (on the object's alarm). Delivery is {@link Fanout}'s; socket state is {@link SocketTable}'s.
 */
export class RealtimeHub implements TenantPart {
  private readonly sockets: SocketTable;
  private readonly fanout: Fanout;

  constructor(
    private readonly t: TenantContext,
    private readonly store: TenantStore,
    /** Counts every `subscribe` answered (FinOps). */
    private readonly usage: UsageLedger,
    private readonly registry: PersistedRegistry,
  ) {
    this.sockets = new SocketTable(t.state);
    this.fanout = new Fanout(t, store, this.sockets, registry);
    // Woken from hibernation or eviction: pick up subscriptions that missed a flush while asleep.
    for (const ws of this.sockets.all()) {
      const rec = this.sockets.get(ws);
      if (rec && this.fanout.backlogOf(rec) > 0) {
        this.fanout.request();
        break;
      }
    }
  }

  /** Accepts a WebSocket upgrade (the Worker has checked the route and the flag, the object the rate limit). */
  accept(request: Request): Response {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(GRAPHQL_TRANSPORT_WS)) {
      return errorResponse(new AppError(400, "UNSUPPORTED_SUBPROTOCOL", `use the ${GRAPHQL_TRANSPORT_WS} subprotocol`));
    }
    // Sockets one tenant's object accepts at once (WS_MAX_SOCKETS_PER_TENANT); more are refused before the upgrade.
    if (this.sockets.all().length >= this.t.config.wsMaxSocketsPerTenant) {
      return errorResponse(
        new AppError(429, "TOO_MANY_CONNECTIONS", "this tenant has too many open connections", undefined, {
          "Retry-After": "5",
        }),
      );
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.sockets.accept(server, {
      t: this.t.tenantId,
      c: this.t.now(),
      p: "awaiting_init",
      s: {},
      f: { sent: 0, acked: 0, since: null },
    });
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: { "Sec-WebSocket-Protocol": GRAPHQL_TRANSPORT_WS },
    });
  }

  /** One client frame. */
  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const rec = this.sockets.get(ws);
    if (!rec) return;
    const step = onFrame(connectionState(rec), data);
    rec.p = step.state.phase;
    await this.apply(ws, rec, step.actions);
  }

  /** The peer closed or the socket failed: forget it. */
  closed(ws: WebSocket): void {
    this.sockets.forget(ws);
  }

  /** New signals or a score change: fan out within the coalescing window. */
  requestFlush(): void {
    this.fanout.request();
  }

  /** Earliest instant some socket must be closed (init timeout or token expiry), for the object's alarm. */
  nextDueAt(): number | null {
    return this.sockets.nextDeadline();
  }

  /**
   * The alarm: closes sockets whose deadline passed — 4408 without `connection_init` in time, 4401 once the token
   * that authenticated the socket has expired (a long-lived socket never outlives its credentials).
   */
  onAlarm(nowMs: number): void {
    const next = this.sockets.nextDeadline();
    if (next !== null && next <= nowMs) {
      for (const ws of this.sockets.all()) {
        const rec = this.sockets.get(ws);
        const due = rec ? deadlineOf(rec) : null;
        if (!rec || due === null || due > nowMs) continue;
        if (rec.p === "ready") {
          logEvent({ level: "warn", op: "token_expired", tenant_id: this.t.tenantId, error_code: "UNAUTHENTICATED" });
          this.sockets.close(ws, Close.Unauthorized, "token expired");
        } else {
          this.sockets.close(ws, Close.ConnectionInitialisationTimeout, "connection initialisation timeout");
        }
      }
    }
    // Recomputed from the runtime's list: a socket that vanished without a close event takes its deadline along.
    this.sockets.deadlineChanged();
  }

  private async apply(ws: WebSocket, rec: SocketRecord, actions: Action[]): Promise<void> {
    for (const action of actions) {
      switch (action.type) {
        case "send":
          safeSend(ws, action.frame, this.t.meter);
          break;
        case "close":
          this.sockets.close(ws, action.code, action.reason);
          return;
        case "authenticate": {
          const next = await this.sockets.authenticated(ws, rec, () =>
            authenticateInit(action.payload, this.t.config, "subscribe", this.t.tenantId),
          );
          if (next) await this.apply(ws, next.rec, next.actions);
          return;
        }
        case "start":
          await this.start(ws, rec, action.id, action.payload);
          break;
        case "stop":
          delete rec.s[action.id];
          this.sockets.save(ws, rec);
          break;
        case "acknowledge": {
          const next = acknowledge(rec.f, action.payload?.n, this.t.now());
          if (next !== rec.f) {
            rec.f = next;
            this.sockets.save(ws, rec);
            // The client caught up with a page: send it the next one now.
            if (unacked(rec.f) === 0 && this.fanout.backlogOf(rec) > 0) this.fanout.flushOne(ws);
          }
          break;
        }
      }
    }
  }

  private async start(ws: WebSocket, rec: SocketRecord, id: string, payload: SubscribePayload): Promise<void> {
    const tenantId = this.t.tenantId;
    const resolved = resolveSubscription(payload, this.registry, realtimeSchema());
    const refuse = (code: string, message: string) => {
      safeSend(ws, errorFrame(id, code, message), this.t.meter);
      logEvent({ level: "warn", op: "subscribe", tenant_id: tenantId, error_code: code });
      this.usage.record("subscribe", { rejected: true });
    };
    if (!resolved.ok) {
      refuse(resolved.code, resolved.message);
      return;
    }
    const { sub } = resolved;
    // The overview is every tenant's: it runs only on the operators' path, in the directory's object.
    if (sub.kind === "tenantsOverviewUpdates" || sub.tenantId === null) {
      logEvent({ level: "warn", op: "authz", tenant_id: tenantId, authz: ["overview_subscribe:operator_only"] });
      refuse("FORBIDDEN", "subscriptions are limited to the connection's tenant and scope");
      return;
    }
    // The connection's principal: the object's tenant (checked at connection_init) with the token's scopes.
    const principal: Principal = { tenant: tenantId, scopes: new Set(rec.a ?? []), subjectHash: null };
    const decision = await authorize("subscribe", principal, [sub.tenantId]);
    if (!decision.allow) {
      logEvent({ level: "warn", op: "authz", tenant_id: tenantId, authz: [`subscribe:${decision.reason}`] });
      refuse("FORBIDDEN", "subscriptions are limited to the connection's tenant and scope");
      return;
    }
    const name = this.registry.nameByText.get(sub.text) ?? sub.text;
    if (sub.kind === "tenantCoherenceUpdates" || sub.kind === "tenantCoherenceBreakdownUpdates") {
      setSubscription(rec, id, { k: sub.kind === "tenantCoherenceUpdates" ? SCORE : BREAKDOWN, o: name, q: -1 });
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
    this.sockets.save(ws, rec);
    this.usage.record("subscribe", { rejected: false });
    logEvent({ op: "subscribe", tenant_id: tenantId, error_code: null, subscription: sub.kind });
    // A new subscription's replay or first score goes out now, not at the next event.
    this.fanout.flushOne(ws);
  }
}
