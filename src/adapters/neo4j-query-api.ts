import { WINDOW_MS } from "../domain/window";
import { type GraphWriter, SinkError, type WindowSums } from "../ports";
import type { SinkScore, SinkSignal } from "../queues/messages";
import { dbAttributes, withClientSpan } from "../telemetry/db-client";
import { type TraceScope, traceHeaders } from "../telemetry/tracer";

/** Settings of the Neo4j sink (docs/api.md §7). */
export interface Neo4jSettings {
  url: string;
  user: string;
  password: string;
  database: string;
}

/**
 * One statement per tenant's batch of signals. Policy tags travel once per provenance in `$provenance` (a map by
 * provenance id), not once per row: smaller parameters are a measurable share of the statement's cost.
 */
export const WRITE_SIGNALS = `
MERGE (t:Tenant {tenant_id: $tenantId})
WITH t
UNWIND $rows AS r
MERGE (s:Signal {key: r.key})
  ON CREATE SET s.tenant_id = $tenantId, s.signal_id = r.signalId, s.type = r.type, s.value = r.value,
    s.weight = r.weight, s.source = r.source, s.ts = datetime({epochMillis: r.tsMs}),
    s.accepted_at = datetime({epochMillis: r.acceptedMs}), s.provenance_id = r.provenanceId,
    s.purpose = $provenance[r.provenanceId].purpose, s.retention = $provenance[r.provenanceId].retention,
    s.license = $provenance[r.provenanceId].license, s.residency = $provenance[r.provenanceId].residency
MERGE (t)-[:EMITS]->(s)`;

/** The parameters of {@link WRITE_SIGNALS} for one tenant's signals (also what the sinks benchmark sends raw). */
export function signalsParameters(
  tenantId: string,
  signals: readonly SinkSignal[],
): { tenantId: string; provenance: Record<string, Record<string, string>>; rows: Array<Record<string, unknown>> } {
  const provenance: Record<string, Record<string, string>> = {};
  const rows = signals.map((s) => {
    provenance[s.provenanceId] ??= s.tags;
    return {
      key: signalKey(tenantId, s),
      signalId: s.signalId,
      type: s.type,
      source: s.source,
      value: s.value,
      weight: s.weight,
      tsMs: s.tsMs,
      acceptedMs: s.acceptedMs,
      provenanceId: s.provenanceId,
    };
  });
  return { tenantId, provenance, rows };
}

const WRITE_SCORE = `
MERGE (t:Tenant {tenant_id: $tenantId})
MERGE (t)-[:HAS_SCORE]->(c:CoherenceScore {tenant_id: $tenantId})
WITH c WHERE coalesce(c.version, -1) < $version
SET c.score = $score, c.status = $status, c.signal_count = $signalCount,
    c.updated_at = datetime({epochMillis: $updatedAtMs}), c.version = $version`;

const DELETE_OLD = `
MATCH (s:Signal) WHERE s.ts < datetime({epochMillis: $cutoffMs})
WITH s LIMIT 10000
DETACH DELETE s
RETURN count(*) AS n`;

/** A tenant's scoring window from the graph (ADR-001's fallback read): `ts` in `(from, to]`. */
export const READ_WINDOW = `
MATCH (:Tenant {tenant_id: $tenantId})-[:EMITS]->(s:Signal)
WHERE s.ts > datetime({epochMillis: $fromMs}) AND s.ts <= datetime({epochMillis: $toMs})
RETURN sum(s.value * s.weight) AS sumVW, sum(s.weight) AS sumW, count(s) AS n,
  max(s.accepted_at).epochMillis AS lastAcceptedMs`;

/** The signal's node key: the contract's dedupe key `(tenantId, source, signalId, ts)`. */
export function signalKey(tenantId: string, s: Pick<SinkSignal, "source" | "signalId" | "tsMs">): string {
  return JSON.stringify([tenantId, s.source, s.signalId, s.tsMs]);
}

/** {@link GraphWriter} over Neo4j's HTTP Query API (`POST /db/{db}/query/v2`) with plain `fetch`. */
export class Neo4jQueryApi implements GraphWriter {
  private readonly endpoint: string;
  private readonly auth: string;
  private readonly settings: Neo4jSettings;

  constructor(settings: Neo4jSettings) {
    this.settings = settings;
    this.endpoint = `${settings.url.replace(/\/+$/, "")}/db/${encodeURIComponent(settings.database)}/query/v2`;
    this.auth = `Basic ${btoa(`${settings.user}:${settings.password}`)}`;
  }

  async writeSignals(tenantId: string, signals: SinkSignal[], trace?: TraceScope): Promise<void> {
    await this.run(WRITE_SIGNALS, signalsParameters(tenantId, signals), trace, "writeSignals");
  }

  async writeScore(score: SinkScore, trace?: TraceScope): Promise<void> {
    await this.run(WRITE_SCORE, { ...score }, trace, "writeScore");
  }

  async deleteSignalsBefore(cutoffMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const values = await this.run(DELETE_OLD, { cutoffMs });
      const n = Number(values[0]?.[0] ?? 0);
      total += n;
      if (n < 10000) return total;
    }
  }

  async ping(): Promise<void> {
    await this.run("RETURN 1 AS ok", {});
  }

  async readWindow(tenantId: string, nowMs: number): Promise<WindowSums> {
    const values = await this.run(
      READ_WINDOW,
      { tenantId, fromMs: nowMs - WINDOW_MS, toMs: nowMs },
      undefined,
      "readWindow",
    );
    const row = values[0] ?? [];
    const last = row[3];
    return {
      sumVW: Number(row[0] ?? 0),
      sumW: Number(row[1] ?? 0),
      count: Number(row[2] ?? 0),
      lastAcceptedMs: last === null || last === undefined ? null : Number(last),
    };
  }

  /** Runs one statement in an implicit transaction (a `neo4j.query` client span under `trace`); returns the rows. */
  async run(
    statement: string,
    parameters: Record<string, unknown>,
    trace?: TraceScope,
    operation = "query",
  ): Promise<unknown[][]> {
    const { url, database } = this.settings;
    return withClientSpan(trace, "neo4j.query", dbAttributes("neo4j", url, database, operation), (span) =>
      this.post(statement, parameters, traceHeaders(span)),
    );
  }

  private async post(
    statement: string,
    parameters: Record<string, unknown>,
    extraHeaders: Record<string, string>,
  ): Promise<unknown[][]> {
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          authorization: this.auth,
          ...extraHeaders,
        },
        body: JSON.stringify({ statement, parameters }),
      });
    } catch (err) {
      throw new SinkError("neo4j", `unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const body = (await res.json().catch(() => null)) as {
      data?: { values?: unknown[][] };
      errors?: Array<{ code?: string; message?: string }>;
    } | null;
    const first = body?.errors?.[0];
    if (!res.ok || first) {
      const code = first?.code ?? `HTTP ${res.status}`;
      // Syntax and semantic errors cannot succeed on retry; transient and auth errors can (after a fix).
      const permanent = /Neo\.ClientError\.Statement\.(SyntaxError|TypeError|ArgumentError)/.test(code);
      throw new SinkError("neo4j", `${code}: ${first?.message ?? res.statusText}`, !permanent);
    }
    return body?.data?.values ?? [];
  }
}
