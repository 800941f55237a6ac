-- Pending OAuth2 authorizations (src/features/oauth): saved at start, taken once at the callback
-- (`DELETE … RETURNING`, so a state is single-use even across replicas). The state itself is
-- never stored, only its SHA-256; the PKCE code verifier is sealed with the company's data key
-- (AEAD v1, AD = tenant ‖ state_hash ‖ version 1 ‖ "oauth_code_verifier"). Rows live at most
-- VAULT_OAUTH_STATE_TTL; expired ones are deleted by the next start of the same company.

CREATE TABLE oauth_pending (
  state_hash        text PRIMARY KEY CHECK (state_hash ~ '^[0-9a-f]{64}$'),
  tenant_id         text NOT NULL CHECK (tenant_id ~ '^ten_[0-9a-z]{26}$'),
  user_id           text NOT NULL,
  integration       text NOT NULL CHECK (integration IN ('clio', 'quickbooks', 'salesforce', 'slack', 'google_drive')),
  -- What the credential will be called and which flow8 scopes it will hold.
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  credential_scopes text[] NOT NULL CHECK (cardinality(credential_scopes) BETWEEN 1 AND 32),
  -- Scopes requested from the provider.
  provider_scopes   text[] NOT NULL,
  redirect_uri      text NOT NULL,
  code_verifier     bytea NOT NULL,
  data_key_id       text NOT NULL REFERENCES data_keys (id),
  created_at        timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL
);
CREATE INDEX oauth_pending_expiry ON oauth_pending (tenant_id, expires_at);

ALTER TABLE oauth_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON oauth_pending
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT, DELETE ON oauth_pending TO ${app_role};
