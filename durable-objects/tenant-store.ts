import { contributions, type GroupSums } from "../src/domain/breakdown";
import { dedupeKey } from "../src/domain/dedupe-key";
import { type LedgerEntry, type LedgerLink, nextLedgerEntry } from "../src/domain/ledger";
import { scoreFromSums, statusFor } from "../src/domain/score";
import { MAX_FUTURE_MS } from "../src/domain/signal";
import type {
  BreakdownView,
  IngestCommand,
  IngestOutcome,
  IngestResponse,
  ScorePoint,
  ScoreView,
  SignalOutcome,
} from "../src/domain/tenant-protocol";
import { toIso } from "../src/domain/time";
import { earliest, HISTORY_MINUTES, leavesAt, PHASE_CODE, phaseAt, WINDOW_MS } from "../src/domain/window";
import { spendTicket } from "./socket-table";
import type { TenantContext, TenantPart } from "./tenant-part";

/**
 * How long dedupe and replay records outlive the window: a signal stays while its `ts` is in the window
 * or it was accepted in the last 24 h; idempotency keys for 24 h (docs/api.md §4.3).
 */
export const RECORD_TTL_MS = WINDOW_MS;
/** Provenance rows outlive every signal that can point at them (accepted ≤ 24 h ago, ts ≤ 5 min ahead). */
const PROVENANCE_TTL_MS = WINDOW_MS + MAX_FUTURE_MS + 60_000;
/**
 * When the window shrinks (or a future signal enters it), sums are recomputed in acceptance order while
 * the window holds at most this many signals, so the score is bit-identical to `computeScore` over them.
 * Above it, sums are adjusted incrementally (O(changes)), which can drift in the last ulp.
 */
export const EXACT_RECOMPUTE_MAX = 20_000;

const MINUTE_MS = 60_000;

/** What the per-group sums need of a signal. */
type GroupedRow = { source: string; type: string; value: number; weight: number };

interface WindowState {
  sumVW: number;
  sumW: number;
  count: number;
  /** Bumped on every change of the sums; score subscribers compare it. */
  version: number;
  updatedMs: number | null;
}

/** One accepted signal as the replay log holds it. */
export type EventRow = {
  seq: number;
  signal_id: string;
  type: string;
  value: number;
  weight: number;
  source: string;
  ts_ms: number;
  accepted_ms: number;
};

/** What changed when the window advanced; the realtime layer fans score changes out. */
export interface AdvanceResult {
  entered: number;
  left: number;
  pruned: number;
}

/**
 * A tenant's signals, window sums, provenance ledger and idempotency records in the object's SQLite.
 * Synchronous by design: each method runs to completion inside the object's input gate, so a request
 * and its idempotency record are applied atomically and no retry can observe a half-applied request.
 * Every method takes `nowMs` so tests drive time explicitly.
 */
export class TenantStore implements TenantPart {
  private state: WindowState;
  /** Earliest instant at which the window or the retention changes; `null` when nothing is due. */
  private nextDueMs: number | null;
  private newestSeqValue: number;
  private prunedThroughSeqValue: number;
  /** Highest seq that may be pruned: rows the sinks have not received yet are kept whatever their age. */
  private prunableThroughSeq = Number.MAX_SAFE_INTEGER;
  /** When the oldest row kept for the sinks would be pruned, were it released (`null`: none is kept). */
  private heldPruneMs: number | null = null;
  /** Whether the `tenant_id` meta row exists (written with the first ingest; see {@link recordedTenantId}). */
  private tenantRecorded: boolean;

  /** `true` once the store holds anything of its tenant (the first ingest records the tenant). */
  get holdsData(): boolean {
    return this.tenantRecorded;
  }

  private readonly sql: SqlStorage;
  private readonly storage: DurableObjectStorage;
  private readonly tenantId: string;

