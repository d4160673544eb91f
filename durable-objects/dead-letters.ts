import { DurableObject } from "cloudflare:workers";
import { probeSinks } from "../src/adapters/sinks";
import { type Config, loadConfig } from "../src/config";
import { sha256Hex } from "../src/domain/dedupe-key";
import { effectiveSwitches } from "../src/domain/switches";
import type { DeadLetter } from "../src/queues/messages";
import { opsSwitches } from "../src/residency";
import { logEvent } from "../src/telemetry/log";

/** While messages are parked, the store checks the `materializer` switch this often. */
export const PARKED_CHECK_MS = 2000;
/** Failures a store may get over (the retry budget ran out during an outage): redriven by themselves. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(["RETRIES_EXHAUSTED"]);
/** A message redriven this often and dead-lettered again is poison: it waits for `npm run dlq:replay`. */
export const MAX_REDRIVES = 5;
/** Messages sent back per alarm; more are sent by the next one, a second later. */
const REDRIVE_BATCH = 500;

/** The delay before the next probe after `failures` failed ones: the base, doubling, at most 20× the base. */
export function redriveDelayMs(baseMs: number, failures: number): number {
  return Math.min(baseMs * 2 ** Math.min(failures, 10), 20 * baseMs);
}

/**
 * Keeps dead-lettered sink messages (one object, name "dlq") until an operator replays them after fixing the
 * cause: `npm run dlq:replay` → `POST /v1/ops/dlq/replay`. Nothing is dropped: a replayed message goes back
 * on the sink queue, and its consumers are idempotent.
 *
 * It also keeps the messages *parked* while the `materializer` switch is off (docs/api.md §4.11): the consumer
 * hands them here instead of writing the stores, and this object sends them back to the sink queue, by its alarm,
 * within {@link PARKED_CHECK_MS} of the switch being on again. Parked messages are a backlog, not failures: they
 * are not dead letters and never counted as such.
 *
 * Automatic recovery (docs/api.md §7): a message whose retry budget ran out while a store was down
 * ({@link TRANSIENT_CODES}) is sent back by the alarm once every configured store answers a probe — first
 * `SINK_REDRIVE_BASE_MS` after it arrived, then with the delay doubling while the probes fail. So an outage of any
 * length converges with no manual step; a message that keeps coming back ({@link MAX_REDRIVES}) and those a store
 * refused for good stay for `npm run dlq:replay` after the cause is fixed.
 */
