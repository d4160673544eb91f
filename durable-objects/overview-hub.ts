import { authorize } from "../src/auth/authz";
import type { Principal } from "../src/auth/principal";
import type { Config } from "../src/config";
import { AppError, errorResponse } from "../src/errors";
import type { PersistedRegistry } from "../src/graphql/persisted";
import { acknowledge, type FlowState, flushDelay, recordPing, recordSent } from "../src/realtime/coalesce";
import {
  OVERVIEW_WINDOW_MS,
  type OverviewMessage,
  overviewMessages,
  overviewRow,
  overviewTooFarBehind,
} from "../src/realtime/overview-stream";
import {
  type Action,
  Close,
  errorFrame,
  GRAPHQL_TRANSPORT_WS,
  onFrame,
  type SubscribePayload,
} from "../src/realtime/protocol";
import { realtimeSchema } from "../src/realtime/schema";
import { renderEvent, resolveSubscription } from "../src/realtime/subscriptions";
import { logEvent } from "../src/telemetry/log";
import type { DirectoryStore } from "./directory-store";
import type { FlushScheduler } from "./flush-scheduler";
import {
  authenticateInit,
  connectionState,
  deadlineOf,
  type SocketBase,
  SocketTable,
  safeSend,
  setSubscription,
} from "./socket-table";

/** The operator path's name in logs and tickets: the overview belongs to no tenant. */
export const OPERATOR_TENANT = "*";
const FLUSH = "overview";

/** One overview subscription in a socket's attachment: its operation and the change counter it has seen. */
interface OverviewSub {
  o: string;
  /** The directory's `seq` this subscription is up to date with. */
  q: number;
}

/** An operator's socket (hibernation attachment; a few hundred bytes). */
interface OverviewSocket extends SocketBase {
  s: Record<string, OverviewSub>;
  f: FlowState;
}

/**
 * The operators' live overview (docs/api.md §4.12.1): graphql-ws over the hibernation API inside the directory's
 * object, the same protocol machine as a tenant's sockets (src/realtime/protocol.ts). One subscription gets every
 * tenant's row once, then, at most every {@link OVERVIEW_WINDOW_MS}, the rows whose shown fields changed — read
 * from the directory's table by change counter, never from the tenants' objects.
 */
export class OverviewHub {
  private readonly sockets: SocketTable<OverviewSocket>;
  private lastFlushMs: number | null = null;

  constructor(
    state: DurableObjectState,
    private readonly store: DirectoryStore,
    private readonly config: Config,
    private readonly registry: PersistedRegistry,
    private readonly timers: FlushScheduler,
    private readonly now: () => number,
  ) {
    this.sockets = new SocketTable<OverviewSocket>(state);
    // Woken from hibernation: subscribers may be behind reports that arrived while it slept.
    if (this.behind()) this.changed();
  }

