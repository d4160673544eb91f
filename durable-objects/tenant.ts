import { DurableObject } from "cloudflare:workers";
import type { Redis } from "@upstash/redis/cloudflare";
import { parseTicketHeader, TICKET_HEADER } from "../src/auth/ticket";
import { loadConfig } from "../src/config";
import type { LedgerEntry, LedgerLink } from "../src/domain/ledger";
import type { TenantSummary } from "../src/domain/overview";
import { FixedWindowLimiter } from "../src/domain/rate-limit";
import type {
  BreakdownOutcome,
  HistoryOutcome,
  IngestCommand,
  IngestOutcome,
  RateLimited,
  ScoreOutcome,
} from "../src/domain/tenant-protocol";
import { AppError, errorResponse, rateLimited } from "../src/errors";
import { environmentBudget, tenantBudget } from "../src/finops/budget";
import { cpuMicros, fixedDailyUsd, withStorePrices } from "../src/finops/cost-model";
import { type UsageOp, upstashClient } from "../src/finops/usage";
import type { PersistedRegistry } from "../src/graphql/persisted";
import { persistedRegistry } from "../src/graphql/registry";
import { MetricsBuffer } from "../src/metrics/collect";
import { tenantDirectory } from "../src/residency";
import { logEvent } from "../src/telemetry/log";
import { servedRpc } from "../src/telemetry/rpc";
import type { TraceContext } from "../src/telemetry/trace-context";
import { type TraceScope, toTraceContext } from "../src/telemetry/tracer";
import { FlushScheduler } from "./flush-scheduler";
import { RealtimeHub } from "./realtime-hub";
import { SinkOutbox } from "./sink-outbox";
import type { TenantContext, TenantPart } from "./tenant-part";
import { migrate } from "./tenant-schema";
import { recordedTenantId, TenantStore } from "./tenant-store";
import { UsageLedger } from "./usage-ledger";
import { UsageMeter } from "./usage-meter";

/** A tenant's object reports its summary to the operators' overview at most this often while its score changes. */
export const DIRECTORY_REPORT_MS = 2000;

/** The outside services the object's parts talk to (tests inject failing or recording ones). */
export interface TenantPorts {
  /** The sink queue, or `null` when no sink is configured. */
  queue: Queue | null;
  /** Upstash for FinOps pushes, or `null` when not configured. */
  redis: Redis | null;
}

/**
 * One object per tenant, composed of parts with one lifecycle: {@link TenantStore} (signals, window sums,
 * idempotency), {@link SinkOutbox} (hand-off to the sink queue), {@link UsageLedger} (FinOps counters) and
 * {@link RealtimeHub} (graphql-ws sockets on the hibernation API). Each part says when it next has work due; the
 * object arms its one alarm for the earliest and, when it fires, lets every part do its due work. Sub-second
 * coalescing (fan-out, hand-off) runs on one {@link FlushScheduler}. Whom it serves and its settings are read
 * once, at start. Every RPC goes through {@link rpc}; refusals are outcomes (src/domain/tenant-protocol.ts).
 */