export class DeadLetterStore extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS dead_letters (
      id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
      failed_at INTEGER NOT NULL, received_at INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS parked (
      id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, parked_at INTEGER NOT NULL)`);
    // How often each message (by its body's sha256) was redriven, and the probes' backoff.
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS redriven (
      body_hash TEXT PRIMARY KEY, n INTEGER NOT NULL, last_ms INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS redrive_state (
      id INTEGER PRIMARY KEY CHECK (id = 1), failures INTEGER NOT NULL, next_ms INTEGER)`);
    ctx.storage.sql.exec(`INSERT OR IGNORE INTO redrive_state (id, failures, next_ms) VALUES (1, 0, NULL)`);
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
    await this.armAlarm();
  }

  /** How many messages are parked, and since when the oldest. */
  async parkedCount(): Promise<{ count: number; oldestMs: number | null }> {
    const row = this.ctx.storage.sql
      .exec<{ n: number; oldest: number | null }>(`SELECT COUNT(*) AS n, MIN(parked_at) AS oldest FROM parked`)
      .one();
    return { count: row.n, oldestMs: row.oldest };
  }

  /** Redrives what is due, releases the parked messages when the materializer is on, and re-arms for the rest. */
  override async alarm(): Promise<void> {
    const config = loadConfig(this.env);
    const now = Date.now();
    await this.redrive(config, now);
    await this.releaseParked(config);
    await this.armAlarm();
  }

  /** Sends the parked messages back to the sink queue once the `materializer` switch is on. */
  private async releaseParked(config: Config): Promise<void> {
    if (this.ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM parked`).one().n === 0) return;
    const stored = await opsSwitches(this.env, config).values();
    if (!effectiveSwitches(config, stored).materializer) return;
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
    let transient = false;
    for (const l of letters) {
      const body = JSON.stringify(l.body ?? null);
      let code = l.error.code;
      if (TRANSIENT_CODES.has(code)) {
        const times = this.redrives(await sha256Hex(body));
        if (times >= MAX_REDRIVES) code = "REDRIVES_EXHAUSTED";
        else transient = true;
      }
      this.ctx.storage.sql.exec(
        `INSERT INTO dead_letters (body, code, reason, failed_at, received_at) VALUES (?, ?, ?, ?, ?)`,
        body,
        code,
        l.error.reason.slice(0, 2000),
        l.failedAt,
        now,
      );
    }
    if (transient) {
      const state = this.state();
      if (state.nextMs === null) {
        const next = now + redriveDelayMs(loadConfig(this.env).sinkRecovery.redriveBaseMs, state.failures);
        this.ctx.storage.sql.exec(`UPDATE redrive_state SET next_ms = ? WHERE id = 1`, next);
      }
      await this.armAlarm();
    }
  }

  /** Retention (POLICY_RETENTION): removes dead letters that failed, and parked messages parked, before `cutoffMs`. */
  async purgeBefore(cutoffMs: number): Promise<{ deadLetters: number; parked: number }> {
    const sql = this.ctx.storage.sql;
    const deadLetters = sql.exec(`DELETE FROM dead_letters WHERE failed_at < ?`, cutoffMs).rowsWritten;
    const parked = sql.exec(`DELETE FROM parked WHERE parked_at < ?`, cutoffMs).rowsWritten;
    sql.exec(`DELETE FROM redriven WHERE last_ms < ?`, cutoffMs);
    return { deadLetters, parked };
  }

  /** The automatic redrive: messages waiting for it, when the next probe is due, and how many probes failed. */
  async redriveStatus(): Promise<{ pending: number; nextAtMs: number | null; failedProbes: number }> {
    const state = this.state();
    return { pending: this.transientCount(), nextAtMs: state.nextMs, failedProbes: state.failures };
  }

  private redrives(bodyHash: string): number {
    return (
      this.ctx.storage.sql.exec<{ n: number }>(`SELECT n FROM redriven WHERE body_hash = ?`, bodyHash).toArray()[0]
        ?.n ?? 0
    );
  }

  private state(): { failures: number; nextMs: number | null } {
    const row = this.ctx.storage.sql
      .exec<{ failures: number; next_ms: number | null }>(`SELECT failures, next_ms FROM redrive_state WHERE id = 1`)
      .one();
    return { failures: row.failures, nextMs: row.next_ms };
  }

  private transientCount(): number {
    const codes = [...TRANSIENT_CODES];
    return this.ctx.storage.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM dead_letters WHERE code IN (${codes.map(() => "?").join(", ")})`,
        ...codes,
      )
      .one().n;
  }

  /** Arms the alarm for the earliest work: a redrive probe, or a look at the parked messages. */
  private async armAlarm(): Promise<void> {
    const due: number[] = [];
    const { nextMs } = this.state();
    if (nextMs !== null && this.transientCount() > 0) due.push(nextMs);
    if (this.ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM parked`).one().n > 0) {
      due.push(Date.now() + PARKED_CHECK_MS);
    }
    if (due.length === 0) return;
    const at = Math.min(...due);
    const armed = await this.ctx.storage.getAlarm();
    if (armed === null || armed > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Probes every configured store; when all answer, sends up to {@link REDRIVE_BATCH} transient letters back to the
   * sink queue (the consumers are idempotent), else backs off.
   */
  async redrive(config: Config, now: number): Promise<void> {
    const { failures, nextMs } = this.state();
    if (nextMs === null || now < nextMs || this.transientCount() === 0) return;
    const states = await probeSinks(config);
    const down = Object.entries(states)
      .filter(([, state]) => state === "down")
      .map(([store]) => store);
    if (down.length > 0) {
      const next = now + redriveDelayMs(config.sinkRecovery.redriveBaseMs, failures + 1);
      this.ctx.storage.sql.exec(`UPDATE redrive_state SET failures = ?, next_ms = ? WHERE id = 1`, failures + 1, next);
      logEvent({
        level: "warn",
        op: "dlq_redrive",
        error_code: "SINK_DOWN",
        message: `${down.join(", ")} not answering; next probe in ${Math.round((next - now) / 1000)} s`,
        pending: this.transientCount(),
      });
      return;
    }
    const codes = [...TRANSIENT_CODES];
    const rows = this.ctx.storage.sql
      .exec<{ id: number; body: string }>(
        `SELECT id, body FROM dead_letters WHERE code IN (${codes.map(() => "?").join(", ")}) ORDER BY id LIMIT ?`,
        ...codes,
        REDRIVE_BATCH,
      )
      .toArray();
    for (const row of rows) {
      await this.env.SINK_QUEUE.send(JSON.parse(row.body), { contentType: "json" });
      this.ctx.storage.sql.exec(`DELETE FROM dead_letters WHERE id = ?`, row.id);
      this.ctx.storage.sql.exec(
        `INSERT INTO redriven (body_hash, n, last_ms) VALUES (?, 1, ?)
         ON CONFLICT (body_hash) DO UPDATE SET n = n + 1, last_ms = excluded.last_ms`,
        await sha256Hex(row.body),
        now,
      );
    }
    const more = this.transientCount() > 0;
    this.ctx.storage.sql.exec(
      `UPDATE redrive_state SET failures = 0, next_ms = ? WHERE id = 1`,
      more ? now + 1000 : null,
    );
    logEvent({ level: "warn", op: "dlq_redrive", redriven: rows.length, pending: this.transientCount() });
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
