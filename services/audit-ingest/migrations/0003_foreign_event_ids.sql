-- An event id is recorded once in the whole ledger (UNIQUE(event_id)). When a producer bug or an
-- attacker replays one tenant's event id under another tenant, the ingest must see that the id
-- is taken (and dead-letter the message) instead of failing the batch forever — but row-level
-- security hides the other tenant's row from the service role. This function answers only
-- "which of these ids exist, and are they this transaction's tenants'?": no tenant content.
CREATE POLICY fence_lookup ON ledger_sequence FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION ledger_recorded_event_ids(ids uuid[])
RETURNS TABLE (event_id uuid, in_context boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT s.event_id, s.tenant_id = ANY (coalesce(ledger_context_tenants(), '{}'::text[]))
  FROM ledger_sequence s WHERE s.event_id = ANY (ids)
$$;
REVOKE ALL ON FUNCTION ledger_recorded_event_ids(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_recorded_event_ids(uuid[]) TO ${app_role};
