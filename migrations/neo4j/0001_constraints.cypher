// The signal's dedupe key (tenantId, source, signalId, ts) is unique: MERGE on it makes redelivery a no-op.
CREATE CONSTRAINT signal_key IF NOT EXISTS FOR (s:Signal) REQUIRE s.key IS UNIQUE;
CREATE CONSTRAINT tenant_id IF NOT EXISTS FOR (t:Tenant) REQUIRE t.tenant_id IS UNIQUE;
// The seed's two indexes.
CREATE INDEX signal_id IF NOT EXISTS FOR (s:Signal) ON (s.signal_id);
CREATE INDEX signal_tenant_ts IF NOT EXISTS FOR (s:Signal) ON (s.tenant_id, s.ts);
CREATE INDEX score_tenant IF NOT EXISTS FOR (c:CoherenceScore) ON (c.tenant_id);
