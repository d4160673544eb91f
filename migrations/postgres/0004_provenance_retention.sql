-- Retention of the provenance ledger (365 days, contract §9) without giving the writer DELETE: the daily job calls
-- purge_provenance_ledger(cutoff), which runs as this migration's owner. It refuses a cutoff younger than 365
-- days, removes each tenant's oldest entries — a prefix of its chain, never a row in the middle — and records the
-- last entry it removed in provenance_ledger_anchor, so `npm run provenance:verify` still checks that the oldest
-- remaining entry links to what was there before (a deleted prefix is found, not mistaken for retention).
CREATE TABLE IF NOT EXISTS provenance_ledger_anchor (
  tenant_id TEXT PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL,
  purged_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION purge_provenance_ledger(cutoff_ms BIGINT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  removed BIGINT := 0;
  n BIGINT;
  t RECORD;
BEGIN
  IF cutoff_ms > (extract(epoch FROM now() - interval '365 days') * 1000)::BIGINT THEN
    RAISE EXCEPTION 'provenance ledger entries are kept 365 days: cutoff % is too recent', cutoff_ms;
  END IF;
  -- Per tenant, the purgeable prefix ends before its first entry at or after the cutoff (entries are received in
  -- about seq order, but concurrent requests may land a little out of it: a prefix keeps the chain checkable).
  FOR t IN
    SELECT l.tenant_id,
           coalesce((SELECT min(k.seq) - 1 FROM provenance_ledger k
                     WHERE k.tenant_id = l.tenant_id AND k.received_at_ms >= cutoff_ms), max(l.seq)) AS through
    FROM provenance_ledger l
    WHERE l.received_at_ms < cutoff_ms
    GROUP BY l.tenant_id
  LOOP
    INSERT INTO provenance_ledger_anchor (tenant_id, seq, hash)
    SELECT tenant_id, seq, hash FROM provenance_ledger WHERE tenant_id = t.tenant_id AND seq = t.through
    ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, purged_at = now()
      WHERE provenance_ledger_anchor.seq < EXCLUDED.seq;
    DELETE FROM provenance_ledger WHERE tenant_id = t.tenant_id AND seq <= t.through;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
  END LOOP;
  RETURN removed;
END
$$;

REVOKE ALL ON FUNCTION purge_provenance_ledger(BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_provenance_ledger(BIGINT) TO coherence_writer;
REVOKE ALL ON provenance_ledger_anchor FROM coherence_writer;
GRANT SELECT ON provenance_ledger_anchor TO coherence_writer;