  constructor(t: Pick<TenantContext, "tenantId" | "sql" | "state">) {
    const sql = t.sql;
    this.sql = sql;
    this.storage = t.state.storage;
    this.tenantId = t.tenantId;
    const row = sql
      .exec<{ sum_vw: number; sum_w: number; count: number; updated_ms: number | null; version: number }>(
        `SELECT sum_vw, sum_w, count, updated_ms, version FROM window_state WHERE id = 1`,
      )
      .one();
    this.state = {
      sumVW: row.sum_vw,
      sumW: row.sum_w,
      count: row.count,
      updatedMs: row.updated_ms,
      version: row.version,
    };
    this.nextDueMs = this.computeNextDue();
    // AUTOINCREMENT keeps the last issued seq even when every row has been pruned.
    const seqRow = sql.exec<{ seq: number }>(`SELECT seq FROM sqlite_sequence WHERE name = 'signals'`).toArray()[0];
    this.newestSeqValue = seqRow?.seq ?? 0;
    const pruned = sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'pruned_through_seq'`).toArray()[0];
    this.prunedThroughSeqValue = pruned ? Number(pruned.value) : 0;
    this.tenantRecorded = sql.exec(`SELECT value FROM meta WHERE key = 'tenant_id'`).toArray().length > 0;
    this.ledgerHead =
      sql.exec<{ seq: number; hash: string }>(`SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1`).toArray()[0] ??
      null;
  }

  /** Sequence number of the newest accepted signal (0 before the first). */
  get newestSeq(): number {
    return this.newestSeqValue;
  }

  /** Highest sequence number pruned from the replay log; a cursor below it has lost events. */
  get prunedThroughSeq(): number {
    return this.prunedThroughSeqValue;
  }

  /** When the newest signal was accepted (epoch ms); `null` before the first or once it is pruned. */
  newestAcceptedMs(): number | null {
    return (
      this.sql
        .exec<{ accepted_ms: number }>(`SELECT accepted_ms FROM signals WHERE seq = ?`, this.newestSeqValue)
        .toArray()[0]?.accepted_ms ?? null
    );
  }

  /** Change counter of the score; equal versions mean an equal score view. */
  get scoreVersion(): number {
    return this.state.version;
  }

  /** Keeps every row after `seq` whatever its age (the outbox's cursor: rows the sink queue has not taken). */
  keepAfter(seq: number): void {
    if (seq === this.prunableThroughSeq) return;
    const lowered = seq < this.prunableThroughSeq;
    this.prunableThroughSeq = seq;
    // Lowered once, when the outbox starts: what is due depends on it.
    if (lowered) this.nextDueMs = this.computeNextDue();
    // Raised as the queue takes rows: those held back may be due for pruning now.
    else if (this.heldPruneMs !== null) this.noteDue(this.heldPruneMs);
  }

  /** The earliest instant the window or the retention changes, for the object's alarm. */
  nextDueAt(): number | null {
    return this.nextDueMs;
  }

  /** The alarm: signals enter and leave the window, expired records go. */
  onAlarm(nowMs: number): void {
    this.advance(nowMs);
  }

  /** Accepted signals after `seq`, in acceptance order, for replay and fan-out. */
  eventsAfter(seq: number, limit: number): EventRow[] {
    return this.sql
      .exec<EventRow>(
        `SELECT seq, signal_id, type, value, weight, source, ts_ms, accepted_ms FROM signals WHERE seq > ? ORDER BY seq LIMIT ?`,
        seq,
        limit,
      )
      .toArray();
  }

  /** The provenance ledger's newest entry (`null` before the first accepted request). */
  private ledgerHead: LedgerLink | null;
  /** The entry the running ingest appended, until its transaction commits. */
  private stagedLedgerHead: LedgerLink | null = null;

  /**
   * Appends the request's provenance-ledger entry (src/domain/ledger.ts): only a request that stored a new signal
   * gets one, so a replayed or wholly duplicate request adds none. Inside the ingest's transaction.
   */
  private appendLedger(cmd: IngestCommand, accepted: number): void {
    const entry = nextLedgerEntry(this.ledgerHead, {
      tenantId: this.tenantId,
      provenanceId: cmd.provenanceId,
      requestSha256: cmd.requestHash,
      signalCount: accepted,
      policyTags: cmd.policyTags,
      receivedAtMs: cmd.receivedAtMs,
    });
    this.sql.exec(
      `INSERT INTO ledger (seq, provenance_id, request_sha256, signal_count, tags, received_ms, prev_hash, hash, last_signal_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      entry.seq,
      entry.provenanceId,
      entry.requestSha256,
      entry.signalCount,
      JSON.stringify(entry.policyTags),
      entry.receivedAtMs,
      entry.prevHash,
      entry.hash,
      this.newestSeqValue,
    );
    this.stagedLedgerHead = { seq: entry.seq, hash: entry.hash };
  }

