-- Sessions, login lockout, user changes (soft delete), partitions, grants and IP allowlists.
-- Every new tenant-owned table is under row-level security (ENABLE + FORCE) like 0001's.
--
-- Two questions must be answered before any tenant is known: "which company has this slug?"
-- (login) and "which company owns this session token?" (session resolve); and start-up needs
-- the list of companies to re-mirror their allowlists to Redis. The runtime role cannot answer
-- them: row-level security hides every other company. Three SECURITY DEFINER functions answer
-- exactly those questions and nothing else; they run as the owner, and the owner (FORCEd like
-- everyone) gets a SELECT-only policy on the two tables they read. The runtime role can call
-- the functions but still never sees another company's rows.

-- Users: soft delete, login lockout, and the columns an Admin may now change.
ALTER TABLE users
  ADD COLUMN deleted_at          timestamptz,
  ADD COLUMN failed_logins       integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  ADD COLUMN failed_window_start timestamptz,
  ADD COLUMN locked_until        timestamptz;

-- A removed user's address may be used again: uniqueness among active users only. The index
-- keeps the constraint's name, which the service maps to 409 CONFLICT.
ALTER TABLE users DROP CONSTRAINT users_tenant_email_key;
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX users_tenant_admins ON users (tenant_id) WHERE role = 'admin' AND deleted_at IS NULL;

-- Never DELETE: a user is removed by setting deleted_at, so the audit trail's ids stay meaningful.
GRANT UPDATE (email, role, password_hash, updated_at, deleted_at, failed_logins, failed_window_start, locked_until)
  ON users TO ${app_role};

CREATE TABLE sessions (
  id             text PRIMARY KEY CHECK (id ~ '^ses_[0-9a-z]{26}$'),
  tenant_id      text NOT NULL REFERENCES tenants (id),
  user_id        text NOT NULL REFERENCES users (id),
  -- SHA-256 of the opaque token and of the CSRF token; the tokens themselves are never stored.
  token_hash     bytea NOT NULL CHECK (length(token_hash) = 32),
  csrf_hash      bytea NOT NULL CHECK (length(csrf_hash) = 32),
  client_ip      text CHECK (length(client_ip) <= 64),
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL CHECK (expires_at > created_at),
  revoked_at     timestamptz,
  revoked_reason text CHECK (revoked_reason IN ('logout', 'password_changed', 'user_removed')),
  CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_active ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

CREATE TABLE partitions (
  id         text PRIMARY KEY CHECK (id ~ '^prt_[0-9a-z]{26}$'),
  tenant_id  text NOT NULL REFERENCES tenants (id),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  CONSTRAINT partitions_tenant_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE grants (
  id             text PRIMARY KEY CHECK (id ~ '^grt_[0-9a-z]{26}$'),
  tenant_id      text NOT NULL REFERENCES tenants (id),
  principal_type text NOT NULL CHECK (principal_type IN ('user', 'api_key')),
  principal_id   text NOT NULL CHECK (principal_id ~ '^(usr|key)_[0-9a-z]{26}$'),
  resource_type  text NOT NULL CHECK (resource_type IN ('flow', 'integration', 'partition')),
  resource_id    text NOT NULL CHECK (length(resource_id) BETWEEN 1 AND 128),
  actions        text[] NOT NULL CHECK (cardinality(actions) BETWEEN 1 AND 20),
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text NOT NULL,
  CONSTRAINT grants_subject_resource_key UNIQUE (tenant_id, principal_type, principal_id, resource_type, resource_id)
);
CREATE INDEX grants_principal ON grants (tenant_id, principal_type, principal_id);

-- One row per company that has ever set an allowlist; an empty array means "no restriction".
CREATE TABLE ip_allowlists (
  tenant_id  text PRIMARY KEY REFERENCES tenants (id),
  cidrs      text[] NOT NULL CHECK (cardinality(cidrs) <= 100),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL
);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE partitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE partitions FORCE ROW LEVEL SECURITY;
ALTER TABLE grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE grants FORCE ROW LEVEL SECURITY;
ALTER TABLE ip_allowlists ENABLE ROW LEVEL SECURITY;
ALTER TABLE ip_allowlists FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON sessions
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON partitions
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON grants
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON ip_allowlists
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT ON sessions TO ${app_role};
GRANT UPDATE (revoked_at, revoked_reason) ON sessions TO ${app_role};
GRANT SELECT, INSERT ON partitions TO ${app_role};
GRANT SELECT, INSERT, DELETE ON grants TO ${app_role};
GRANT SELECT, INSERT, UPDATE ON ip_allowlists TO ${app_role};

-- The owner (whoever runs this migration) may read tenants and sessions across companies, so the
-- SECURITY DEFINER functions below can answer their one question. SELECT only: writes stay bound.
CREATE POLICY definer_lookup ON tenants FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_lookup ON sessions FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION auth_tenant_by_slug(p_slug text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT id FROM tenants WHERE slug = p_slug $$;

CREATE FUNCTION auth_session_tenant(p_token_hash bytea) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM sessions WHERE token_hash = p_token_hash $$;

CREATE FUNCTION auth_tenant_ids() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT id FROM tenants ORDER BY id $$;

REVOKE ALL ON FUNCTION auth_tenant_by_slug(text), auth_session_tenant(bytea), auth_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_tenant_by_slug(text), auth_session_tenant(bytea), auth_tenant_ids() TO ${app_role};
