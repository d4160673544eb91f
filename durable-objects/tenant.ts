import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../src/config";
import { FixedWindowLimiter } from "../src/domain/rate-limit";
import type { IngestCommand, IngestOutcome, ScoreOutcome } from "../src/domain/tenant-protocol";
import { earliest } from "../src/domain/window";
import { tenantBudget } from "../src/finops/budget";
import { type UsageOp, upstashClient } from "../src/finops/usage";
import { persistedRegistry } from "../src/graphql/registry";
import { MetricsBuffer } from "../src/metrics/collect";
import { METRICS } from "../src/metrics/model";
import { logEvent } from "../src/telemetry/log";
import { tracedRpcMethod } from "../src/telemetry/rpc";
import type { TraceContext } from "../src/telemetry/trace-context";
import { createTracer, type Tracer, type TraceScope, toTraceContext } from "../src/telemetry/tracer";
import { SinkOutbox } from "./tenant-outbox";
import { RealtimeHub } from "./tenant-realtime";
import { migrate } from "./tenant-schema";
import { TenantStore } from "./tenant-store";
import { UsageLedger } from "./tenant-usage";

/**
 * One object per tenant: dedupes and stores its signals, keeps the 24 h window's running sums, drives
 * window expiry and connection-init deadlines with its single alarm, and serves the tenant's graphql-ws
 * sockets on the hibernation API. Thin by design: storage lives in {@link TenantStore}, realtime in
 * {@link RealtimeHub}.
 */
