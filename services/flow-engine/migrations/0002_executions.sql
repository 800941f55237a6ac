-- Durable executions. Postgres is the truth; Kafka (flow8.flow.commands.v1) only carries the
-- doorbell "this step run is ready". Every table is per company under row-level security.
--
-- executions: one run of a pinned flow version. The definition is copied in (versions are
-- immutable; the run never depends on a later read), with the trigger identity the steps act for,
-- the input, the salt of the digests its fact events carry, and its deadline.
CREATE TABLE executions (
  id               text PRIMARY KEY CHECK (id ~ '^exe_[0-9a-z]{26}$'),
  tenant_id        text NOT NULL,
  flow_id          text NOT NULL,
  flow_version     integer NOT NULL CHECK (flow_version >= 1),
  definition       jsonb NOT NULL,
  trigger_identity jsonb NOT NULL,
  input            jsonb NOT NULL,
  output           jsonb,
  status           text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'ambiguous')),
  error_code       text,
  digest_salt      bytea NOT NULL CHECK (length(digest_salt) = 32),
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz,
  deadline_at      timestamptz,
  version          integer NOT NULL DEFAULT 0
);
CREATE INDEX executions_tenant_started ON executions (tenant_id, started_at DESC);
CREATE INDEX executions_deadline ON executions (deadline_at) WHERE status = 'running' AND deadline_at IS NOT NULL;

-- step_runs: one row per attempt of a flowlet. `attempt` counts attempts that spend the retry
-- budget; `seq` numbers every row of the step (a rate-limited try or a lost worker adds a row
-- without spending an attempt). The idempotency key is stable per (execution, step): it is what
-- a provider sees on every attempt. `version` is the compare-and-set fence: a worker commits its
-- result only if the row is still the one it claimed.
CREATE TABLE step_runs (
  id               uuid PRIMARY KEY,
  tenant_id        text NOT NULL,
  execution_id     text NOT NULL REFERENCES executions (id),
  step_id          text NOT NULL,
  kind             text NOT NULL,
  seq              integer NOT NULL CHECK (seq >= 1),
  attempt          integer NOT NULL CHECK (attempt >= 1),
  status           text NOT NULL CHECK (status IN ('scheduled', 'running', 'waiting', 'succeeded', 'failed',
                                                   'rate_limited', 'timed_out', 'lost', 'ambiguous', 'cancelled')),
  input            jsonb,
  output           jsonb,
  error            jsonb,
  idempotency_key  text NOT NULL,
  lease_owner      text,
  lease_expires_at timestamptz,
  scheduled_at     timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz,
  version          integer NOT NULL DEFAULT 0,
  UNIQUE (execution_id, step_id, seq)
);
CREATE INDEX step_runs_execution ON step_runs (execution_id, step_id, seq);
CREATE INDEX step_runs_leases ON step_runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX step_runs_scheduled ON step_runs (scheduled_at) WHERE status = 'scheduled';

-- waits: what an execution waits for by time (retry timers, delays; approvals later). Polled
-- with FOR UPDATE SKIP LOCKED by every replica.
CREATE TABLE waits (
  id           uuid PRIMARY KEY,
  tenant_id    text NOT NULL,
  execution_id text NOT NULL REFERENCES executions (id),
  step_id      text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('retry', 'delay')),
  attempt      integer NOT NULL CHECK (attempt >= 1),
  fire_at      timestamptz NOT NULL,
  fired_at     timestamptz,
  created_at   timestamptz NOT NULL
);
CREATE INDEX waits_due ON waits (fire_at) WHERE fired_at IS NULL;
CREATE INDEX waits_execution ON waits (execution_id) WHERE fired_at IS NULL;

