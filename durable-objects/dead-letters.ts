import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../src/config";
import { effectiveSwitches } from "../src/domain/switches";
import type { DeadLetter } from "../src/queues/messages";
import { opsSwitches } from "../src/residency";
import { logEvent } from "../src/telemetry/log";

/** While messages are parked, the store checks the `materializer` switch this often. */
export const PARKED_CHECK_MS = 2000;

/**
 * Keeps dead-lettered sink messages (one object, name "dlq") until an operator replays them after fixing the
 * cause: `npm run dlq:replay` → `POST /v1/ops/dlq/replay`. Nothing is dropped: a replayed message goes back
 * on the sink queue, and its consumers are idempotent.
 *
 * It also keeps the messages *parked* while the `materializer` switch is off (docs/api.md §4.11): the consumer
 * hands them here instead of writing the stores, and this object sends them back to the sink queue, by its alarm,
 * within {@link PARKED_CHECK_MS} of the switch being on again. Parked messages are a backlog, not failures: they
 * are not dead letters and never counted as such.
 */
export class DeadLetterStore extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
      failed_at INTEGER NOT NULL, received_at INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS parked (
      id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, parked_at INTEGER NOT NULL)`);
  }

  /** Keeps sink messages while the materializer is off; they go back to the queue once it is on. */
  async park(bodies: unknown[]): Promise<void> {
    const now = Date.now();
    for (const body of bodies) {
      this.ctx.storage.sql.exec(
        `INSERT INTO parked (body, parked_at) VALUES (?, ?)`,
        JSON.stringify(body ?? null),
        now,
      );
    }
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + PARKED_CHECK_MS);
  }

  /** How many messages are parked, and since when the oldest. */
  async parkedCount(): Promise<{ count: number; oldestMs: number | null }> {
    const row = this.ctx.storage.sql
      .exec<{ n: number; oldest: number | null }>(`SELECT COUNT(*) AS n, MIN(parked_at) AS oldest FROM parked`)
      .one();
    return { count: row.n, oldestMs: row.oldest };
  }

  /** Releases the parked messages when the materializer is on; else looks again later. */
  override async alarm(): Promise<void> {
    if (this.ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM parked`).one().n === 0) return;
    const config = loadConfig(this.env);
    const stored = await opsSwitches(this.env, config).values();
    if (!effectiveSwitches(config, stored).materializer) {
      await this.ctx.storage.setAlarm(Date.now() + PARKED_CHECK_MS);
      return;
    }
    let released = 0;
    for (;;) {
      const rows = this.ctx.storage.sql
        .exec<{ id: number; body: string }>(`SELECT id, body FROM parked ORDER BY id LIMIT 100`)
        .toArray();
      if (rows.length === 0) break;
      for (const row of rows) {
        await this.env.SINK_QUEUE.send(JSON.parse(row.body), { contentType: "json" });
        this.ctx.storage.sql.exec(`DELETE FROM parked WHERE id = ?`, row.id);
        released++;
      }
    }
    logEvent({ level: "warn", op: "materializer_resume", released });
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
