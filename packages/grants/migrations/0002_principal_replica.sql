-- The service's copy of the principals of each company, next to their grants: users with their
-- role, API keys with their owner, scopes and expiry. Fed by identity.user.created /
-- role_changed / removed and identity.api_key.created / rotated / revoked from the same topic and
-- the same consumer as grant_replica. A service that acts for a principal named by another
-- service (the vault resolving a credential for a flow step) takes the principal's role and
-- scopes from here — never from the caller — and refuses a principal that is not here.
CREATE TABLE principal_replica (
  tenant_id      text NOT NULL CHECK (tenant_id ~ '^ten_[0-9a-z]{26}$'),
  principal_id   text NOT NULL,
  principal_type text NOT NULL CHECK (principal_type IN ('user', 'api_key')),
  -- A user's role (null for an API key: it acts with its owner's role, bounded by its scopes).
  role           text CHECK (role IN ('admin', 'flow_designer', 'executor', 'viewer')),
  owner_id       text,
  scopes         text[] NOT NULL DEFAULT '{}',
  expires_at     timestamptz,
  -- Removed user / revoked (or rotated-away) key: kept as a tombstone, never revived.
  removed        boolean NOT NULL DEFAULT false,
  changed_at     timestamptz NOT NULL,
  replicated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, principal_id),
  CHECK ((principal_type = 'user' AND principal_id ~ '^usr_[0-9a-z]{26}$' AND role IS NOT NULL AND owner_id IS NULL)
      OR (principal_type = 'api_key' AND principal_id ~ '^key_[0-9a-z]{26}$' AND role IS NULL
          AND owner_id ~ '^usr_[0-9a-z]{26}$'))
);

ALTER TABLE principal_replica ENABLE ROW LEVEL SECURITY;
ALTER TABLE principal_replica FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON principal_replica
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT, UPDATE ON principal_replica TO ${app_role};

-- The copy now applies user and API-key events too, which a copy built before this migration
-- skipped. Start it again from the beginning of the identity topic (kept forever): with no stored
-- progress the replica moves its consumer group back to the beginning at start-up, the grant
-- events re-apply idempotently, and readiness stays closed until the whole topic is read again.
DELETE FROM grant_replica_progress;
