-- The pure core's step semantics in the store (planner.ts, step-machine.ts):
--   skipped            — a flowlet none of whose incoming edges can be taken any more (a branch
--                        not chosen, an approval that went the other way); a row, so the run's
--                        history shows every flowlet;
--   awaiting_approval  — an approval step suspended until enough people decide or it times out.
-- The per-attempt outcomes of 0002 stay (rate_limited, timed_out, lost: a row that is followed by
-- another try; waiting: a retry timer or a delay); the engine maps them onto the step machine's
-- statuses when it plans (plan.ts, stepsView).
ALTER TABLE step_runs DROP CONSTRAINT step_runs_status_check;
ALTER TABLE step_runs ADD CONSTRAINT step_runs_status_check CHECK (status IN (
  'scheduled', 'running', 'waiting', 'succeeded', 'failed', 'rate_limited', 'timed_out', 'lost', 'ambiguous',
  'cancelled', 'skipped', 'awaiting_approval'));

-- An execution held by an approval: nothing in memory, a `waits` row of kind approval carries
-- its timeout.
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check CHECK (status IN (
  'running', 'awaiting_approval', 'succeeded', 'failed', 'cancelled', 'timed_out', 'ambiguous'));

ALTER TABLE waits DROP CONSTRAINT waits_kind_check;
ALTER TABLE waits ADD CONSTRAINT waits_kind_check CHECK (kind IN ('retry', 'delay', 'approval'));
