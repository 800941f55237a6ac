-- API keys (docs/identity-and-access.md § Authentication). A key is an EdDSA-signed JWT the
-- gateway verifies on its own; this table holds what is needed to list, rotate and revoke it —
-- never the token (nor a hash of it: the signature makes it verifiable, the jti names it).
--
-- One row per issued token. Rotation revokes the old row and inserts a new one with
-- rotated_from = the old id, so every jti ever issued stays on record until it expires, and the
-- set of "revoked but not yet expired" jtis can always be rebuilt into Redis.

CREATE TABLE api_keys (
  id                 text PRIMARY KEY CHECK (id ~ '^key_[0-9a-z]{26}$'),
  tenant_id          text NOT NULL REFERENCES tenants (id),
  owner_id           text NOT NULL REFERENCES users (id),
  name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  -- The owner's role when this token was signed (the `role` claim).
  role               text NOT NULL CHECK (role IN ('admin', 'flow_designer', 'executor', 'viewer')),
  scopes             text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 64),
  -- Postgres parses these strictly (host bits set, bad prefixes are errors): a second check
  -- behind the service's own validation.
  cidrs              cidr[] NOT NULL DEFAULT '{}' CHECK (cardinality(cidrs) <= 64),
  jti                uuid NOT NULL,
  kid                text NOT NULL CHECK (kid ~ '^[0-9a-f]{16}$'),
  created_at         timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz NOT NULL,
  revoked_at         timestamptz,
  -- Set with revoked_at in the same transaction, cleared once Redis holds the revocation. While
  -- set, a background loop keeps trying; a crash between commit and the Redis write is healed.
  revocation_pending boolean NOT NULL DEFAULT false,
  rotated_from       text REFERENCES api_keys (id),
  CONSTRAINT api_keys_jti_key UNIQUE (jti),
  CONSTRAINT api_keys_rotated_once UNIQUE (rotated_from),
  CONSTRAINT api_keys_lifetime CHECK (expires_at > created_at),
  CONSTRAINT api_keys_pending_only_when_revoked CHECK (NOT revocation_pending OR revoked_at IS NOT NULL)
);

CREATE INDEX api_keys_tenant_owner ON api_keys (tenant_id, owner_id, id);
CREATE INDEX api_keys_revoked_live ON api_keys (expires_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX api_keys_revocation_pending ON api_keys (id) WHERE revocation_pending;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON api_keys
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- Keys are never deleted (the record of a revoked jti must outlive the token); only revocation
-- and its Redis bookkeeping change a row.
GRANT SELECT, INSERT ON api_keys TO ${app_role};
GRANT UPDATE (revoked_at, revocation_pending) ON api_keys TO ${app_role};

-- The revocation publisher runs outside any tenant (startup, every few seconds, after a Redis
-- reconnect): it needs every revoked, unexpired jti of every tenant. This function returns only
-- what goes to Redis — tenant, id, jti, expiry — for exactly those rows. Clearing the pending flag
-- is done per tenant through row-level security as usual. FORCE binds the owner too, hence the
-- owner's own SELECT policy (as for 0002's lookups): reads only, writes stay tenant-bound.
CREATE POLICY definer_lookup ON api_keys FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION auth_api_key_revocations(p_pending_only boolean, p_limit integer)
RETURNS TABLE (tenant_id text, id text, jti uuid, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT k.tenant_id, k.id, k.jti, k.expires_at
  FROM api_keys k
  WHERE k.revoked_at IS NOT NULL
    AND (NOT p_pending_only OR k.revocation_pending)
    AND (k.expires_at > now() OR k.revocation_pending)
  ORDER BY k.id
  LIMIT greatest(1, least(p_limit, 100000))
$$;
REVOKE ALL ON FUNCTION auth_api_key_revocations(boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_api_key_revocations(boolean, integer) TO ${app_role};
