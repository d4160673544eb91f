-- Retention by policy (POLICY_RETENTION, e.g. standard-365d or short-30d): the period lives in a table only the
-- migration's owner writes (`npm run migrate` sets it from POLICY_RETENTION), and purge_provenance_ledger reads its
-- floor from there — the Worker's role still cannot remove anything younger than the policy says. The purge now
-- also removes materialized scores of tenants whose score has not changed within the period.
CREATE TABLE IF NOT EXISTS retention_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 3650)
);
INSERT INTO retention_policy (id, days) VALUES (1, 365) ON CONFLICT (id) DO NOTHING;
REVOKE ALL ON retention_policy FROM coherence_writer;
GRANT SELECT ON retention_policy TO coherence_writer;

CREATE OR REPLACE FUNCTION purge_provenance_ledger(cutoff_ms BIGINT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  removed BIGINT := 0;
  n BIGINT;
  t RECORD;
  keep_days INTEGER := (SELECT days FROM retention_policy WHERE id = 1);
BEGIN
  IF cutoff_ms > (extract(epoch FROM now() - make_interval(days => keep_days)) * 1000)::BIGINT THEN
    RAISE EXCEPTION 'data is kept % days (retention_policy): cutoff % is too recent', keep_days, cutoff_ms;
  END IF;
  -- Per tenant, the purgeable prefix ends before its first entry at or after the cutoff (see 0004).
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
  DELETE FROM coherence_scores WHERE updated_at < to_timestamp(cutoff_ms / 1000.0);
  RETURN removed;
END
$$;

REVOKE ALL ON FUNCTION purge_provenance_ledger(BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_provenance_ledger(BIGINT) TO coherence_writer;
