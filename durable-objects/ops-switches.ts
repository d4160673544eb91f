import { DurableObject } from "cloudflare:workers";
import type { StoredSwitches } from "../src/domain/switches";

/** One change of a switch, as kept in the object's audit history. */
export interface SwitchAudit {
  id: number;
  name: string;
  /** `null`: it had no stored value (its default applied). */
  previous: string | null;
  /** `null`: reset to its default. */
  value: string | null;
  /** Keyed pseudonym of the operator token's `sub` (never `sub` itself). */
  actor: string | null;
  reason: string | null;
  atMs: number;
}

/**
 * The runtime switches (src/domain/switches.ts), one object named "switches": their stored values and every
 * change, in SQLite. Workers read the values through a per-isolate cache (src/switches.ts) at most 5 s old;
 * operators change them with `PUT /v1/ops/switches/{name}` (`npm run ops`). Holds no tenant data.
 */
export class OpsSwitches extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS switches (
      name TEXT PRIMARY KEY, value TEXT NOT NULL, changed_at INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS switch_audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, previous TEXT, value TEXT, actor TEXT,
      reason TEXT, at_ms INTEGER NOT NULL)`);
  }

  /** The stored values (switches without one follow their defaults). */
  async values(): Promise<StoredSwitches> {
    const out: Record<string, string> = {};
    for (const row of this.ctx.storage.sql.exec<{ name: string; value: string }>(`SELECT name, value FROM switches`)) {
      out[row.name] = row.value;
    }
    return out;
  }

  /**
   * Sets (or with `value` null, resets) one switch and records the change; returns the audit entry. The caller has
   * validated name and value (parseSwitchChange).
   */
  async change(name: string, value: string | null, actor: string | null, reason: string | null): Promise<SwitchAudit> {
    const atMs = Date.now();
    const previous =
      this.ctx.storage.sql.exec<{ value: string }>(`SELECT value FROM switches WHERE name = ?`, name).toArray()[0]
        ?.value ?? null;
    if (value === null) this.ctx.storage.sql.exec(`DELETE FROM switches WHERE name = ?`, name);
    else {
      this.ctx.storage.sql.exec(
        `INSERT INTO switches (name, value, changed_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at`,
        name,
        value,
        atMs,
      );
    }
    const id = this.ctx.storage.sql
      .exec<{ id: number }>(
        `INSERT INTO switch_audit (name, previous, value, actor, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
        name,
        previous,
        value,
        actor,
        reason,
        atMs,
      )
      .one().id;
    return { id, name, previous, value, actor, reason, atMs };
  }

  /** The newest changes first. */
  async history(limit = 50): Promise<SwitchAudit[]> {
    return this.ctx.storage.sql
      .exec<Omit<SwitchAudit, "atMs"> & { at_ms: number }>(
        `SELECT id, name, previous, value, actor, reason, at_ms FROM switch_audit ORDER BY id DESC LIMIT ?`,
        limit,
      )
      .toArray()
      .map(({ at_ms, ...rest }) => ({ ...rest, atMs: at_ms }));
  }
}
