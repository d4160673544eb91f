-- Materialized per-tenant scores (contract §9; the seed's table with NUMERIC(6,4) so 4-decimal scores fit).
CREATE TABLE IF NOT EXISTS coherence_scores (
  tenant_id TEXT PRIMARY KEY,
  score NUMERIC(6,4) NOT NULL,
  status TEXT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  signal_count INTEGER NOT NULL DEFAULT 0,
  -- The tenant object's score version: upserts only move forward, whatever order messages arrive in.
  version BIGINT NOT NULL DEFAULT 0
);