  /** The ledger entries after position `afterSeq`, oldest first (the object keeps about a day of them). */
  ledgerAfter(afterSeq: number, limit: number): LedgerEntry[] {
    return this.sql
      .exec<LedgerRow>(`SELECT * FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
      .toArray()
      .map((r) => ledgerEntryOf(this.tenantId, r));
  }

  /** The entry of request `provenanceId` while the object keeps it (about a day), else `null`. */
  ledgerEntry(provenanceId: string): LedgerEntry | null {
    const row = this.sql.exec<LedgerRow>(`SELECT * FROM ledger WHERE provenance_id = ?`, provenanceId).toArray()[0];
    return row ? ledgerEntryOf(this.tenantId, row) : null;
  }

  /** The chain's newest entry (`null` before the first accepted request). */
  get ledgerTip(): LedgerLink | null {
    return this.ledgerHead;
  }

  /** Applies one accepted request, or replays / refuses it by its idempotency key. */
  ingest(cmd: IngestCommand, nowMs: number): IngestOutcome {
    this.advance(nowMs);
    this.stagedLedgerHead = null;
    const outcome = this.storage.transactionSync((): IngestOutcome => {
      if (cmd.idempotency) {
        const prior = this.sql
          .exec<{ body_hash: string; response: string }>(
            `SELECT body_hash, response FROM idempotency WHERE key = ? AND created_ms > ?`,
            cmd.idempotency.key,
            nowMs - RECORD_TTL_MS,
          )
          .toArray()[0];
        if (prior) {
          if (prior.body_hash !== cmd.idempotency.bodyHash) return { kind: "idempotency_conflict" };
          return { kind: "applied", response: JSON.parse(prior.response) as IngestResponse, replayed: true };
        }
      }
      const response = this.apply(cmd, nowMs);
      if (cmd.idempotency) {
        this.noteDue(nowMs + RECORD_TTL_MS);
        this.sql.exec(
          `INSERT OR REPLACE INTO idempotency (key, body_hash, response, created_ms) VALUES (?, ?, ?, ?)`,
          cmd.idempotency.key,
          cmd.idempotency.bodyHash,
          JSON.stringify(response),
          nowMs,
        );
      }
      return { kind: "applied", response, replayed: false };
    });
    // Only now: a first ingest rolled back leaves the row unwritten, so the next one writes it.
    if (outcome.kind === "applied" && !outcome.replayed) this.tenantRecorded = true;
    // Likewise the ledger's head moves only once its entry is committed.
    if (this.stagedLedgerHead) this.ledgerHead = this.stagedLedgerHead;
    this.stagedLedgerHead = null;
    return outcome;
  }

  private apply(cmd: IngestCommand, nowMs: number): IngestResponse {
    if (!this.tenantRecorded) {
      this.sql.exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('tenant_id', ?)`, this.tenantId);
    }
    this.sql.exec(
      `INSERT INTO provenance (provenance_id, received_ms, request_hash, tags, signal_count) VALUES (?, ?, ?, ?, ?)`,
      cmd.provenanceId,
      cmd.receivedAtMs,
      cmd.requestHash,
      JSON.stringify(cmd.policyTags),
      cmd.signals.length,
    );
    // One statement for the whole batch: rows travel as one JSON parameter (Durable Object SQL caps bound
    // parameters per statement, and a statement per row costs a runtime crossing each). RETURNING lists the
    // keys that were new; in-batch repeats conflict with their first occurrence, which json_each inserts first.
    const rows = cmd.signals.map((s) => [
      dedupeKey(s.source, s.signalId, s.tsIso),
      s.signalId,
      s.type,
      s.source,
      s.value,
      s.weight,
      s.tsMs,
      PHASE_CODE[phaseAt(s.tsMs, nowMs)],
    ]);
    const inserted = new Set<string>();
    const cursor = this.sql.exec<{ dkey: string; seq: number }>(
      `INSERT INTO signals (dkey, signal_id, type, source, value, weight, ts_ms, phase, provenance_id, accepted_ms)
       SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5,
              j.value ->> 6, j.value ->> 7, ?, ?
       FROM json_each(?) AS j WHERE true
       ON CONFLICT (dkey) DO NOTHING RETURNING dkey, seq`,
      cmd.provenanceId,
      nowMs,
      JSON.stringify(rows),
    );
    for (const row of cursor) {
      inserted.add(row.dkey);
      if (row.seq > this.newestSeqValue) this.newestSeqValue = row.seq;
    }
    const outcomes: SignalOutcome[] = [];
    let accepted = 0;
    let { sumVW, sumW, count } = this.state;
    let changed = false;
    const entered: GroupedRow[] = [];
    cmd.signals.forEach((s, i) => {
      const key = rows[i]?.[0] as string;
      if (!inserted.delete(key)) {
        outcomes.push({ signalId: s.signalId, status: "duplicate" });
        return;
      }
      accepted++;
      outcomes.push({ signalId: s.signalId, status: "accepted" });
      const phase = rows[i]?.[7];
      // New rows can only bring the next due instant closer; no need to re-query the table.
      this.noteDue(
        phase === PHASE_CODE.pending ? s.tsMs : phase === PHASE_CODE.in ? leavesAt(s.tsMs) : nowMs + RECORD_TTL_MS,
      );
      if (phase === PHASE_CODE.in) {
        // Same operation order as computeScore over acceptance order.
        sumVW += s.value * s.weight;
        sumW += s.weight;
        count++;
        changed = true;
        entered.push(s);
      }
    });
    if (changed) {
      this.saveState({ sumVW, sumW, count, updatedMs: nowMs, version: this.state.version + 1 });
      this.addToGroups(entered, 1);
    }
    if (accepted > 0) this.appendLedger(cmd, accepted);
    return { accepted, duplicates: cmd.signals.length - accepted, provenanceId: cmd.provenanceId, signals: outcomes };
  }

  /**
   * Moves signals into and out of the window as of `nowMs` and prunes expired records.
   * Cheap when nothing is due: it returns at once until the next due instant.
   */
  advance(nowMs: number): AdvanceResult {
    const result: AdvanceResult = { entered: 0, left: 0, pruned: 0 };
    if (this.nextDueMs === null || nowMs < this.nextDueMs) return result;
    this.storage.transactionSync(() => {
      const horizon = nowMs - WINDOW_MS;
      let { sumVW, sumW, count } = this.state;
      const entering = this.sql
        .exec<{ seq: number; value: number; weight: number; ts_ms: number } & GroupedRow>(
          `SELECT seq, value, weight, ts_ms, source, type FROM signals WHERE phase = 0 AND ts_ms <= ? ORDER BY seq`,
          nowMs,
        )
        .toArray();
      const entered: GroupedRow[] = [];
      for (const row of entering) {
        const inWindow = row.ts_ms > horizon;
        this.sql.exec(`UPDATE signals SET phase = ? WHERE seq = ?`, inWindow ? 1 : 2, row.seq);
        if (inWindow) {
          sumVW += row.value * row.weight;
          sumW += row.weight;
          count++;
          result.entered++;
          entered.push(row);
        }
      }
      const leaving = this.sql
        .exec<{ seq: number } & GroupedRow>(
          `SELECT seq, value, weight, source, type FROM signals WHERE phase = 1 AND ts_ms <= ?`,
          horizon,
        )
        .toArray();
      for (const row of leaving) {
        this.sql.exec(`UPDATE signals SET phase = 2 WHERE seq = ?`, row.seq);
        sumVW -= row.value * row.weight;
        sumW -= row.weight;
        count--;
        result.left++;
      }
      if (result.entered > 0 || result.left > 0) {
        const next =
          count === 0
            ? { sumVW: 0, sumW: 0, count: 0 }
            : count <= EXACT_RECOMPUTE_MAX
              ? this.recomputeSums()
              : { sumVW, sumW, count };
        this.saveState({ ...next, updatedMs: nowMs, version: this.state.version + 1 });
        // Groups are adjusted incrementally even when the totals are recomputed: they are reported to 4 decimals,
        // so an ulp of drift never shows, and a scan per kind at every window change would cost more than it buys.
        if (count === 0) this.sql.exec(`DELETE FROM group_sums`);
        else {
          this.addToGroups(entered, 1);
          this.addToGroups(leaving, -1);
        }
      }
      const prunable = this.sql
        .exec<{ n: number; top: number | null }>(
          `SELECT COUNT(*) AS n, MAX(seq) AS top FROM signals WHERE phase = 2 AND accepted_ms <= ? AND seq <= ?`,
          nowMs - RECORD_TTL_MS,
          this.prunableThroughSeq,
        )
        .one();
      if (prunable.n > 0) {
        this.sql.exec(
          `DELETE FROM signals WHERE phase = 2 AND accepted_ms <= ? AND seq <= ?`,
          nowMs - RECORD_TTL_MS,
          this.prunableThroughSeq,
        );
        result.pruned += prunable.n;
        if ((prunable.top ?? 0) > this.prunedThroughSeqValue) {
          this.prunedThroughSeqValue = prunable.top ?? 0;
          this.sql.exec(
            `INSERT INTO meta (key, value) VALUES ('pruned_through_seq', ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
            String(this.prunedThroughSeqValue),
          );
        }
      }
      this.sql.exec(`DELETE FROM idempotency WHERE created_ms <= ?`, nowMs - RECORD_TTL_MS);
      this.sql.exec(`DELETE FROM provenance WHERE received_ms <= ?`, nowMs - PROVENANCE_TTL_MS);
      // Ledger entries go with their provenance records, once the sinks have their signals (and with them the
      // entry); the newest stays, for the next entry to link to.
      this.sql.exec(
        `DELETE FROM ledger WHERE received_ms <= ? AND last_signal_seq <= ? AND seq < (SELECT MAX(seq) FROM ledger)`,
        nowMs - PROVENANCE_TTL_MS,
        this.prunableThroughSeq,
      );
      this.nextDueMs = this.computeNextDue();
    });
    return result;
  }

  /** The tenant's score as of `nowMs` (advancing the window first). O(1) when nothing is due. */
  score(nowMs: number): ScoreView {
    this.advance(nowMs);
    const { sumVW, sumW, count, updatedMs } = this.state;
    const score = count === 0 ? 0 : scoreFromSums(sumVW, sumW);
    return {
      tenantId: this.tenantId,
      score,
      status: statusFor(score, count, sumW),
      updatedAt: toIso(updatedMs ?? nowMs),
      signalCount: count,
    };
  }

  /**
   * The score over the last `minutes` (≤ 24 h), oldest first: one point per minute in which it changed, the score
   * as that minute ended; the last point is the current score. Gaps are minutes without a change (the score held).
   */
  history(nowMs: number, minutes = HISTORY_MINUTES): ScorePoint[] {
    const view = this.score(nowMs);
    const span = Math.min(Math.max(1, Math.floor(minutes)), HISTORY_MINUTES);
    const from = Math.floor(nowMs / MINUTE_MS) - span;
    const points = this.sql
      .exec<{ minute: number; score: number; status: ScoreView["status"]; count: number }>(
        `SELECT minute, score, status, count FROM score_history WHERE minute > ? ORDER BY minute`,
        from,
      )
      .toArray()
      .map((r) => ({ at: toIso(r.minute * MINUTE_MS), score: r.score, status: r.status, signalCount: r.count }));
    if (this.state.updatedMs !== null) {
      const at = toIso(Math.floor(this.state.updatedMs / MINUTE_MS) * MINUTE_MS);
      const last = points.at(-1);
      const current = { at, score: view.score, status: view.status, signalCount: view.signalCount };
      if (last?.at === at) points[points.length - 1] = current;
      else points.push(current);
    }
    return points;
  }

  /**
   * Why the score is what it is (docs/api.md §5.2): the window's contributions by source and by type, the ones
   * pulling the score down most first. O(number of groups) from the running sums, after advancing the window.
   */
  breakdown(nowMs: number): BreakdownView {
    const view = this.score(nowMs);
    const groups: Record<"source" | "type", GroupSums[]> = { source: [], type: [] };
    for (const row of this.sql.exec<{
      kind: "source" | "type";
      key: string;
      sum_vw: number;
      sum_w: number;
      count: number;
    }>(`SELECT kind, key, sum_vw, sum_w, count FROM group_sums`)) {
      groups[row.kind]?.push({ key: row.key, sumVW: row.sum_vw, sumW: row.sum_w, count: row.count });
    }
    const { sumVW, sumW } = this.state;
    return {
      ...view,
      bySource: contributions(groups.source, sumVW, sumW),
      byType: contributions(groups.type, sumVW, sumW),
    };
  }

  /**
   * Records that an upgrade used the realtime ticket `nonce` (valid until `expiresMs`); `false` when one already
   * did. Expired entries go first, so the table holds at most a minute of tickets.
   */
  useTicket(nonce: string, expiresMs: number, nowMs: number): boolean {
    return spendTicket(this.sql, nonce, expiresMs, nowMs);
  }

  storedSignals(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM signals`).one().n;
  }

  private recomputeSums(): { sumVW: number; sumW: number; count: number } {
    let sumVW = 0;
    let sumW = 0;
    let count = 0;
    for (const row of this.sql.exec<{ value: number; weight: number }>(
      `SELECT value, weight FROM signals WHERE phase = 1 ORDER BY seq`,
    )) {
      sumVW += row.value * row.weight;
      sumW += row.weight;
      count++;
    }
    return { sumVW, sumW, count };
  }

  /** Adds (`sign` 1) or removes (-1) signals' value·weight, weight and count to their source's and type's sums. */
  private addToGroups(rows: readonly GroupedRow[], sign: 1 | -1): void {
    if (rows.length === 0) return;
    const deltas = new Map<string, { kind: "source" | "type"; key: string; vw: number; w: number; n: number }>();
    for (const row of rows) {
      for (const [kind, key] of [
        ["source", row.source],
        ["type", row.type],
      ] as const) {
        const id = `${kind}\u0000${key}`;
        const d = deltas.get(id) ?? { kind, key, vw: 0, w: 0, n: 0 };
        d.vw += sign * row.value * row.weight;
        d.w += sign * row.weight;
        d.n += sign;
        deltas.set(id, d);
      }
    }
    for (const d of deltas.values()) {
      this.sql.exec(
        `INSERT INTO group_sums (kind, key, sum_vw, sum_w, count) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (kind, key) DO UPDATE SET sum_vw = sum_vw + excluded.sum_vw, sum_w = sum_w + excluded.sum_w,
           count = count + excluded.count`,
        d.kind,
        d.key,
        d.vw,
        d.w,
        d.n,
      );
    }
    if (sign < 0) this.sql.exec(`DELETE FROM group_sums WHERE count <= 0`);
  }

  private saveState(next: WindowState): void {
    this.recordHistory(this.state, next.updatedMs);
    this.state = next;
    this.sql.exec(
      `UPDATE window_state SET sum_vw = ?, sum_w = ?, count = ?, updated_ms = ?, version = ? WHERE id = 1`,
      next.sumVW,
      next.sumW,
      next.count,
      next.updatedMs,
      next.version,
    );
  }

  /**
   * Closes the previous change's minute in the score history when `nowMs` is in a later minute: the score then was
   * that minute's last. At most one write a minute whatever the traffic; the current minute's point is the state
   * itself (see {@link history}). Points older than the history's span go at the same time.
   */
  private recordHistory(previous: WindowState, nowMs: number | null): void {
    if (previous.updatedMs === null || nowMs === null) return;
    const minute = Math.floor(previous.updatedMs / MINUTE_MS);
    if (minute >= Math.floor(nowMs / MINUTE_MS)) return;
    const score = previous.count === 0 ? 0 : scoreFromSums(previous.sumVW, previous.sumW);
    this.sql.exec(
      `INSERT OR REPLACE INTO score_history (minute, score, status, count) VALUES (?, ?, ?, ?)`,
      minute,
      score,
      statusFor(score, previous.count, previous.sumW),
      previous.count,
    );
    this.sql.exec(`DELETE FROM score_history WHERE minute < ?`, minute - HISTORY_MINUTES);
  }

  private noteDue(dueMs: number): void {
    if (this.nextDueMs === null || dueMs < this.nextDueMs) this.nextDueMs = dueMs;
  }

  /**
   * The earliest due instant. Rows kept for the sinks (past {@link keepAfter}'s seq) are left out: the store
   * cannot prune them, and their instant, soon in the past, would hold the object's one alarm on work nobody can
   * do, ahead of the other parts' (the outbox's retry). Their own prune instant is remembered for when the
   * outbox releases them.
   */
  private computeNextDue(): number | null {
    const row = this.sql
      .exec<{
        pending: number | null;
        oldest_in: number | null;
        oldest_out: number | null;
        oldest_held: number | null;
        oldest_key: number | null;
      }>(
        `SELECT
           (SELECT MIN(ts_ms) FROM signals WHERE phase = 0) AS pending,
           (SELECT MIN(ts_ms) FROM signals WHERE phase = 1) AS oldest_in,
           (SELECT MIN(accepted_ms) FROM signals WHERE phase = 2 AND seq <= ?) AS oldest_out,
           (SELECT MIN(accepted_ms) FROM signals WHERE phase = 2 AND seq > ?) AS oldest_held,
           (SELECT MIN(created_ms) FROM idempotency) AS oldest_key`,
        this.prunableThroughSeq,
        this.prunableThroughSeq,
      )
      .one();
    this.heldPruneMs = row.oldest_held === null ? null : row.oldest_held + RECORD_TTL_MS;
    return earliest(
      row.pending,
      row.oldest_in === null ? null : leavesAt(row.oldest_in),
      row.oldest_out === null ? null : row.oldest_out + RECORD_TTL_MS,
      row.oldest_key === null ? null : row.oldest_key + RECORD_TTL_MS,
    );
  }
}

/**
 * The tenant id an earlier version recorded in storage (the store's `meta` row, or the usage ledger's), for an
 * object reached without a name. The rows are still written, so a version rolled back to finds them.
 */
export function recordedTenantId(sql: SqlStorage): string | null {
  const row = sql
    .exec<{ id: string | null }>(
      `SELECT COALESCE((SELECT value FROM meta WHERE key = 'tenant_id'), (SELECT tenant_id FROM usage_meta WHERE id = 1)) AS id`,
    )
    .toArray()[0];
  return row?.id ?? null;
}

/** A `ledger` row as stored. */
export type LedgerRow = {
  seq: number;
  provenance_id: string;
  request_sha256: string;
  signal_count: number;
  tags: string;
  received_ms: number;
  prev_hash: string;
  hash: string;
  last_signal_seq: number;
};

export function ledgerEntryOf(tenantId: string, r: LedgerRow): LedgerEntry {
  return {
    tenantId,
    seq: r.seq,
    provenanceId: r.provenance_id,
    requestSha256: r.request_sha256,
    signalCount: r.signal_count,
    policyTags: JSON.parse(r.tags) as LedgerEntry["policyTags"],
    receivedAtMs: r.received_ms,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
