import { DurableObject } from "cloudflare:workers";
import { FixedWindowLimiter } from "../src/domain/rate-limit";
import type { IngestCommand, IngestOutcome, ScoreOutcome } from "../src/domain/tenant-protocol";
import { logEvent } from "../src/http/log";
import { migrate } from "./tenant-schema";
import { TenantStore } from "./tenant-store";

/**
 * One object per tenant: dedupes and stores its signals, keeps the 24 h window's running sums, and
 * drives window expiry with its single alarm. Thin by design: the logic lives in {@link TenantStore}.
 */
export class TenantObject extends DurableObject<Env> {
  private store!: TenantStore;
  /** Alarm instant currently armed (mirrors storage, to skip redundant `setAlarm` calls). */
  private armedAt: number | null = null;
  private readonly limiter = new FixedWindowLimiter();
  /** Test seam: integration tests replace the clock to drive window expiry without sleeping. */
  clock: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql);
      this.store = new TenantStore(ctx.storage.sql, ctx.storage);
      this.armedAt = await ctx.storage.getAlarm();
      await this.rearm();
    });
  }

  /** Applies one validated ingest request (RPC from the Worker). */
  async ingest(cmd: IngestCommand): Promise<IngestOutcome> {
    const now = this.clock();
    const admission = this.limiter.admit(now, cmd.rpsMax);
    if (!admission.ok) return { kind: "rate_limited", retryAfterSeconds: admission.retryAfterSeconds };
    const outcome = this.store.ingest(cmd, now);
    await this.rearm();
    return outcome;
  }

  /** The tenant's current score (RPC from the Worker), within the tenant's request limit. */
  async score(tenantId: string, rpsMax: number): Promise<ScoreOutcome> {
    const now = this.clock();
    const admission = this.limiter.admit(now, rpsMax);
    if (!admission.ok) return { kind: "rate_limited", retryAfterSeconds: admission.retryAfterSeconds };
    const view = this.store.score(tenantId, now);
    await this.rearm();
    return { kind: "ok", view };
  }

  /** Number of stored signal records; for operations and tests. */
  async storedSignals(): Promise<number> {
    return this.store.storedSignals();
  }

  override async alarm(): Promise<void> {
    try {
      this.armedAt = null;
      this.store.advance(this.clock());
      await this.rearm();
    } catch (err) {
      logEvent({
        level: "error",
        op: "alarm",
        tenant_id: this.store.tenantId,
        error_code: "ALARM_FAILED",
        message: err instanceof Error ? err.message : String(err),
      });
      throw err; // let the runtime retry the alarm
    }
  }

  private async rearm(): Promise<void> {
    const due = this.store.nextDue;
    if (due === this.armedAt) return;
    if (due === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(due);
    this.armedAt = due;
  }
}