export class TenantObject extends DurableObject<Env> {
  private store!: TenantStore;
  private hub!: RealtimeHub;
  private outbox!: SinkOutbox;
  private usage!: UsageLedger;
  /** Alarm instant currently armed (mirrors storage, to skip redundant `setAlarm` calls). */
  private armedAt: number | null = null;
  private readonly limiter = new FixedWindowLimiter();
  /** This object's metric buffer (budget alerts); never shared with the Worker's requests. */
  private metrics!: MetricsBuffer;
  /** Test seam: integration tests replace the clock to drive window expiry without sleeping. */
  clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // graphql-ws keep-alive pings are answered by the runtime without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql);
      const config = loadConfig(env);
      this.metrics = new MetricsBuffer(env.METRICS, config);
      this.store = new TenantStore(ctx.storage.sql, ctx.storage, () => this.outbox.prunableThroughSeq());
      const sinksOn = config.neo4j !== null || config.postgres !== null;
      this.outbox = new SinkOutbox(
        ctx.storage.sql,
        this.store,
        sinksOn ? env.SINK_QUEUE : null,
        config.policyTags,
        () => this.clock(),
        config.fanoutWindowMs,
        () => this.rearmLater(),
        config.telemetry,
      );
      this.usage = new UsageLedger(
        ctx.storage.sql,
        () => this.clock(),
        upstashClient(config),
        tenantBudget(config.environment, config.finops.tenantDailyBudgetUsd),
        config.finops.flushIntervalMs,
        (period, level) => {
          this.metrics.record(
            [{ name: METRICS.budgetAlerts.name, labels: { period, threshold: level }, value: 1 }],
            (send) => ctx.waitUntil(send),
          );
        },
      );
      const registry = await persistedRegistry;
      this.hub = new RealtimeHub(
        ctx,
        env,
        this.store,
        registry,
        () => this.clock(),
        config.fanoutWindowMs,
        () => this.rearmLater(),
        (tenantId, rejected) => {
          this.usage.record(tenantId, "subscribe", { rejected });
          this.rearmLater();
        },
      );
      // Work left by a previous incarnation (crash, eviction mid-send) goes out now.
      if (this.outbox.pending) this.outbox.requestDrain();
      this.armedAt = await ctx.storage.getAlarm();
      await this.rearm();
      // One line per object start: after hibernation or eviction, a wake-up shows as a new start.
      logEvent({ op: "object_start", tenant_id: this.store.tenantId, sockets: ctx.getWebSockets().length });
    });
  }

  /** Only WebSocket upgrades reach the object over fetch (the Worker checked route, flag and tenant id). */
  override async fetch(request: Request): Promise<Response> {
    const tenantId = /^\/v1\/tenants\/([^/]+)\/graphql$/.exec(new URL(request.url).pathname)?.[1];
    if (!tenantId || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(
        { error: { code: "NOT_FOUND", message: "not a WebSocket route", details: [] } },
        { status: 404 },
      );
    }
    // An upgrade is a request like any other: it counts against the tenant's RPS_MAX.
    const admission = this.limiter.admit(this.clock(), loadConfig(this.env).rpsMax);
    if (!admission.ok) {
      this.usage.record(decodeURIComponent(tenantId), "subscribe", { rejected: true });
      this.rearmLater();
      return Response.json(
        { error: { code: "RATE_LIMITED", message: "too many requests for this tenant; retry later", details: [] } },
        { status: 429, headers: { "Retry-After": String(admission.retryAfterSeconds) } },
      );
    }
    const answer = this.hub.accept(decodeURIComponent(tenantId), request);
    if (answer.status !== 101) {
      this.usage.record(decodeURIComponent(tenantId), "subscribe", { rejected: true });
      this.rearmLater();
    }
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
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.hub.closed(ws);
    try {
      ws.close(code, reason);
    } catch {
      // The runtime may already have completed the closing handshake.
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.logFailure("ws_error", error);
    this.hub.closed(ws);
  }

  /** Applies one validated ingest request (RPC from the Worker), in a server span continuing the caller's trace. */
  async ingest(cmd: IngestCommand): Promise<IngestOutcome> {
    const tracer = this.tracer();
    try {
      return await tracedRpcMethod(tracer, "TenantObject", "ingest", cmd.trace, (scope) =>
        this.applyIngest(cmd, scope),
      );
    } finally {
      if (tracer.enabled) this.ctx.waitUntil(tracer.flush());
    }
  }

  private async applyIngest(cmd: IngestCommand, scope: TraceScope): Promise<IngestOutcome> {
    const now = this.clock();
    const admission = this.limiter.admit(now, cmd.rpsMax);
    if (!admission.ok) {
      this.usage.record(cmd.tenantId, cmd.op, { rejected: true });
      await this.rearm();
      return { kind: "rate_limited", retryAfterSeconds: admission.retryAfterSeconds };
    }
    const version = this.store.scoreVersion;
    const newest = this.store.newestSeq;
    const outcome = this.store.ingest(cmd, now);
    // Counted in the same synchronous step as the signals: both are stored, or neither.
    this.usage.record(cmd.tenantId, cmd.op, {
      rejected: outcome.kind !== "applied",
      // Signals newly stored (duplicates and replays store nothing), so counted signals equal stored ones.
      signals: outcome.kind === "applied" && !outcome.replayed ? outcome.response.accepted : 0,
    });
    if (this.store.newestSeq !== newest || this.store.scoreVersion !== version) this.changed(scope);
    await this.rearm();
    return outcome;
  }

  /** The tenant's current score (RPC from the Worker), within the tenant's request limit. */
  async score(tenantId: string, rpsMax: number, trace?: TraceContext): Promise<ScoreOutcome> {
    const tracer = this.tracer();
    try {
      return await tracedRpcMethod(tracer, "TenantObject", "score", trace, (scope) =>
        this.readScore(tenantId, rpsMax, scope),
      );
    } finally {
      if (tracer.enabled) this.ctx.waitUntil(tracer.flush());
    }
  }

  private async readScore(tenantId: string, rpsMax: number, scope: TraceScope): Promise<ScoreOutcome> {
    const now = this.clock();
    const admission = this.limiter.admit(now, rpsMax);
    if (!admission.ok) {
      this.usage.record(tenantId, "graphql_query", { rejected: true });
      await this.rearm();
      return { kind: "rate_limited", retryAfterSeconds: admission.retryAfterSeconds };
    }
    const version = this.store.scoreVersion;
    const view = this.store.score(tenantId, now);
    this.usage.record(tenantId, "graphql_query", { rejected: false });
    if (this.store.scoreVersion !== version) this.changed(scope);
    await this.rearm();
    return { kind: "ok", view };
  }

  /**
   * Counts a request the Worker answered for this tenant without reaching the object otherwise (4xx before
   * the object, reads served from Postgres). Awaited by the Worker, so the count is stored before it answers.
   */
  async recordUsage(tenantId: string, op: UsageOp, rejected: boolean): Promise<void> {
    this.usage.record(tenantId, op, { rejected });
    await this.rearm();
  }

  /** Pushes this tenant's changed FinOps counters to Upstash now (before a usage read, so it is exact). */
  async flushUsage(): Promise<void> {
    await this.usage.flush();
    await this.rearm();
  }

  /** Number of stored signal records; for operations and tests. */
  async storedSignals(): Promise<number> {
    return this.store.storedSignals();
  }

  override async alarm(): Promise<void> {
    try {
      this.armedAt = null;
      const now = this.clock();
      this.hub.expireSockets(now);
      const version = this.store.scoreVersion;
      this.store.advance(now);
      if (this.store.scoreVersion !== version) this.changed();
      // A failed hand-off to the sink queue is retried here, on the alarm.
      if (this.outbox.retryAt !== null && this.outbox.retryAt <= now) await this.outbox.drain();
      const flushAt = this.usage.nextFlushAt();
      if (flushAt !== null && flushAt <= now) {
        try {
          await this.usage.flush();
        } catch (err) {
          // Upstash is down: the counts stay in the object and the push is retried later.
          this.logFailure("usage_flush", err);
        }
      }
      this.usage.prune();
      await this.rearm();
    } catch (err) {
      this.logFailure("alarm", err);
      throw err; // let the runtime retry the alarm
    }
  }

  /**
   * Signals or the score changed: fan out to sockets and hand off to the sinks, each coalesced. `scope` is the
   * request that caused it: the hand-off's producer span continues its trace.
   */
  private changed(scope?: TraceScope): void {
    this.hub.requestFlush();
    this.outbox.requestDrain(scope ? toTraceContext(scope.span) : undefined);
  }

  /** A tracer for one RPC call; its spans are flushed through `waitUntil` when the call returns. */
  private tracer(): Tracer {
    return createTracer(loadConfig(this.env).telemetry, {
      onError: (message) => logEvent({ level: "warn", op: "otlp_export", error_code: "OTLP_EXPORT_FAILED", message }),
    });
  }

  private logFailure(op: string, err: unknown): void {
    logEvent({
      level: "error",
      op,
      tenant_id: this.store?.tenantId ?? null,
      error_code: "INTERNAL",
      message: err instanceof Error ? err.message : String(err),
    });
  }

  private rearmLater(): void {
    this.rearm().catch((err) => this.logFailure("rearm", err));
  }

  /** Arms the one alarm for the earliest due work: window changes, pruning, socket deadlines (init, token expiry). */
  private async rearm(): Promise<void> {
    const due = earliest(
      this.hub?.nextSocketDeadline(),
      this.store.nextDue,
      this.outbox?.retryAt,
      this.usage?.nextFlushAt(),
    );
    if (due === this.armedAt) return;
    if (due === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(due);
    this.armedAt = due;
  }
}
