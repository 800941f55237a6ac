-- One way to cross tenants: narrow SECURITY DEFINER functions, with pinned search paths.
--
-- 1. The definer functions searched `public` only, which leaves the caller's temporary schema
--    searched FIRST — and the runtime role holds TEMPORARY on this database (0004): it could
--    shadow `ledger_sequence` or `ledger_entries` with a temporary table and have the owner act
--    on that. pg_temp now goes last, explicitly. (pg_catalog is searched first anyway; it is not
--    named because ledger_ensure_partitions creates tables, and creation goes to the first schema
--    on the path, which must stay public.)
ALTER FUNCTION ledger_ensure_partitions(integer) SET search_path = public, pg_temp;
ALTER FUNCTION ledger_recorded_event_ids(uuid[]) SET search_path = public, pg_temp;

-- 2. ledger_tenants (which companies have a chain) was the one tenant table outside row-level
--    security: the checkpoint job listed every company by reading it directly. It is now under
--    FORCEd RLS like the other ledger tables (the ingest writes it with the batch's tenant
--    context), and the job lists companies through ledger_tenant_ids(), which returns ids only.
ALTER TABLE ledger_tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_tenants FORCE ROW LEVEL SECURITY;
-- A batch holds several tenants (0002), hence ledger_context_tenants() and not flow8_tenant_rls.
CREATE POLICY tenant_isolation ON ledger_tenants
  USING (tenant_id = ANY (ledger_context_tenants()))
  WITH CHECK (tenant_id = ANY (ledger_context_tenants()));
-- The owner (whom the definer function runs as) may read every row; nobody else gains anything.
CREATE POLICY definer_lookup ON ledger_tenants FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION ledger_tenant_ids() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT tenant_id FROM ledger_tenants ORDER BY tenant_id $$;
REVOKE ALL ON FUNCTION ledger_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_tenant_ids() TO ${app_role};
