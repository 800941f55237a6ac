-- Companies (tenants) and their users. Every row a tenant owns is under row-level security
-- (ENABLE + FORCE, the runtime role is not the owner and has no BYPASSRLS), so a query that
-- forgets its WHERE clause still sees only the tenant set by setTenant() in its transaction.

CREATE TABLE tenants (
  id         text PRIMARY KEY CHECK (id ~ '^ten_[0-9a-z]{26}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  slug       text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE users (
  id            text PRIMARY KEY CHECK (id ~ '^usr_[0-9a-z]{26}$'),
  tenant_id     text NOT NULL REFERENCES tenants (id),
  -- Stored lower-cased (the service normalises), so uniqueness is case-insensitive without citext.
  email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  role          text NOT NULL CHECK (role IN ('admin', 'flow_designer', 'executor', 'viewer')),
  -- bcrypt only: a plaintext or unsalted value cannot be stored by mistake.
  password_hash text NOT NULL CHECK (password_hash ~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email)
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;

-- A tenant-scoped session sees (and may create) only its own tenant row. Creating a company
-- sets the tenant context to the new id first, so WITH CHECK passes without BYPASSRLS.
CREATE POLICY tenant_self ON tenants
  USING (id = current_setting('app.tenant_id', true))
  WITH CHECK (id = current_setting('app.tenant_id', true));

CREATE POLICY tenant_isolation ON users
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- The runtime role: create and read, nothing more yet (no UPDATE/DELETE until the routes that
-- need them exist; they come with their own migration).
GRANT SELECT, INSERT ON tenants, users TO ${app_role};
