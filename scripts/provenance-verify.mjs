// `npm run provenance:verify -- --tenant T [--from ISO] [--to ISO] [--no-object] [--json]`: recomputes a
// tenant's provenance-ledger chain (src/domain/ledger.ts) from Postgres (DATABASE_URL, read with psql) and from
// the tenant's object (the running service, COHERENCE_URL, default http://127.0.0.1:8787), checks that each
// holds and that both agree, and reports the first broken link. The runbook's "ledger hash check before export".
//
// --from/--to (ISO times) audit the entries received in that span, linked to the entry before it. The token for the
// object's entries (scope coherence:read, the tenant's own): COHERENCE_TOKEN if set, else a dev token as
// `npm run token` mints. Exit 0: the chain holds; 1: it is broken (the report says where); 2: it could not be checked.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { auditLedger } from "../src/domain/ledger.ts";
import { serviceBase, tokenOrDev } from "./lib/service-client.mjs";
import { localSettings } from "./lib/settings.mjs";

/** @typedef {import("../src/domain/ledger.ts").LedgerEntry} LedgerEntry */

const { values } = parseArgs({
  options: {
    tenant: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    "no-object": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

/**
 * @param {string} message
 * @returns {never}
 */
function cannotCheck(message) {
  process.stderr.write(`[provenance] cannot check: ${message}\n`);
  process.exit(2);
}

const tenant = values.tenant;
if (!tenant || !/^[A-Za-z0-9._:-]{1,128}$/.test(tenant)) {
  process.stderr.write(
    "usage: npm run provenance:verify -- --tenant T [--from ISO] [--to ISO] [--no-object] [--json]\n",
  );
  process.exit(2);
}
/** @param {string | undefined} text @param {string} name */
function instant(text, name) {
  if (text === undefined) return null;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) cannotCheck(`--${name} must be an ISO time, got ${text}`);
  return ms;
}
const fromMs = instant(values.from, "from");
const toMs = instant(values.to, "to");

const settings = localSettings("");
const databaseUrl =
  process.env.DATABASE_URL ??
  settings.DATABASE_URL ??
  cannotCheck("DATABASE_URL is not set (environment or .dev.vars)");

// One statement: the span's rows, the entry just before it, and the retention job's record of what it removed.
// psql variables (:'t') quote the values; nothing is pasted into the SQL.
const SQL = `
WITH bounds AS (
  SELECT
    (SELECT min(seq) FROM provenance_ledger WHERE tenant_id = :'t'
       AND received_at_ms >= coalesce(nullif(:'from', '')::bigint, -9223372036854775808)) AS lo,
    (SELECT max(seq) FROM provenance_ledger WHERE tenant_id = :'t'
       AND received_at_ms <= coalesce(nullif(:'to', '')::bigint, 9223372036854775807)) AS hi
)
SELECT json_build_object(
  'rows', (SELECT coalesce(json_agg(json_build_object('tenantId', l.tenant_id, 'seq', l.seq,
             'provenanceId', l.provenance_id, 'requestSha256', l.request_sha256, 'signalCount', l.signal_count,
             'policyTags', l.policy_tags, 'receivedAtMs', l.received_at_ms, 'prevHash', l.prev_hash, 'hash', l.hash)
             ORDER BY l.seq), '[]')
           FROM provenance_ledger l, bounds b WHERE l.tenant_id = :'t' AND l.seq BETWEEN b.lo AND b.hi),
  'before', (SELECT json_build_object('seq', l.seq, 'hash', l.hash) FROM provenance_ledger l, bounds b
             WHERE l.tenant_id = :'t' AND l.seq < b.lo ORDER BY l.seq DESC LIMIT 1),
  'purged', (SELECT json_build_object('seq', seq, 'hash', hash) FROM provenance_ledger_anchor WHERE tenant_id = :'t')
)`;

const psql = spawnSync(
  "psql",
  [
    databaseUrl,
    "-X",
    "-At",
    "-v",
    "ON_ERROR_STOP=1",
    "-v",
    `t=${tenant}`,
    "-v",
    `from=${fromMs ?? ""}`,
    "-v",
    `to=${toMs ?? ""}`,
  ],
  { input: SQL, encoding: "utf8" },
);
if (psql.error) cannotCheck(`psql: ${psql.error.message}`);
if (psql.status !== 0) cannotCheck(`psql: ${psql.stderr.trim()}`);
/** @type {{ rows: LedgerEntry[]; before: { seq: number; hash: string } | null; purged: { seq: number; hash: string } | null }} */
const stored = JSON.parse(psql.stdout.trim());
// The span starts after the entry before it; with nothing before it, after what retention removed, or the start.
const first = stored.rows[0];
const anchor = stored.before
  ? { link: stored.before, kind: /** @type {const} */ ("entry") }
  : stored.purged && (!first || stored.purged.seq < first.seq)
    ? { link: stored.purged, kind: /** @type {const} */ ("purged") }
    : null;

/** @type {{ entries: LedgerEntry[]; head: { seq: number; hash: string } | null } | null} */
let object = null;
if (!values["no-object"]) object = await objectEntries(tenant);

const audit = auditLedger({ postgres: stored.rows, anchor, object });
if (values.json) {
  process.stdout.write(`${JSON.stringify(audit, null, 2)}\n`);
} else {
  const span = (/** @type {{ entries: number; first: number | null; last: number | null }} */ s) =>
    s.entries === 0 ? "none" : `${s.first}..${s.last} (${s.entries})`;
  const from = {
    genesis: "the chain's start",
    entry: "the entry before them",
    purged: "the last entry retention removed",
  };
  process.stdout.write(
    `[provenance] tenant ${tenant}: Postgres entries ${span(audit.postgres)}, linked to ${from[audit.postgres.anchor]}\n`,
  );
  if (audit.object) {
    process.stdout.write(
      `[provenance] the tenant's object: entries ${span(audit.object)}, head ${audit.object.head ?? "none"}\n`,
    );
  }
  if (audit.break) {
    const b = audit.break;
    process.stdout.write(`[provenance] BROKEN at entry ${b.seq} (${b.store}, ${b.reason}): ${b.detail}\n`);
  } else {
    const pending =
      audit.object && toMs === null ? `; ${audit.notYetInPostgres} newer entries not yet in Postgres` : "";
    process.stdout.write(`[provenance] OK: the chain holds${pending}\n`);
  }
}
process.exit(audit.ok ? 0 : 1);

/**
 * The entries the tenant's object keeps (its last day or so), page by page, and its head.
 * @param {string} tenantId
 */
async function objectEntries(tenantId) {
  const base = serviceBase();
  const token = tokenOrDev(process.env.COHERENCE_TOKEN, tenantId, "coherence:read");
  /** @typedef {{ seq: number; hash: string } | null} Head */
  /** @type {LedgerEntry[]} */
  const entries = [];
  /** @type {Head} */
  let head = null;
  for (let after = 0; ; ) {
    const url = `${base}/v1/tenants/${encodeURIComponent(tenantId)}/provenance?after=${after}&limit=1000`;
    let res;
    try {
      res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      return cannotCheck(`${base}: ${err instanceof Error ? err.message : err} (--no-object checks Postgres alone)`);
    }
    if (!res.ok) return cannotCheck(`${url}: ${res.status} ${await res.text()}`);
    /** @type {{ entries: Array<Omit<LedgerEntry, "receivedAtMs"> & { receivedAt: string }>; head: Head; next: number | null }} */
    const page = /** @type {any} */ (await res.json());
    for (const { receivedAt, ...e } of page.entries) entries.push({ ...e, receivedAtMs: Date.parse(receivedAt) });
    head = page.head;
    if (page.next === null) break;
    after = page.next;
  }
  return { entries, head };
}