  /** Accepts an upgrade the Worker has authenticated (bearer or ticket, `overview_subscribe`). */
  accept(request: Request): Response {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(GRAPHQL_TRANSPORT_WS)) {
      return errorResponse(new AppError(400, "UNSUPPORTED_SUBPROTOCOL", `use the ${GRAPHQL_TRANSPORT_WS} subprotocol`));
    }
    if (this.sockets.all().length >= this.config.wsMaxSocketsPerTenant) {
      return errorResponse(
        new AppError(429, "TOO_MANY_CONNECTIONS", "the overview has too many open connections", undefined, {
          "Retry-After": "5",
        }),
      );
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.sockets.accept(server, { c: this.now(), p: "awaiting_init", s: {}, f: { sent: 0, acked: 0, since: null } });
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: { "Sec-WebSocket-Protocol": GRAPHQL_TRANSPORT_WS },
    });
  }

  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const rec = this.sockets.get(ws);
    if (!rec) return;
    const step = onFrame(connectionState(rec), data);
    rec.p = step.state.phase;
    await this.apply(ws, rec, step.actions);
  }

  closed(ws: WebSocket): void {
    this.sockets.forget(ws);
  }

  /** A report changed a row: subscribers get it within the window. */
  changed(): void {
    const now = this.now();
    this.timers.at(FLUSH, now + flushDelay(now, this.lastFlushMs, OVERVIEW_WINDOW_MS), () => this.flush());
  }

  /** Earliest socket deadline (init timeout, token expiry), for the object's alarm. */
  nextDueAt(): number | null {
    return this.sockets.nextDeadline();
  }

  /** Closes sockets whose deadline passed: 4408 without `connection_init` in time, 4401 once the token expired. */
  onAlarm(nowMs: number): void {
    for (const ws of this.sockets.all()) {
      const rec = this.sockets.get(ws);
      const due = rec ? deadlineOf(rec) : null;
      if (!rec || due === null || due > nowMs) continue;
      if (rec.p === "ready") this.sockets.close(ws, Close.Unauthorized, "token expired");
      else this.sockets.close(ws, Close.ConnectionInitialisationTimeout, "connection initialisation timeout");
    }
    this.sockets.deadlineChanged();
  }

  /** `true` when some subscription has not seen the newest change. */
  private behind(): boolean {
    const newest = this.store.newestSeq;
    return this.sockets.all().some((ws) => Object.values(this.sockets.get(ws)?.s ?? {}).some((s) => s.q < newest));
  }

  /** Sends every subscription the rows that changed since it last heard; one query per distinct position. */
  private flush(): void {
    this.lastFlushMs = this.now();
    const asOf = new Date(this.lastFlushMs).toISOString();
    const newest = this.store.newestSeq;
    const rendered = new Map<string, string[]>();
    let totals: ReturnType<DirectoryStore["counts"]> | null = null;
    for (const ws of this.sockets.all()) {
      const rec = this.sockets.get(ws);
      if (rec?.p !== "ready") continue;
      let sent = 0;
      for (const [id, sub] of Object.entries(rec.s)) {
        if (sub.q >= newest) continue;
        const key = `${sub.o}#${sub.q}`;
        let payloads = rendered.get(key);
        if (!payloads) {
          totals ??= this.store.counts();
          const rows = this.store.changedAfter(sub.q).map(overviewRow);
          payloads = this.render(sub.o, overviewMessages("CHANGES", rows, { ...totals, asOf }));
          rendered.set(key, payloads);
        }
        for (const payload of payloads) safeSend(ws, nextFrame(id, payload));
        sent += payloads.length;
        sub.q = newest;
      }
      this.settle(ws, rec, sent);
    }
  }

  /** After sending `sent` messages to a socket: ping for its acknowledgement, close it if it stopped answering. */
  private settle(ws: WebSocket, rec: OverviewSocket, sent: number): void {
    const now = this.now();
    if (sent > 0) {
      rec.f = recordPing(recordSent(rec.f, sent), now);
      safeSend(ws, JSON.stringify({ type: "ping", payload: { n: rec.f.sent } }));
    }
    if (overviewTooFarBehind(rec.f, now)) {
      logEvent({ level: "warn", op: "overview_fanout", tenant_id: null, error_code: "TOO_FAR_BEHIND" });
      this.sockets.close(ws, Close.TryAgainLater, "too far behind; subscribe again for a fresh snapshot");
      return;
    }
    this.sockets.save(ws, rec);
  }

  private render(op: string, messages: OverviewMessage[]): string[] {
    const text = this.registry.byKey.get(op);
    if (text === undefined) return [];
    const sub = { kind: "tenantsOverviewUpdates" as const, text, variables: {} };
    return messages.map((m) => JSON.stringify(renderEvent(realtimeSchema(), sub, m)));
  }

  private async apply(ws: WebSocket, rec: OverviewSocket, actions: Action[]): Promise<void> {
    for (const action of actions) {
      switch (action.type) {
        case "send":
          safeSend(ws, action.frame);
          break;
        case "close":
          this.sockets.close(ws, action.code, action.reason);
          return;
        case "authenticate": {
          const next = await this.sockets.authenticated(ws, rec, () =>
            authenticateInit(action.payload, this.config, "overview_subscribe", null),
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
          const next = acknowledge(rec.f, action.payload?.n, this.now());
          if (next !== rec.f) {
            rec.f = next;
            this.sockets.save(ws, rec);
          }
          break;
        }
      }
    }
  }

  /** A `subscribe`: only the overview runs here, for a connection whose token may read it; a snapshot at once. */
  private async start(ws: WebSocket, rec: OverviewSocket, id: string, payload: SubscribePayload): Promise<void> {
    // A refused id is never stored, so it is free again (graphql-ws).
    const refuse = (code: string, message: string) => {
      safeSend(ws, errorFrame(id, code, message));
      logEvent({ level: "warn", op: "overview_subscribe", tenant_id: null, error_code: code });
    };
    const resolved = resolveSubscription(payload, this.registry, realtimeSchema());
    if (!resolved.ok) {
      refuse(resolved.code, resolved.message);
      return;
    }
    if (resolved.sub.kind !== "tenantsOverviewUpdates") {
      refuse("FORBIDDEN", "the operators' path serves only the tenants' overview, never one tenant's data");
      return;
    }
    const principal: Principal = { tenant: OPERATOR_TENANT, scopes: new Set(rec.a ?? []), subjectHash: null };
    const decision = await authorize("overview_subscribe", principal);
    if (!decision.allow) {
      refuse("FORBIDDEN", "the overview is for operator tokens with coherence:read");
      return;
    }
    const name = this.registry.nameByText.get(resolved.sub.text) ?? resolved.sub.text;
    const sub: OverviewSub = { o: name, q: this.store.newestSeq };
    setSubscription(rec, id, sub);
    // The snapshot and its position are read in one synchronous step: no report can fall between them.
    const rows = this.store.all().map(overviewRow);
    const asOf = new Date(this.now()).toISOString();
    const payloads = this.render(name, overviewMessages("SNAPSHOT", rows, { ...this.store.counts(), asOf }));
    for (const p of payloads) safeSend(ws, nextFrame(id, p));
    logEvent({ op: "overview_subscribe", tenant_id: null, error_code: null, tenants: rows.length });
    this.settle(ws, rec, payloads.length);
  }
}

function nextFrame(id: string, payload: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`;
}
