import { neonConfig, Pool } from "@neondatabase/serverless";
import type { LedgerEntry } from "../domain/ledger";
import { type LedgerStore, type ScoreStore, SinkError } from "../ports";
import type { SinkScore } from "../queues/messages";
import { dbAttributes, postgresDatabase, withClientSpan } from "../telemetry/db-client";
import { logEvent } from "../telemetry/log";
import type { TraceScope } from "../telemetry/tracer";

/** Settings of the Postgres sink: a connection string, and for local use Neon's wsproxy (`host:port/v1`). */
export interface PostgresSettings {
  url: string;
  wsProxy: string | null;
}

// Rows move forward only: an out-of-order (older) version never overwrites a newer one (docs/api.md §7).
const UPSERT = `
INSERT INTO coherence_scores (tenant_id, score, status, updated_at, signal_count, version)
VALUES ($1, $2, $3, to_timestamp($4::double precision / 1000), $5, $6)
ON CONFLICT (tenant_id) DO UPDATE SET
  score = EXCLUDED.score, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
  signal_count = EXCLUDED.signal_count, version = EXCLUDED.version
WHERE coherence_scores.version < EXCLUDED.version`;

// Append-only (the writer role may not update or delete): a redelivered entry is already there and changes nothing.
const APPEND_LEDGER = `
INSERT INTO provenance_ledger
  (tenant_id, seq, provenance_id, request_sha256, signal_count, policy_tags, received_at_ms, prev_hash, hash)
SELECT e.tenant_id, e.seq, e.provenance_id, e.request_sha256, e.signal_count, e.policy_tags, e.received_at_ms,
       e.prev_hash, e.hash
FROM jsonb_to_recordset($1::jsonb) AS e(tenant_id text, seq bigint, provenance_id text, request_sha256 text,
     signal_count integer, policy_tags jsonb, received_at_ms bigint, prev_hash text, hash text)
ON CONFLICT DO NOTHING`;

/** A `provenance_ledger` row as read (bigint columns cast to float8, so they arrive as numbers). */
interface LedgerRow {
  seq: number;
  provenance_id: string;
  request_sha256: string;
  signal_count: number;
  policy_tags: LedgerEntry["policyTags"];
  received_at_ms: number;
  prev_hash: string;
  hash: string;
}

/**
 * The runtime's WebSocket, except that `send()` on a socket that is no longer open does nothing. The driver
 * coalesces writes and sends them from a zero-delay timer; when the server side closes in between (Postgres
 * down behind the proxy, a connection refused mid-handshake), workerd's `send()` throws inside that timer, where
 * nothing can catch it ("Uncaught TypeError: Can't call WebSocket send() after close()"). Data sent to a closed
 * socket is lost either way; the driver learns of the close from the socket's close event and fails the query.
 */
class SendAfterCloseSafeWebSocket extends WebSocket {
  override send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== WebSocket.OPEN) return;
    super.send(data);
  }
}

/**
 * {@link ScoreStore} over `@neondatabase/serverless` (node-postgres API over WebSocket). Workers cannot keep
 * connections between invocations, so each user opens a store, uses it, and closes it.
 */
export class NeonScoreStore implements ScoreStore, LedgerStore {
  private readonly pool: Pool;
  private readonly url: string;

  /** Set by {@link close}: errors of connections ending after it are the close itself. */
  private closing = false;

  constructor(settings: PostgresSettings) {
    this.url = settings.url;
    neonConfig.webSocketConstructor = SendAfterCloseSafeWebSocket;
    if (settings.wsProxy) {
      // Local/test only: plain ws:// to Neon's wsproxy in front of a real Postgres.
      neonConfig.wsProxy = settings.wsProxy;
      neonConfig.useSecureWebSocket = false;
      neonConfig.pipelineConnect = false;
    }
    this.pool = new Pool({ connectionString: settings.url, max: 4 });
    // An idle pooled connection that drops (Postgres restarted, the network lost) is reported as the pool's
    // 'error' event; without a listener the emitter throws it as uncaught. The pool has already discarded that
    // connection and the next query opens a fresh one, so a warning is all it needs.
    this.pool.on("error", (err: unknown) => {
      // Connections ending because we closed the pool are not lost: nothing to report.
      if (this.closing) return;
      logEvent({
        level: "warn",
        op: "postgres_idle_error",
        error_code: "SINK_CONNECTION_LOST",
        // The driver hands over the socket's ErrorEvent, not an Error: its text is in `message` either way.
        message: String((err as { message?: unknown } | null)?.message ?? err),
      });
    });
  }

