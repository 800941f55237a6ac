-- The one way a migration puts a tenant table under row-level security:
--
--   SELECT flow8_tenant_rls('my_table');
--
-- ENABLE and FORCE (so the table's owner is bound as well, and nobody can forget FORCE) and the
-- `tenant_isolation` policy: a row is visible and writable only while the transaction's tenant
-- context (`app.tenant_id`, set by withTenant/setTenant) names its `tenant_id`. It lives in the
-- bus's migrations because every service applies those first, so every service database has it.
-- The catalog test of each service (testkit `catalogProblems`) fails when a table with a
-- `tenant_id` column lacks any of this. Cross-tenant maintenance goes through narrow SECURITY
-- DEFINER functions (see docs/architecture.md § Tenant isolation), never through a policy.
CREATE FUNCTION flow8_tenant_rls(p_table regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute
                  WHERE attrelid = p_table AND attname = 'tenant_id' AND attnum > 0 AND NOT attisdropped) THEN
    RAISE EXCEPTION 'flow8_tenant_rls: % has no tenant_id column', p_table;
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s'
    ' USING (tenant_id = current_setting(''app.tenant_id'', true))'
    ' WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', p_table);
END $$;
-- Migrations run as the owner; the runtime and relay roles have no business calling it.
REVOKE ALL ON FUNCTION flow8_tenant_rls(regclass) FROM PUBLIC;
