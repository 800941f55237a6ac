-- The SECURITY DEFINER functions run as the owner. Without pg_temp named in their search_path,
-- Postgres searches the caller's temporary schema FIRST, so a session able to create temporary
-- objects could shadow `tenants` or `sessions` with its own table and have the owner act on it.
-- pg_temp goes last, explicitly. (The catalog test asserts this for every definer function.)
ALTER FUNCTION auth_tenant_by_slug(text) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION auth_session_tenant(bytea) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION auth_tenant_ids() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION auth_api_key_revocations(boolean, integer) SET search_path = pg_catalog, public, pg_temp;
