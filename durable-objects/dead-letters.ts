import { DurableObject } from "cloudflare:workers";
import type { DeadLetter } from "../src/queues/messages";

/**
 * Keeps dead-lettered sink messages (one object, name "dlq") until an operator replays them after fixing the
 * cause: `npm run dlq:replay` → `POST /v1/ops/dlq/replay`. Nothing is dropped: a replayed message goes back
 * on the sink queue, and its consumers are idempotent.
 */
export class DeadLetterStore extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
      failed_at INTEGER NOT NULL, received_at INTEGER NOT NULL)`);
  }

  async add(letters: DeadLetter[]): Promise<void> {
    const now = Date.now();
    for (const l of letters) {
      this.ctx.storage.sql.exec(
        `INSERT INTO dead_letters (body, code, reason, failed_at, received_at) VALUES (?, ?, ?, ?, ?)`,
        JSON.stringify(l.body ?? null),
        l.error.code,
        l.error.reason.slice(0, 2000),
        l.failedAt,
        now,
      );
    }
  }

  async list(limit = 100): Promise<Array<{ id: number; code: string; reason: string; failedAt: number }>> {
    return this.ctx.storage.sql
      .exec<{ id: number; code: string; reason: string; failed_at: number }>(
        `SELECT id, code, reason, failed_at FROM dead_letters ORDER BY id LIMIT ?`,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, code: r.code, reason: r.reason, failedAt: r.failed_at }));
  }

  async count(): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM dead_letters`).one().n;
  }

  /** Sends every kept message back to the sink queue, deleting each once the queue has it. */
  async replay(): Promise<{ replayed: number }> {
    let replayed = 0;
    for (;;) {
      const rows = this.ctx.storage.sql
        .exec<{ id: number; body: string }>(`SELECT id, body FROM dead_letters ORDER BY id LIMIT 100`)
        .toArray();
      if (rows.length === 0) return { replayed };
      for (const row of rows) {
        await this.env.SINK_QUEUE.send(JSON.parse(row.body), { contentType: "json" });
        this.ctx.storage.sql.exec(`DELETE FROM dead_letters WHERE id = ?`, row.id);
        replayed++;
      }
    }
  }
}