  async upsertScore(s: SinkScore, trace?: TraceScope): Promise<void> {
    const attributes = dbAttributes("postgresql", this.url, postgresDatabase(this.url), "upsert");
    await withClientSpan(trace, "postgres.upsert", attributes, () =>
      this.query(UPSERT, [s.tenantId, s.score, s.status, s.updatedAtMs, s.signalCount, s.version]),
    );
  }

  async appendLedger(entries: readonly LedgerEntry[], trace?: TraceScope): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({
      tenant_id: e.tenantId,
      seq: e.seq,
      provenance_id: e.provenanceId,
      request_sha256: e.requestSha256,
      signal_count: e.signalCount,
      policy_tags: e.policyTags,
      received_at_ms: e.receivedAtMs,
      prev_hash: e.prevHash,
      hash: e.hash,
    }));
    const attributes = dbAttributes("postgresql", this.url, postgresDatabase(this.url), "insert");
    await withClientSpan(trace, "postgres.insert", attributes, () => this.query(APPEND_LEDGER, [JSON.stringify(rows)]));
  }

  async ledgerEntry(tenantId: string, provenanceId: string): Promise<LedgerEntry | null> {
    const rows = (await this.query(
      `SELECT seq::float8 AS seq, provenance_id, request_sha256, signal_count, policy_tags,
              received_at_ms::float8 AS received_at_ms, prev_hash, hash
       FROM provenance_ledger WHERE tenant_id = $1 AND provenance_id = $2`,
      [tenantId, provenanceId],
    )) as LedgerRow[];
    const r = rows[0];
    if (!r) return null;
    return {
      tenantId,
      seq: r.seq,
      provenanceId: r.provenance_id,
      requestSha256: r.request_sha256,
      signalCount: r.signal_count,
      policyTags: r.policy_tags,
      receivedAtMs: r.received_at_ms,
      prevHash: r.prev_hash,
      hash: r.hash,
    };
  }

  async purgeLedgerBefore(cutoffMs: number): Promise<number> {
    const rows = (await this.query(`SELECT purge_provenance_ledger($1)::float8 AS removed`, [cutoffMs])) as {
      removed: number;
    }[];
    return rows[0]?.removed ?? 0;
  }

  async readScore(tenantId: string): Promise<SinkScore | null> {
    const rows = await this.query(
      `SELECT tenant_id, score::float8 AS score, status, (extract(epoch from updated_at) * 1000)::float8 AS updated_ms,
              signal_count, version FROM coherence_scores WHERE tenant_id = $1`,
      [tenantId],
    );
    const r = rows[0] as
      | { tenant_id: string; score: number; status: string; updated_ms: number; signal_count: number; version: string }
      | undefined;
    if (!r) return null;
    return {
      tenantId: r.tenant_id,
      score: r.score,
      status: r.status,
      updatedAtMs: Math.round(r.updated_ms),
      signalCount: r.signal_count,
      version: Number(r.version),
    };
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1", []);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.pool.end().catch(() => undefined);
  }

  private async query(text: string, params: unknown[]): Promise<unknown[]> {
    try {
      const result = await this.pool.query(text, params);
      return result.rows;
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      // Class 42 (syntax, undefined table/column) will not heal by retrying the same message.
      throw new SinkError(
        "postgres",
        `${code} ${err instanceof Error ? err.message : String(err)}`,
        !code.startsWith("42"),
      );
    }
  }
}
