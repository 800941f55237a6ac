-- The ingest transaction appends one Kafka batch for many tenants at once, so the tenant context
-- may now hold a comma-separated list of tenant ids (ids never contain commas). Request handlers
-- still set exactly one. The policy stays FORCEd and applies to every statement.
DROP POLICY tenant_isolation ON ledger_entries;
DROP POLICY tenant_isolation ON ledger_sequence;
DROP POLICY tenant_isolation ON ledger_heads;
DROP POLICY tenant_isolation ON ledger_checkpoints;

CREATE FUNCTION ledger_context_tenants() RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT string_to_array(nullif(current_setting('app.tenant_id', true), ''), ',')
$$;

CREATE POLICY tenant_isolation ON ledger_entries
  USING (tenant_id = ANY (ledger_context_tenants()))
  WITH CHECK (tenant_id = ANY (ledger_context_tenants()));
CREATE POLICY tenant_isolation ON ledger_sequence
  USING (tenant_id = ANY (ledger_context_tenants()))
  WITH CHECK (tenant_id = ANY (ledger_context_tenants()));
CREATE POLICY tenant_isolation ON ledger_heads
  USING (tenant_id = ANY (ledger_context_tenants()))
  WITH CHECK (tenant_id = ANY (ledger_context_tenants()));
CREATE POLICY tenant_isolation ON ledger_checkpoints
  USING (tenant_id = ANY (ledger_context_tenants()))
  WITH CHECK (tenant_id = ANY (ledger_context_tenants()));
