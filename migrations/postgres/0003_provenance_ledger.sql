-- The provenance ledger (docs/api.md, "Provenance ledger"): one row per accepted request of a tenant, chained by
-- hash (src/domain/ledger.ts). Kept for the retention period (365 days); `npm run provenance:verify` recomputes the
-- chain from here and from the tenant's object. Append-only for the Worker's role: it may insert and read, never
-- update or delete, so a row that was changed or removed later was changed by someone else, and the chain says so.
CREATE TABLE IF NOT EXISTS provenance_ledger (
  tenant_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  provenance_id TEXT NOT NULL,
  request_sha256 TEXT NOT NULL,
  signal_count INTEGER NOT NULL,
  policy_tags JSONB NOT NULL,
  received_at_ms BIGINT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS provenance_ledger_provenance ON provenance_ledger (tenant_id, provenance_id);
CREATE INDEX IF NOT EXISTS provenance_ledger_received ON provenance_ledger (received_at_ms);

-- coherence_writer exists: 0002_least_privilege.sql creates it.
REVOKE ALL ON provenance_ledger FROM coherence_writer;
GRANT SELECT, INSERT ON provenance_ledger TO coherence_writer;
