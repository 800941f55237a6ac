-- The service's copy of auth's entity grants (DESIGN § Security model: "decisions are made
-- in-process from replicated grants"). Fed only by identity.grant.given / identity.grant.removed
-- events; a removed grant stays as a tombstone so a redelivered "given" can never revive it,
-- whatever order a rebalance replays them in.
CREATE TABLE grant_replica (
  tenant_id      text NOT NULL CHECK (tenant_id ~ '^ten_[0-9a-z]{26}$'),
  grant_id       text NOT NULL CHECK (grant_id ~ '^grt_[0-9a-z]{26}$'),
  principal_type text NOT NULL CHECK (principal_type IN ('user', 'api_key')),
  principal_id   text NOT NULL,
  resource_type  text NOT NULL CHECK (resource_type IN ('flow', 'integration', 'partition')),
  resource_id    text NOT NULL,
  actions        text[] NOT NULL,
  removed        boolean NOT NULL DEFAULT false,
  -- When auth gave / removed it (the events' occurredAt), and when this copy learnt it.
  given_at       timestamptz,
  removed_at     timestamptz,
  replicated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, grant_id)
);
CREATE INDEX grant_replica_live ON grant_replica (tenant_id, principal_id) WHERE NOT removed;

-- How far the copy has read each partition of the identity topic, written in the same
-- transaction as the rows: readiness compares it with the topic's end offsets at start-up.
CREATE TABLE grant_replica_progress (
  topic       text NOT NULL,
  partition   integer NOT NULL CHECK (partition >= 0),
  next_offset bigint NOT NULL CHECK (next_offset >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition)
);

ALTER TABLE grant_replica ENABLE ROW LEVEL SECURITY;
ALTER TABLE grant_replica FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON grant_replica
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT, UPDATE ON grant_replica TO ${app_role};
GRANT SELECT, INSERT, UPDATE ON grant_replica_progress TO ${app_role};
