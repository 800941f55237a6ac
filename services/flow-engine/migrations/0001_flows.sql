-- Flows and their versions. A flow is a name and a lifecycle (draft → published → archived);
-- every save is a new row in flow_versions, which is never updated or deleted (the app role has
-- no UPDATE/DELETE on it, and a trigger refuses both for any other role too): an execution pins
-- (flow_id, version) and can always read exactly what it ran.
CREATE TABLE flows (
  id                text PRIMARY KEY CHECK (id ~ '^flw_[0-9a-z]{26}$'),
  tenant_id         text NOT NULL,
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  partition_id      text CHECK (partition_id ~ '^prt_[0-9a-z]{26}$'),
  status            text NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
  latest_version    integer NOT NULL CHECK (latest_version >= 1),
  published_version integer CHECK (published_version >= 1 AND published_version <= latest_version),
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  archived_at       timestamptz,
  -- compare-and-set fence: a save or publish applies only to the row it read
  row_version       integer NOT NULL DEFAULT 0,
  CHECK ((status = 'published') = (published_version IS NOT NULL) OR status = 'archived')
);
CREATE INDEX flows_tenant_updated ON flows (tenant_id, updated_at DESC, id DESC);

CREATE TABLE flow_versions (
  tenant_id         text NOT NULL,
  flow_id           text NOT NULL REFERENCES flows (id),
  version           integer NOT NULL CHECK (version >= 1),
  definition        jsonb NOT NULL,
  -- SHA-256 of the definition as submitted (bytes stored verbatim in `definition_text`)
  definition_text   text NOT NULL,
  definition_sha256 text NOT NULL CHECK (definition_sha256 ~ '^[0-9a-f]{64}$'),
  saved_by          text NOT NULL,
  saved_at          timestamptz NOT NULL,
  PRIMARY KEY (flow_id, version)
);

CREATE FUNCTION flow_versions_immutable() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$ BEGIN RAISE EXCEPTION 'flow versions are immutable (% refused)', TG_OP; END $$;
CREATE TRIGGER flow_versions_immutable BEFORE UPDATE OR DELETE ON flow_versions
  FOR EACH ROW EXECUTE FUNCTION flow_versions_immutable();

-- Row-level security, the one way (bus migration 0003): ENABLE + FORCE + the tenant policy.
SELECT flow8_tenant_rls('flows');
SELECT flow8_tenant_rls('flow_versions');

GRANT SELECT, INSERT ON flows TO ${app_role};
GRANT UPDATE (name, partition_id, status, latest_version, published_version, updated_at, archived_at, row_version)
  ON flows TO ${app_role};
GRANT SELECT, INSERT ON flow_versions TO ${app_role};
