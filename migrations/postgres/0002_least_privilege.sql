-- Least privilege (docs/threat-model.md, STRIDE "Elevation"): the Worker's database user needs to read and
-- upsert scores, nothing else. Grant this role to the login user in DATABASE_URL
-- (`GRANT coherence_writer TO <user>`); it cannot create, alter, drop or delete.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coherence_writer') THEN
    CREATE ROLE coherence_writer NOLOGIN;
  END IF;
END
$$;

REVOKE ALL ON coherence_scores FROM coherence_writer;
GRANT SELECT, INSERT, UPDATE ON coherence_scores TO coherence_writer;
