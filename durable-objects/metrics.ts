import { DurableObject } from "cloudflare:workers";
import { emptyState, type MetricState, merge, type Observation, observe } from "../src/metrics/model";

/**
 * One shard of the service's metrics (src/metrics/collect.ts picks shards at random). Adds batches of
 * observations into series kept in SQLite, so counts survive eviction and restarts; `/metrics` reads every
 * shard and merges. Series carry no tenant label, so a shard holds a few dozen rows whatever the tenant count.
 */
export class MetricsAggregator extends DurableObject<Env> {
  private state: MetricState = emptyState();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)`,
      );
      const row = ctx.storage.sql.exec<{ json: string }>(`SELECT json FROM state WHERE id = 1`).toArray()[0];
      if (row) this.state = JSON.parse(row.json) as MetricState;
    });
  }

  /** Adds a batch of observations (RPC from Workers and tenant objects). */
  async observe(batch: Observation[]): Promise<void> {
    observe(this.state, batch);
    this.ctx.storage.sql.exec(
      `INSERT INTO state (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json`,
      JSON.stringify(this.state),
    );
  }

  /** This shard's series. */
  async snapshot(): Promise<MetricState> {
    return merge(emptyState(), this.state);
  }
}