-- inbox: command ids already applied (a redelivered command is a no-op), written in the same
-- transaction as the claim.
CREATE TABLE inbox (
  tenant_id   text NOT NULL,
  message_id  uuid NOT NULL,
  received_at timestamptz NOT NULL,
  -- Per company: one company's ids can neither collide with nor reveal another's.
  PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX inbox_received ON inbox (received_at);

-- Row-level security, the one way (bus migration 0003): ENABLE + FORCE + the tenant policy.
SELECT flow8_tenant_rls('executions');
SELECT flow8_tenant_rls('step_runs');
SELECT flow8_tenant_rls('waits');
SELECT flow8_tenant_rls('inbox');

GRANT SELECT, INSERT ON executions TO ${app_role};
GRANT UPDATE (output, status, error_code, finished_at, version) ON executions TO ${app_role};
GRANT SELECT, INSERT ON step_runs TO ${app_role};
GRANT UPDATE (status, input, output, error, lease_owner, lease_expires_at, scheduled_at, started_at, finished_at, version)
  ON step_runs TO ${app_role};
GRANT SELECT, INSERT ON waits TO ${app_role};
GRANT UPDATE (fired_at) ON waits TO ${app_role};
GRANT SELECT, INSERT ON inbox TO ${app_role};

-- The sweeps (due timers, expired leases, commands never claimed, overdue executions) look across
-- companies. They ask through these SECURITY DEFINER functions, which return ids only; the work on
-- each row happens in that company's own transaction, under tenant_isolation, where the row is
-- locked with FOR UPDATE SKIP LOCKED (so every replica may sweep; none needs to lead). Times come
-- from the caller's clock ($now), never now().
CREATE POLICY definer_lookup ON executions FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_lookup ON step_runs FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_lookup ON waits FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION flow_due_waits(p_now timestamptz, p_limit integer) RETURNS TABLE (tenant_id text, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT w.tenant_id, w.id FROM public.waits w WHERE w.fired_at IS NULL AND w.fire_at <= p_now
        ORDER BY w.fire_at LIMIT greatest(1, least(p_limit, 1000)) $$;

CREATE FUNCTION flow_expired_leases(p_now timestamptz, p_limit integer) RETURNS TABLE (tenant_id text, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT s.tenant_id, s.id FROM public.step_runs s WHERE s.status = 'running' AND s.lease_expires_at <= p_now
        ORDER BY s.lease_expires_at LIMIT greatest(1, least(p_limit, 1000)) $$;

CREATE FUNCTION flow_unclaimed_steps(p_before timestamptz, p_limit integer) RETURNS TABLE (tenant_id text, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT s.tenant_id, s.id FROM public.step_runs s WHERE s.status = 'scheduled' AND s.scheduled_at <= p_before
        ORDER BY s.scheduled_at LIMIT greatest(1, least(p_limit, 1000)) $$;

CREATE FUNCTION flow_overdue_executions(p_now timestamptz, p_limit integer) RETURNS TABLE (tenant_id text, id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT e.tenant_id, e.id FROM public.executions e WHERE e.status = 'running' AND e.deadline_at <= p_now
        ORDER BY e.deadline_at LIMIT greatest(1, least(p_limit, 1000)) $$;

-- Inbox ids older than any redelivery (the commands topic keeps 7 days) are forgotten, a batch at
-- a time; returns how many. The runtime role has no DELETE of its own.
CREATE POLICY definer_lookup ON inbox FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY definer_prune ON inbox FOR DELETE TO CURRENT_USER USING (true);
CREATE FUNCTION flow_prune_inbox(p_before timestamptz, p_limit integer) RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ WITH gone AS (
          DELETE FROM public.inbox i WHERE (i.tenant_id, i.message_id) IN (
            SELECT tenant_id, message_id FROM public.inbox WHERE received_at < p_before
            LIMIT greatest(1, least(p_limit, 10000)))
          RETURNING 1)
        SELECT count(*) FROM gone $$;

REVOKE ALL ON FUNCTION flow_due_waits(timestamptz, integer), flow_expired_leases(timestamptz, integer),
  flow_unclaimed_steps(timestamptz, integer), flow_overdue_executions(timestamptz, integer),
  flow_prune_inbox(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flow_due_waits(timestamptz, integer), flow_expired_leases(timestamptz, integer),
  flow_unclaimed_steps(timestamptz, integer), flow_overdue_executions(timestamptz, integer),
  flow_prune_inbox(timestamptz, integer) TO ${app_role};
