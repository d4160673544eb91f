import { DurableObject } from "cloudflare:workers";
import type { IngestCommand, IngestOutcome, ScoreView } from "../src/domain/tenant-protocol";
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
    const outcome = this.store.ingest(cmd, this.clock());
    await this.rearm();
    return outcome;
  }

  /** The tenant's current score (RPC from the Worker). */
  async score(tenantId: string): Promise<ScoreView> {
    const view = this.store.score(tenantId, this.clock());
    await this.rearm();
    return view;
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
      logEvent({ level: "error", op: "alarm", message: String(err), object_id: this.ctx.id.toString() });
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
