-- The ingest stages each batch in a temporary table with one binary COPY, then appends it with
-- INSERT … SELECT (ledger.repo.ts). COPY cannot target the ledger tables themselves: Postgres
-- refuses COPY FROM into a table under row-level security, and the runtime role is under it.
--
-- The staging table is TEMPORARY: it exists only in the session that created it, no other
-- session (of any tenant) can see it, and it is ON COMMIT DELETE ROWS, so its rows live only as
-- long as the transaction that wrote them (a rollback discards them as well). Rows reach the
-- ledger only through INSERT into ledger_sequence and ledger_entries, under their FORCEd
-- row-level security and immutability triggers, exactly as before.
--
-- That needs the TEMPORARY privilege on this database for the runtime role. scripts/stack/up.sh
-- and deploy/compose grant it when they create the database; granting it here as well makes the
-- migrations enough wherever the database came from. It adds nothing on the ledger: a temporary
-- object is private to its own session, and the role still may only INSERT and SELECT ledger
-- rows. (Run by the database owner; where the migrating role does not own the database, Postgres
-- only warns, and the grant must come from whoever created it.)
DO $$
BEGIN
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %s', current_database(), '${app_role}');
END $$;
