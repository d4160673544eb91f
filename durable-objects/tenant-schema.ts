/** Bump when the statements below change; the object migrates forward from the stored version. */
export const SCHEMA_VERSION = 8;

/**
 * Statements per schema version, applied in order inside `blockConcurrencyWhile`.
 * `phase`: 0 pending (future ts), 1 in the 24 h window, 2 out of it (kept for dedupe and replay).
 */
export const MIGRATIONS: Record<number, string[]> = {
  1: [
    `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS signals (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       dkey TEXT NOT NULL UNIQUE,
       signal_id TEXT NOT NULL,
       type TEXT NOT NULL,
       source TEXT NOT NULL,
       value REAL NOT NULL,
       weight REAL NOT NULL,
       ts_ms INTEGER NOT NULL,
       provenance_id TEXT NOT NULL,
       accepted_ms INTEGER NOT NULL,
       phase INTEGER NOT NULL
     )`,
    `CREATE INDEX IF NOT EXISTS signals_phase_ts ON signals (phase, ts_ms)`,
    `CREATE INDEX IF NOT EXISTS signals_phase_accepted ON signals (phase, accepted_ms)`,
    `CREATE TABLE IF NOT EXISTS provenance (
       provenance_id TEXT PRIMARY KEY,
       received_ms INTEGER NOT NULL,
       request_hash TEXT NOT NULL,
       tags TEXT NOT NULL,
       signal_count INTEGER NOT NULL
     )`,
    `CREATE INDEX IF NOT EXISTS provenance_received ON provenance (received_ms)`,
    `CREATE TABLE IF NOT EXISTS idempotency (
       key TEXT PRIMARY KEY,
       body_hash TEXT NOT NULL,
       response TEXT NOT NULL,
       created_ms INTEGER NOT NULL
     )`,
    `CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_ms)`,
    `CREATE TABLE IF NOT EXISTS window_state (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       sum_vw REAL NOT NULL,
       sum_w REAL NOT NULL,
       count INTEGER NOT NULL,
       updated_ms INTEGER
     )`,
    `INSERT OR IGNORE INTO window_state (id, sum_vw, sum_w, count, updated_ms) VALUES (1, 0, 0, 0, NULL)`,
  ],
  // v2 (realtime): a change counter, so score subscribers see every change even within one millisecond.
  2: [`ALTER TABLE window_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0`],
  // v3 (FinOps): per-day, per-operation request counters, written in the same transaction as the request they
  // count; `seq` marks changes not yet pushed to Upstash. Budget alerts raised, once per period and level.
  3: [
    `CREATE TABLE IF NOT EXISTS usage (
       day TEXT NOT NULL,
       op TEXT NOT NULL,
       requests INTEGER NOT NULL DEFAULT 0,
       rejected INTEGER NOT NULL DEFAULT 0,
       signals INTEGER NOT NULL DEFAULT 0,
       seq INTEGER NOT NULL DEFAULT 0,
       PRIMARY KEY (day, op)
     )`,
    `CREATE TABLE IF NOT EXISTS usage_meta (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       seq INTEGER NOT NULL,
       pushed_seq INTEGER NOT NULL,
       tenant_id TEXT
     )`,
    `INSERT OR IGNORE INTO usage_meta (id, seq, pushed_seq, tenant_id) VALUES (1, 0, 0, NULL)`,
    `CREATE TABLE IF NOT EXISTS budget_alerts (
       period TEXT NOT NULL,
       level TEXT NOT NULL,
       cost_usd REAL NOT NULL,
       budget_usd REAL NOT NULL,
       at_ms INTEGER NOT NULL,
       seq INTEGER NOT NULL,
       PRIMARY KEY (period, level)
     )`,
  ],
  // v4 (realtime tickets): each ticket an upgrade used, until it expires — a ticket is good for one upgrade.
  4: [`CREATE TABLE IF NOT EXISTS used_tickets (nonce TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL)`],
  // v5 (provenance ledger, src/domain/ledger.ts): one hash-chained entry per accepted request, kept until the
  // sinks have it and it is a day old (the chain's newest entry always stays: the next one links to it).
  // `last_signal_seq`: the request's newest signal, so an entry leaves only after its signals were handed off.
  5: [
    `CREATE TABLE IF NOT EXISTS ledger (
       seq INTEGER PRIMARY KEY,
       provenance_id TEXT NOT NULL UNIQUE,
       request_sha256 TEXT NOT NULL,
       signal_count INTEGER NOT NULL,
       tags TEXT NOT NULL,
       received_ms INTEGER NOT NULL,
       prev_hash TEXT NOT NULL,
       hash TEXT NOT NULL,
       last_signal_seq INTEGER NOT NULL
     )`,
  ],
  // v7 (breakdown): the window's running sums per source and per type, kept beside the totals, so "why the score is
  // what it is" reads O(groups) rows, never the window (docs/api.md §5.2). Filled from the window's signals.
  7: [
    `CREATE TABLE IF NOT EXISTS group_sums (
       kind TEXT NOT NULL,
       key TEXT NOT NULL,
       sum_vw REAL NOT NULL,
       sum_w REAL NOT NULL,
       count INTEGER NOT NULL,
       PRIMARY KEY (kind, key)
     )`,
    `INSERT OR REPLACE INTO group_sums (kind, key, sum_vw, sum_w, count)
       SELECT 'source', source, SUM(value * weight), SUM(weight), COUNT(*) FROM signals WHERE phase = 1 GROUP BY source`,
    `INSERT OR REPLACE INTO group_sums (kind, key, sum_vw, sum_w, count)
       SELECT 'type', type, SUM(value * weight), SUM(weight), COUNT(*) FROM signals WHERE phase = 1 GROUP BY type`,
    // The score's last 24 h, one point per minute that saw a change: the score as that minute ended.
    `CREATE TABLE IF NOT EXISTS score_history (
       minute INTEGER PRIMARY KEY,
       score REAL NOT NULL,
       status TEXT NOT NULL,
       count INTEGER NOT NULL
     )`,
  ],
  // v8 (FinOps units): the billable units the object counted per UTC day (src/finops/cost-model.ts UNITS), one row
  // per day updated once per invocation; `seq` is the usage ledger's change sequence, as in `usage`.
  8: [
    `CREATE TABLE IF NOT EXISTS usage_units (
       day TEXT PRIMARY KEY,
       seq INTEGER NOT NULL,
       units TEXT NOT NULL
     ) WITHOUT ROWID`,
  ],
};

/** Applies every migration newer than the stored version. Synchronous: SQLite storage is. */
export function migrate(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  const row = sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).toArray()[0];
  const current = row ? Number(row.value) : 0;
  for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
    for (const statement of MIGRATIONS[v] ?? []) sql.exec(statement);
    sql.exec(
      `INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      String(v),
    );
  }
}
