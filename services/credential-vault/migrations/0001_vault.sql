-- The key hierarchy and integration credentials.
--
--   ENCRYPTION_KEY (root, never stored) ─wraps→ data_keys (one active per company)
--   data key ─seals→ credential_versions.ciphertext (AD = tenant ‖ credential ‖ version ‖ field)
--
-- Only fingerprints (keyed hashes) of root keys are stored, so start-up can tell a wrong key at
-- once. Tenant rows are under row-level security (ENABLE + FORCE; the runtime role is not the
-- owner). Key maintenance that spans companies (root re-wrap, key status) reads data_keys and
-- credential_versions with `app.keyring_maintenance = on` set in its own transaction; that flag
-- never grants access to credentials' metadata or lets a request write another company's rows.

CREATE TABLE root_keys (
  fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{32}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  retired_at  timestamptz,
  retired_by  text
);

CREATE TABLE data_keys (
  id               text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
  tenant_id        text NOT NULL CHECK (tenant_id ~ '^ten_[0-9a-z]{26}$'),
  version          integer NOT NULL CHECK (version >= 1),
  status           text NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
  root_fingerprint text REFERENCES root_keys (fingerprint),
  -- The data key sealed under the root key (AEAD v1, key id = root fingerprint). Destroyed on retire.
  wrapped          bytea,
  -- Sensitive fields of other services were sealed with this key: those ciphertexts live outside
  -- this database, so the key is never retired automatically (see README, field encryption).
  used_for_fields  boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  created_by       text NOT NULL,
  retired_at       timestamptz,
  CONSTRAINT data_keys_tenant_version_key UNIQUE (tenant_id, version),
  CONSTRAINT data_keys_material CHECK (
    (status = 'retired' AND wrapped IS NULL AND root_fingerprint IS NULL AND retired_at IS NOT NULL)
    OR (status <> 'retired' AND wrapped IS NOT NULL AND root_fingerprint IS NOT NULL)
  )
);
CREATE UNIQUE INDEX data_keys_one_active ON data_keys (tenant_id) WHERE status = 'active';
CREATE INDEX data_keys_root ON data_keys (root_fingerprint) WHERE status <> 'retired';
CREATE INDEX data_keys_retiring ON data_keys (tenant_id) WHERE status = 'retiring';

CREATE TABLE credentials (
  id              text PRIMARY KEY CHECK (id ~ '^crd_[0-9a-z]{26}$'),
  tenant_id       text NOT NULL CHECK (tenant_id ~ '^ten_[0-9a-z]{26}$'),
  integration     text NOT NULL CHECK (integration IN ('clio', 'quickbooks', 'salesforce', 'slack', 'google_drive')),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind            text NOT NULL CHECK (kind IN ('api_key', 'password', 'token', 'oauth2')),
  scopes          text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 32),
  status          text NOT NULL CHECK (status IN ('active', 'revoked')),
  current_version integer NOT NULL CHECK (current_version >= 1),
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_by      text,
  CONSTRAINT credentials_revoked CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX credentials_tenant ON credentials (tenant_id, id);

CREATE TABLE credential_versions (
  tenant_id     text NOT NULL,
  credential_id text NOT NULL REFERENCES credentials (id),
  version       integer NOT NULL CHECK (version >= 1),
  status        text NOT NULL CHECK (status IN ('current', 'superseded', 'revoked')),
  -- Sealed with the company's data key; destroyed (NULL) once the version stops working.
  ciphertext    bytea,
  data_key_id   text REFERENCES data_keys (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (credential_id, version),
  CONSTRAINT credential_versions_material CHECK (
    (status = 'current' AND ciphertext IS NOT NULL AND data_key_id IS NOT NULL)
    OR (status <> 'current' AND ciphertext IS NULL AND data_key_id IS NULL)
  )
);
CREATE UNIQUE INDEX credential_versions_one_current ON credential_versions (credential_id) WHERE status = 'current';
CREATE INDEX credential_versions_data_key ON credential_versions (data_key_id) WHERE data_key_id IS NOT NULL;

ALTER TABLE data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE credential_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_versions FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON data_keys
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- Root re-wrap and key status span companies: read every data key, and re-wrap one in place.
CREATE POLICY keyring_maintenance_read ON data_keys FOR SELECT
  USING (current_setting('app.keyring_maintenance', true) = 'on');
CREATE POLICY keyring_maintenance_rewrap ON data_keys FOR UPDATE
  USING (current_setting('app.keyring_maintenance', true) = 'on')
  WITH CHECK (current_setting('app.keyring_maintenance', true) = 'on');

CREATE POLICY tenant_isolation ON credentials
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

CREATE POLICY tenant_isolation ON credential_versions
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- Key status counts records per data key across companies (key ids only, never ciphertexts' use).
CREATE POLICY keyring_maintenance_read ON credential_versions FOR SELECT
  USING (current_setting('app.keyring_maintenance', true) = 'on');

GRANT SELECT, INSERT ON root_keys TO ${app_role};
GRANT UPDATE (retired_at, retired_by) ON root_keys TO ${app_role};
GRANT SELECT, INSERT ON data_keys TO ${app_role};
GRANT UPDATE (status, root_fingerprint, wrapped, used_for_fields, retired_at) ON data_keys TO ${app_role};
GRANT SELECT, INSERT ON credentials TO ${app_role};
GRANT UPDATE (status, current_version, updated_at, revoked_at, revoked_by) ON credentials TO ${app_role};
GRANT SELECT, INSERT ON credential_versions TO ${app_role};
GRANT UPDATE (status, ciphertext, data_key_id) ON credential_versions TO ${app_role};
