import { DurableObject } from "cloudflare:workers";
import { parseTicketHeader, TICKET_HEADER } from "../src/auth/ticket";
import { loadConfig } from "../src/config";
import type { TenantSummary } from "../src/domain/overview";
import { AppError, errorResponse } from "../src/errors";
import { persistedRegistry } from "../src/graphql/registry";
import { logEvent } from "../src/telemetry/log";
import { DirectoryStore, type OverviewPage } from "./directory-store";
import { FlushScheduler } from "./flush-scheduler";
import { OPERATOR_TENANT, OverviewHub } from "./overview-hub";

export type { OverviewPage };

/**
 * Every tenant's latest summary (score, status, signals in the window, newest signal), one object named
 * "directory": each tenant's object reports to it, at most every `DIRECTORY_REPORT_MS` while its score
 * changes, so the operators' overview reads one object instead of waking every tenant's (docs/api.md §4.12).
 * It also serves the live overview to operators' sockets (the realtime endpoint's path `/v1/tenants/*\/graphql`,
 * {@link OverviewHub}); a report that changes a row wakes them, nothing else does.
 */
export class TenantDirectory extends DurableObject<Env> {
  private readonly store: DirectoryStore;
  private hub!: OverviewHub;
  /** Alarm instant currently armed (mirrors storage, to skip redundant `setAlarm` calls). */
  private armedAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // graphql-ws keep-alive pings are answered by the runtime without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    this.store = new DirectoryStore(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      const config = loadConfig(env);
      const registry = await persistedRegistry;
      const timers = new FlushScheduler(
        OPERATOR_TENANT,
        () => Date.now(),
        () => void this.rearmLogged(),
      );
      this.hub = new OverviewHub(ctx, this.store, config, registry, timers, () => Date.now());
      this.armedAt = await ctx.storage.getAlarm();
      await this.rearm();
    });
  }

  /** Records a tenant's summary; an older one than what is kept (a late report) changes nothing. */
  async report(s: TenantSummary): Promise<void> {
    if (this.store.report(s)) this.hub.changed();
  }

  /** The sink pipeline's backlog over every tenant: signals not handed off yet, and the oldest one's acceptance. */
  async sinkBacklog(): Promise<{ backlog: number; oldestUnsentMs: number | null }> {
    return this.store.sinkBacklog();
  }

  /** Up to `limit` tenants after cursor `after`, worst first (a keyset page: stable while reports arrive). */
  async overview(limit: number, after: string | null): Promise<OverviewPage> {
    return this.store.page(limit, after);
  }

  /** Only the operators' WebSocket upgrades reach the object over fetch (the Worker checked token or ticket). */
  override async fetch(request: Request): Promise<Response> {
    let answer: Response;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      answer = errorResponse(new AppError(404, "NOT_FOUND", "not a WebSocket route"));
    } else {
      // A ticket is good for one upgrade: a reused one is refused like a missing credential.
      const ticket = parseTicketHeader(request.headers.get(TICKET_HEADER));
      if (ticket && !this.store.useTicket(ticket.nonce, ticket.expiresAtMs, Date.now())) {
        answer = errorResponse(
          new AppError(401, "UNAUTHENTICATED", "this realtime ticket was already used; get a new one", undefined, {
            "WWW-Authenticate": 'Bearer realm="coherence"',
          }),
        );
      } else {
        answer = this.hub.accept(request);
      }
    }
    await this.rearmLogged();
    return answer;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      await this.hub.message(ws, message);
    } catch (err) {
      this.logFailure("ws_message", err);
      ws.close(4500, "internal error");
      this.hub.closed(ws);
    }
    await this.rearmLogged();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.hub.closed(ws);
    try {
      ws.close(code, reason);
    } catch {
      // The runtime may already have completed the closing handshake.
    }
    await this.rearmLogged();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.logFailure("ws_error", error);
    this.hub.closed(ws);
    await this.rearmLogged();
  }

  override async alarm(): Promise<void> {
    try {
      this.armedAt = null;
      this.hub.onAlarm(Date.now());
      await this.rearm();
    } catch (err) {
      this.logFailure("alarm", err);
      throw err; // let the runtime retry the alarm
    }
  }

  private logFailure(op: string, err: unknown): void {
    logEvent({
      level: "error",
      op,
      tenant_id: null,
      object: "directory",
      error_code: "INTERNAL",
      message: err instanceof Error ? err.message : String(err),
    });
  }

  private rearmLogged(): Promise<void> {
    return this.rearm().catch((err) => this.logFailure("rearm", err));
  }

  /** Arms the one alarm for the earliest socket deadline (the flush runs on the scheduler's timer). */
  private async rearm(): Promise<void> {
    const due = this.hub.nextDueAt();
    if (due === this.armedAt) return;
    if (due === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(due);
    this.armedAt = due;
  }
}
