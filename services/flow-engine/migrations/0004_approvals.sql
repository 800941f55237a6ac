-- Approvals. An approval step suspends its execution (`awaiting_approval`, a `waits` row of kind
-- approval carries the timeout; nothing is held in memory). The summary approvers see and its
-- SHA-256 digest are the step row's input. Every decision is a row: who (user, role, IP), when
-- (UTC), approve or reject, the comment, and the digest of the summary that was shown. One
-- decision per person per step (UNIQUE); rows are never updated or deleted.
CREATE TABLE approval_decisions (
  id             uuid PRIMARY KEY,
  tenant_id      text NOT NULL,
  execution_id   text NOT NULL REFERENCES executions (id),
  step_id        text NOT NULL,
  decider_id     text NOT NULL,
  decider_role   text NOT NULL,
  decider_ip     text,
  decision       text NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment        text CHECK (length(comment) <= 2000),
  summary_digest text NOT NULL CHECK (summary_digest ~ '^[0-9a-f]{64}$'),
  decided_at     timestamptz NOT NULL,
  UNIQUE (execution_id, step_id, decider_id)
);

-- Row-level security, the one way (bus migration 0003): ENABLE + FORCE + the tenant policy.
SELECT flow8_tenant_rls('approval_decisions');
GRANT SELECT, INSERT ON approval_decisions TO ${app_role};

-- An execution waiting for people still has a whole-execution deadline.
CREATE OR REPLACE FUNCTION flow_overdue_executions(p_now timestamptz, p_limit integer) RETURNS TABLE (tenant_id text, id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT e.tenant_id, e.id FROM public.executions e
         WHERE e.status IN ('running', 'awaiting_approval') AND e.deadline_at <= p_now
        ORDER BY e.deadline_at LIMIT greatest(1, least(p_limit, 1000)) $$;