export class TenantObject extends DurableObject<Env> {
  /** Test seam: integration tests replace the clock to drive time without sleeping. */
  clock: () => number = () => Date.now();
  /** The object's sub-second timers; integration tests run them with their clock (`runDue`) instead of waiting. */
  timers!: FlushScheduler;
  private t!: TenantContext;
  private registry!: PersistedRegistry;
  private store!: TenantStore;
  private outbox!: SinkOutbox;
  private usage!: UsageLedger;
  private hub!: RealtimeHub;
  /** The parts with due work, in the order the alarm runs them. */
  private parts: TenantPart[] = [];
  /** Alarm instant currently armed (mirrors storage, to skip redundant `setAlarm` calls). */
  private armedAt: number | null = null;
  private readonly limiter = new FixedWindowLimiter();
  /** FinOps: the billable units of this object, counted where they happen (durable-objects/usage-meter.ts). */
  private readonly meter = new UsageMeter(() => this.clock());

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // graphql-ws keep-alive pings are answered by the runtime without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    ctx.blockConcurrencyWhile(async () => {
      const sql = this.meter.meter(ctx.storage.sql);
      migrate(sql);
      const config = loadConfig(env);
      // Objects are addressed by their tenant's name (src/tenant-client.ts), so the runtime knows whom this serves.
      const tenantId = ctx.id.name ?? recordedTenantId(sql);
      if (tenantId === null) throw new Error("a tenant object must be addressed by its tenant's name");
      const timers = new FlushScheduler(
        tenantId,
        () => this.clock(),
        () => {
          this.commitUsage(true);
          this.rearmLater();
        },
        this.meter,
      );
      this.timers = timers;
      const metrics = new MetricsBuffer(env.METRICS, config);
      this.t = { tenantId, config, state: ctx, sql, now: () => this.clock(), timers, metrics, meter: this.meter };
      this.registry = await persistedRegistry;
      const sinksOn = config.neo4j !== null || config.postgres !== null;
      this.compose({ queue: sinksOn ? env.SINK_QUEUE : null, redis: upstashClient(config) });
      this.armedAt = await ctx.storage.getAlarm();
      await this.rearm();
      // One line per object start: after hibernation or eviction, a wake-up shows as a new start. It names the
      // tenant whose data the object holds; a new object holds none yet (log readers count a tenant's lines).
      const holder = this.store.holdsData ? tenantId : null;
      logEvent({ op: "object_start", tenant_id: holder, sockets: ctx.getWebSockets().length });
    });
  }

  /**
   * Builds the parts around the object's context. Called once at start; integration tests call it again, before
   * any traffic, to put a failing queue or a recording Upstash in place.
   */
  compose(ports: TenantPorts): void {
    const { t } = this;
    this.store = new TenantStore(t);
    this.outbox = new SinkOutbox(t, this.store, ports.queue, () => this.scheduleDirectoryReport());
    const prices = withStorePrices(t.config.finops.storePrices);
    this.usage = new UsageLedger(
      t,
      ports.redis,
      {
        prices,
        tenantBudget: tenantBudget(t.config.environment, t.config.finops.tenantDailyBudgetUsd),
        environmentBudget: environmentBudget(t.config.environment, t.config.finops.envDailyBudgetUsd),
        fixedDailyUsd: fixedDailyUsd({ neo4j: t.config.neo4j !== null, postgres: t.config.postgres !== null }, prices),
      },
      this.meter,
    );
    this.hub = new RealtimeHub(t, this.store, this.usage, this.registry);
    this.parts = [this.hub, this.store, this.outbox, this.usage];
  }

  /** Only WebSocket upgrades reach the object over fetch (the Worker checked route, flag and tenant id). */
  override async fetch(request: Request): Promise<Response> {
    this.meter.hold();
    // An upgrade is a Worker request charged to this tenant and a request to its object.
    this.meter.add("do_requests", 1);
    this.meter.add("worker_requests", 1);
    this.meter.add("worker_cpu_us", cpuMicros("subscribe"));
    const answer = this.upgrade(request);
    this.endInvocation();
    await this.rearmLogged();
    return answer;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.meter.hold();
    // Billed 20:1 as object requests (finops/prices.json); keep-alive pings answered by the runtime never get here.
    this.meter.add("ws_messages_in", 1);
    try {
      await this.hub.message(ws, message);
    } catch (err) {
      this.logFailure("ws_message", err);
      ws.close(4500, "internal error");
      this.hub.closed(ws);
    }
    this.endInvocation();
    await this.rearmLogged();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.meter.hold();
    this.hub.closed(ws);
    try {
      ws.close(code, reason);
    } catch {
      // The runtime may already have completed the closing handshake.
    }
    this.endInvocation();
    await this.rearmLogged();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.meter.hold();
    this.logFailure("ws_error", error);
    this.hub.closed(ws);
    this.endInvocation();
    await this.rearmLogged();
  }

  /** Applies one validated ingest request (RPC from the Worker), in a server span continuing the caller's trace. */
  ingest(cmd: IngestCommand): Promise<IngestOutcome> {
    return this.rpc("ingest", cmd.trace, (): IngestOutcome => {
      this.chargeWorkerRequest(cmd.op, cmd.signals.length);
      const now = this.clock();
      const admission = this.limiter.admit(now, cmd.rpsMax);
      if (!admission.ok) {
        this.usage.record(cmd.op, { rejected: true });
        return { kind: "rate_limited", retryAfterSeconds: admission.retryAfterSeconds };
      }
      const outcome = this.store.ingest(cmd, now);
      // Counted in the same synchronous step as the signals: both are stored, or neither.
      this.usage.record(cmd.op, {
        rejected: outcome.kind !== "applied",
        // Signals newly stored (duplicates and replays store nothing), so counted signals equal stored ones.
        signals: outcome.kind === "applied" && !outcome.replayed ? outcome.response.accepted : 0,
      });
      return outcome;
    });
  }

  /** The tenant's current score (RPC from the Worker), within the tenant's request limit. The tenant is the object's. */
  score(_tenantId: string, rpsMax: number, trace?: TraceContext): Promise<ScoreOutcome> {
    return this.limitedRead("score", rpsMax, trace, (now) => this.store.score(now));
  }

  /** Why the score is what it is (RPC): contributions by source and type; a read like `score` (counted, limited). */
  breakdown(_tenantId: string, rpsMax: number, trace?: TraceContext): Promise<BreakdownOutcome> {
    return this.limitedRead("breakdown", rpsMax, trace, (now) => this.store.breakdown(now));
  }

  /** The score's last `minutes` (RPC), one point per minute that changed it; a read like `score`. */
  history(_tenantId: string, rpsMax: number, minutes: number, trace?: TraceContext): Promise<HistoryOutcome> {
    return this.limitedRead("history", rpsMax, trace, (now) => ({
      tenantId: this.t.tenantId,
      points: this.store.history(now, minutes),
    }));
  }

  /** A read within the tenant's request limit, counted as a `graphql_query` (refused or not). */
  private limitedRead<V>(
    name: string,
    rpsMax: number,
    trace: TraceContext | undefined,
    read: (now: number) => V,
  ): Promise<{ kind: "ok"; view: V } | RateLimited> {
    return this.rpc(name, trace, (): { kind: "ok"; view: V } | RateLimited => {
      this.chargeWorkerRequest("graphql_query");
      const now = this.clock();
      const admission = this.limiter.admit(now, rpsMax);
      if (!admission.ok) {
        this.usage.record("graphql_query", { rejected: true });
        return { kind: "rate_limited", retryAfterSeconds: admission.retryAfterSeconds };
      }
      const view = read(now);
      this.usage.record("graphql_query", { rejected: false });
      return { kind: "ok", view };
    });
  }

  /**
   * Counts a request the Worker answered for this tenant without reaching the object otherwise (4xx before
   * the object, reads served from Postgres). Awaited by the Worker, so the count is stored before it answers.
   * The tenant is the object's.
   */
  recordUsage(_tenantId: string, op: UsageOp, rejected: boolean): Promise<void> {
    return this.rpc("recordUsage", null, () => {
      this.chargeWorkerRequest(op);
      this.usage.record(op, { rejected });
    });
  }

  /** A Worker request charged to this tenant: one request and its modelled CPU time (finops/prices.json). */
  private chargeWorkerRequest(op: UsageOp, signals = 0): void {
    this.meter.add("worker_requests", 1);
    this.meter.add("worker_cpu_us", cpuMicros(op, signals));
  }

  /**
   * The end of an invocation: the time held and the units counted are stored with its effects. `quiet`: the
   * invocation was the counting machinery's own (durable-objects/usage-ledger.ts `commit`).
   */
  private endInvocation(quiet = false): void {
    this.meter.release();
    this.commitUsage(quiet);
  }

  private commitUsage(quiet = false): void {
    try {
      this.usage.commit(quiet);
    } catch (err) {
      this.logFailure("usage_commit", err);
    }
  }

  /** Pushes this tenant's changed FinOps counters to Upstash now (before a usage read, so it is exact). */
  flushUsage(): Promise<void> {
    return this.rpc("flushUsage", null, () => this.usage.flush(true));
  }

  /**
   * The provenance-ledger entries after chain position `afterSeq`, oldest first (at most `limit`; the object keeps
   * about a day of them, Postgres the retention period).
   */
  ledgerAfter(afterSeq: number, limit = 1000): Promise<{ entries: LedgerEntry[]; head: LedgerLink | null }> {
    return this.rpc("ledgerAfter", null, () => ({
      entries: this.store.ledgerAfter(afterSeq, Math.min(Math.max(1, limit), 1000)),
      head: this.store.ledgerTip,
    }));
  }

  /** Request `provenanceId`'s ledger entry while the object keeps it (about a day), and the chain's head. */
  ledgerEntry(provenanceId: string): Promise<{ entry: LedgerEntry | null; head: LedgerLink | null }> {
    return this.rpc("ledgerEntry", null, () => ({
      entry: this.store.ledgerEntry(provenanceId),
      head: this.store.ledgerTip,
    }));
  }

  /** Number of stored signal records; for operations and tests. */
  storedSignals(): Promise<number> {
    return this.rpc("storedSignals", null, () => this.store.storedSignals());
  }

  override async alarm(): Promise<void> {
    this.meter.hold();
    this.meter.add("do_requests", 1);
    let ended = false;
    try {
      this.armedAt = null;
      const now = this.clock();
      const { newestSeq, scoreVersion } = this.store;
      for (const part of this.parts) await part.onAlarm(now);
      this.announceChanges(newestSeq, scoreVersion);
      ended = true;
      this.endInvocation(true);
      await this.rearm();
    } catch (err) {
      if (!ended) this.endInvocation(true);
      this.logFailure("alarm", err);
      throw err; // let the runtime retry the alarm
    }
  }

  /**
   * The one way into the object over RPC: `body` runs in a server span continuing the caller's trace (when
   * tracing is on; `trace` is `null` for calls that carry none and are not traced), a change it makes to the log
   * or the score goes out to subscribers and sinks, a failure is logged with the tenant id (the Worker answers
   * 500), and the alarm is re-armed for whatever the call left due.
   */
  private async rpc<T>(
    method: string,
    trace: TraceContext | undefined | null,
    body: (scope?: TraceScope) => T | Promise<T>,
  ): Promise<T> {
    this.meter.hold();
    this.meter.add("do_requests", 1);
    try {
      const announced = (scope?: TraceScope) => {
        const { newestSeq, scoreVersion } = this.store;
        const result = body(scope);
        this.announceChanges(newestSeq, scoreVersion, scope);
        return result;
      };
      if (trace === null) return await announced();
      const keepAlive = (flush: Promise<void>) => this.ctx.waitUntil(flush);
      return await servedRpc(this.t.config.telemetry, "TenantObject", method, trace, keepAlive, announced);
    } catch (err) {
      this.logFailure("rpc", err, method);
      throw err;
    } finally {
      this.endInvocation(method === "flushUsage");
      await this.rearm();
    }
  }

  /** Answers a WebSocket upgrade: the tenant's request limit first, then the hub (subprotocol, socket limit). */
  private upgrade(request: Request): Response {
    // The Worker sends only `/v1/tenants/{tenantId}/graphql` here, to that tenant's object (src/http/routes/realtime.ts).
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(new AppError(404, "NOT_FOUND", "not a WebSocket route"));
    }
    // The Worker checked the ticket's MAC, tenant and expiry; a ticket is good for one upgrade. A reused one is
    // refused like a missing credential: before the rate limit, and counted nowhere.
    const ticket = parseTicketHeader(request.headers.get(TICKET_HEADER));
    if (ticket && !this.store.useTicket(ticket.nonce, ticket.expiresAtMs, this.clock())) {
      return errorResponse(
        new AppError(401, "UNAUTHENTICATED", "this realtime ticket was already used; get a new one", undefined, {
          "WWW-Authenticate": 'Bearer realm="coherence"',
        }),
      );
    }
    // An upgrade is a request like any other: it counts against the tenant's RPS_MAX.
    const admission = this.limiter.admit(this.clock(), this.t.config.rpsMax);
    if (!admission.ok) {
      this.usage.record("subscribe", { rejected: true });
      return errorResponse(rateLimited(admission.retryAfterSeconds));
    }
    const answer = this.hub.accept(request);
    if (answer.status !== 101) this.usage.record("subscribe", { rejected: true });
    return answer;
  }

  /**
   * Signals or the score changed since (`newestSeq`, `scoreVersion`): fan out to sockets and hand off to the
   * sinks, each coalesced. `scope` is the request that caused it: the hand-off's producer span continues its trace.
   */
  private announceChanges(newestSeq: number, scoreVersion: number, scope?: TraceScope): void {
    if (this.store.newestSeq === newestSeq && this.store.scoreVersion === scoreVersion) return;
    this.hub.requestFlush();
    this.outbox.requestDrain(scope ? toTraceContext(scope.span) : undefined);
    this.scheduleDirectoryReport();
  }

  /**
   * The operators' overview and the sink backlog metrics: one report per DIRECTORY_REPORT_MS at most, however fast
   * the score or the outbox move.
   */
  private scheduleDirectoryReport(): void {
    this.t.timers.at("directory", this.clock() + DIRECTORY_REPORT_MS, () => this.reportToDirectory());
  }

  /** Sends this tenant's summary to the directory (the operators' overview); a failure is logged, retried later. */
  private reportToDirectory(): void {
    if (!this.env.TENANT_DIRECTORY) return;
    const now = this.clock();
    const view = this.store.score(now);
    const outbox = this.outbox.stats();
    const summary: TenantSummary = {
      tenantId: this.t.tenantId,
      score: view.score,
      status: view.status,
      signalCount: view.signalCount,
      lastSignalMs: this.store.newestAcceptedMs(),
      updatedMs: Date.parse(view.updatedAt),
      outboxBacklog: outbox.backlog,
      outboxOldestUnsentMs: outbox.oldestUnsentMs,
    };
    const sent = tenantDirectory(this.env, this.t.config)
      .report(summary)
      .catch((err: unknown) => {
        logEvent({
          level: "warn",
          op: "directory_report",
          tenant_id: this.t.tenantId,
          error_code: "DIRECTORY_UNAVAILABLE",
          message: err instanceof Error ? err.message : String(err),
        });
        this.t.timers.at("directory", this.clock() + 10 * DIRECTORY_REPORT_MS, () => this.reportToDirectory());
      });
    this.ctx.waitUntil(sent);
  }

  private logFailure(op: string, err: unknown, method?: string): void {
    logEvent({
      level: "error",
      op,
      ...(method ? { method } : {}),
      tenant_id: this.t?.tenantId ?? null,
      error_code: "INTERNAL",
      message: err instanceof Error ? err.message : String(err),
    });
  }

  private rearmLater(): void {
    void this.rearmLogged();
  }

  private rearmLogged(): Promise<void> {
    return this.rearm().catch((err) => this.logFailure("rearm", err));
  }

  /** Arms the one alarm for the earliest work any part has due. */
  private async rearm(): Promise<void> {
    let due: number | null = null;
    for (const part of this.parts) {
      const at = part.nextDueAt();
      if (at !== null && (due === null || at < due)) due = at;
    }
    if (due === this.armedAt) return;
    if (due === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(due);
    this.armedAt = due;
  }
}
