-- Key maintenance spans companies (start-up root-key check, root re-wrap, the re-encryption
-- worker, the operator's key status). It used to read data_keys and credential_versions with a
-- session setting, `app.keyring_maintenance = on`, that opened every company's rows (wrapped data
-- keys included) to the runtime role — and the runtime role could set it itself. That escape
-- hatch is gone: the policies that read the setting are dropped, and four SECURITY DEFINER
-- functions answer exactly the cross-company questions maintenance asks, with ids, counts and
-- key metadata only (never wrapped key material, never a ciphertext). Anything that reads or
-- writes key material does it inside one company's transaction, under tenant_isolation.
--
-- The functions run as the owner (whoever runs this migration), which is FORCEd under row-level
-- security like everyone: it gets SELECT-only policies on the two tables they read. The runtime
-- role can call the functions but still never sees another company's rows.
DROP POLICY keyring_maintenance_read ON data_keys;
DROP POLICY keyring_maintenance_rewrap ON data_keys;
DROP POLICY keyring_maintenance_read ON credential_versions;

CREATE POLICY definer_lookup ON data_keys FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_lookup ON credential_versions FOR SELECT TO CURRENT_USER USING (true);

-- Live (not retired) data keys per root fingerprint: start-up check and root-key retirement.
CREATE FUNCTION vault_data_keys_per_root() RETURNS TABLE (root_fingerprint text, data_keys bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT k.root_fingerprint, count(*) FROM public.data_keys k WHERE k.status <> 'retired'
        GROUP BY k.root_fingerprint $$;

-- Which company has a retiring data key (the re-encryption worker then works per company).
CREATE FUNCTION vault_retiring_data_keys() RETURNS TABLE (tenant_id text, id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT k.tenant_id, k.id FROM public.data_keys k WHERE k.status = 'retiring'
        ORDER BY k.tenant_id, k.version $$;

-- Data keys still wrapped under a root key, a batch at a time (root re-wrap, per company).
CREATE FUNCTION vault_data_keys_under_root(p_fingerprint text, p_limit integer)
  RETURNS TABLE (tenant_id text, id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT k.tenant_id, k.id FROM public.data_keys k
        WHERE k.root_fingerprint = p_fingerprint AND k.status <> 'retired'
        ORDER BY k.id LIMIT greatest(1, least(p_limit, 10000)) $$;

-- The operator's key status: every data key's metadata and how many records it still seals.
CREATE FUNCTION vault_key_status()
  RETURNS TABLE (tenant_id text, id text, version integer, status text, root_fingerprint text,
                 used_for_fields boolean, created_at timestamptz, retired_at timestamptz, records bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT k.tenant_id, k.id, k.version, k.status, k.root_fingerprint, k.used_for_fields,
               k.created_at, k.retired_at,
               (SELECT count(*) FROM public.credential_versions v WHERE v.data_key_id = k.id)
        FROM public.data_keys k ORDER BY k.tenant_id, k.version $$;

REVOKE ALL ON FUNCTION vault_data_keys_per_root(), vault_retiring_data_keys(),
  vault_data_keys_under_root(text, integer), vault_key_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault_data_keys_per_root(), vault_retiring_data_keys(),
  vault_data_keys_under_root(text, integer), vault_key_status() TO ${app_role};
