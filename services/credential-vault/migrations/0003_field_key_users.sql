-- Which services still hold sensitive fields sealed under a data key (fields live in their
-- databases, not here). A retiring key that any service still holds fields under is never retired;
-- each service re-encrypts its fields (POST /internal/v1/fields/reencrypt) and then releases the
-- key (POST /internal/v1/fields/keys/release). data_keys.used_for_fields stays the summary the
-- key lifecycle reads: true while any row here names the key.
CREATE TABLE data_key_field_users (
  tenant_id   text NOT NULL CHECK (tenant_id ~ '^ten_[0-9a-z]{26}$'),
  data_key_id text NOT NULL REFERENCES data_keys (id),
  caller      text NOT NULL CHECK (length(caller) BETWEEN 1 AND 128),
  first_used  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (data_key_id, caller)
);
CREATE INDEX data_key_field_users_tenant ON data_key_field_users (tenant_id, data_key_id);

-- Keys marked before this table existed: their holder is not known, so they are attributed to the
-- default field caller (the flow engine), which releases them like any other.
INSERT INTO data_key_field_users (tenant_id, data_key_id, caller)
  SELECT tenant_id, id, 'flow-engine' FROM data_keys WHERE used_for_fields AND status <> 'retired';

ALTER TABLE data_key_field_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_key_field_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON data_key_field_users
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT, DELETE ON data_key_field_users TO ${app_role};
