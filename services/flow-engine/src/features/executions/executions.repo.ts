// SQL of the execution store. Every function runs inside the caller's tenant transaction (row-
// level security scopes it); times are parameters from the engine's Clock, never now().
import type { Actor } from '@flow8/contracts';
import type { Queryable } from '@flow8/db';
import type { FlowDefinition, Json } from '../flows/definition/types';

export type ExecutionStatus =
  'running' | 'awaiting_approval' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out' | 'ambiguous';
export type StepStatus =
  | 'scheduled'
  | 'running'
  | 'waiting'
  | 'succeeded'
  | 'failed'
  | 'rate_limited'
  | 'timed_out'
  | 'lost'
  | 'ambiguous'
  | 'cancelled'
  | 'skipped'
  | 'awaiting_approval';

export interface ExecutionRow {
  id: string;
  tenant_id: string;
  flow_id: string;
  flow_version: number;
  definition: FlowDefinition;
  trigger_identity: Actor;
  input: Json;
  output: Json | null;
  status: ExecutionStatus;
  error_code: string | null;
  digest_salt: Buffer;
  started_at: Date;
  finished_at: Date | null;
  deadline_at: Date | null;
  version: number;
}

export interface StepRunRow {
  id: string;
  tenant_id: string;
  execution_id: string;
  step_id: string;
  kind: string;
  seq: number;
  attempt: number;
  status: StepStatus;
  input: Json | null;
  output: Json | null;
  error: { code: string } | null;
  idempotency_key: string;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  scheduled_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  version: number;
}

export interface WaitRow {
  id: string;
  tenant_id: string;
  execution_id: string;
  step_id: string;
  kind: 'retry' | 'delay' | 'approval';
  attempt: number;
  fire_at: Date;
  fired_at: Date | null;
}

export async function insertExecution(
  tx: Queryable,
  e: Omit<ExecutionRow, 'output' | 'error_code' | 'finished_at' | 'version' | 'status'>,
): Promise<void> {
  await tx.query(
    `INSERT INTO executions (id, tenant_id, flow_id, flow_version, definition, trigger_identity, input, status, digest_salt, started_at, deadline_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10)`,
    [
      e.id,
      e.tenant_id,
      e.flow_id,
      e.flow_version,
      JSON.stringify(e.definition),
      JSON.stringify(e.trigger_identity),
      JSON.stringify(e.input),
      e.digest_salt,
      e.started_at,
      e.deadline_at,
    ],
  );
}

export async function lockExecution(tx: Queryable, id: string): Promise<ExecutionRow | null> {
  const r = await tx.query<ExecutionRow>(`SELECT * FROM executions WHERE id = $1 FOR UPDATE`, [id]);
  return r.rows[0] ?? null;
}

export async function getExecution(tx: Queryable, id: string): Promise<ExecutionRow | null> {
  const r = await tx.query<ExecutionRow>(`SELECT * FROM executions WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

export async function finishExecution(
  tx: Queryable,
  id: string,
  status: ExecutionStatus,
  output: Json | null,
  errorCode: string | null,
  now: Date,
): Promise<void> {
  await tx.query(
    `UPDATE executions SET status = $2, output = $3, error_code = $4, finished_at = $5, version = version + 1 WHERE id = $1`,
    [id, status, output === null ? null : JSON.stringify(output), errorCode, now],
  );
}

/**
 * Inserts the step's row `seq` (`scheduled`, or `skipped` — then also finished); false when it
 * exists already.
 */
export async function insertStepRun(
  tx: Queryable,
  s: Pick<
    StepRunRow,
    'id' | 'tenant_id' | 'execution_id' | 'step_id' | 'kind' | 'seq' | 'attempt' | 'idempotency_key' | 'scheduled_at'
  >,
  status: 'scheduled' | 'skipped' | 'awaiting_approval' = 'scheduled',
): Promise<boolean> {
  const r = await tx.query(
    `INSERT INTO step_runs (id, tenant_id, execution_id, step_id, kind, seq, attempt, status, idempotency_key, scheduled_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $10, $8, $9, CASE WHEN $10 = 'skipped' THEN $9::timestamptz END)
     ON CONFLICT (execution_id, step_id, seq) DO NOTHING`,
    [s.id, s.tenant_id, s.execution_id, s.step_id, s.kind, s.seq, s.attempt, s.idempotency_key, s.scheduled_at, status],
  );
  return r.rowCount === 1;
}

/** What the planner needs: every row's (step, seq, status, output), and the steps with an open timer. */
export async function planRows(
  tx: Queryable,
  executionId: string,
): Promise<{ rows: Pick<StepRunRow, 'step_id' | 'seq' | 'status' | 'output'>[]; openTimers: Set<string> }> {
  const r = await tx.query<Pick<StepRunRow, 'step_id' | 'seq' | 'status' | 'output'>>(
    `SELECT step_id, seq, status, output FROM step_runs WHERE execution_id = $1`,
    [executionId],
  );
  const w = await tx.query<{ step_id: string }>(
    `SELECT DISTINCT step_id FROM waits WHERE execution_id = $1 AND fired_at IS NULL AND kind IN ('retry', 'delay')`,
    [executionId],
  );
  return { rows: r.rows, openTimers: new Set(w.rows.map((x) => x.step_id)) };
}

export async function lockStepRun(tx: Queryable, id: string): Promise<StepRunRow | null> {
  const r = await tx.query<StepRunRow>(`SELECT * FROM step_runs WHERE id = $1 FOR UPDATE`, [id]);
  return r.rows[0] ?? null;
}

/** The claim: `scheduled` → `running` with a lease, only while the execution runs. */
export async function claimStepRun(
  tx: Queryable,
  id: string,
  owner: string,
  now: Date,
  leaseExpiresAt: Date,
): Promise<StepRunRow | null> {
  const r = await tx.query<StepRunRow>(
    `UPDATE step_runs s SET status = 'running', lease_owner = $2, lease_expires_at = $4, started_at = $3, version = s.version + 1
       FROM executions e
      WHERE s.id = $1 AND s.status = 'scheduled' AND e.id = s.execution_id AND e.status = 'running'
      RETURNING s.*`,
    [id, owner, now, leaseExpiresAt],
  );
  return r.rows[0] ?? null;
}

/**
 * Compare-and-set from the state a worker claimed: applies only if the row is still `running`
 * at `version` under `owner`. Null: the claim was lost (lease expired, cancelled) — the result
 * is dropped.
 */
export async function settleStepRun(
  tx: Queryable,
  claimed: Pick<StepRunRow, 'id' | 'version' | 'lease_owner'>,
  next: {
    status: StepStatus;
    input: Json | null;
    output: Json | null;
    error: { code: string } | null;
    finishedAt: Date | null;
  },
): Promise<StepRunRow | null> {
  const r = await tx.query<StepRunRow>(
    `UPDATE step_runs SET status = $4, input = $5, output = $6, error = $7, finished_at = $8, version = version + 1
      WHERE id = $1 AND version = $2 AND lease_owner = $3 AND status = 'running' RETURNING *`,
    [
      claimed.id,
      claimed.version,
      claimed.lease_owner,
      next.status,
      next.input === null ? null : JSON.stringify(next.input),
      next.output === null ? null : JSON.stringify(next.output),
      next.error === null ? null : JSON.stringify(next.error),
      next.finishedAt,
    ],
  );
  return r.rows[0] ?? null;
}

export async function setStepStatus(
  tx: Queryable,
  id: string,
  status: StepStatus,
  fields: { output?: Json; error?: { code: string }; finishedAt?: Date; scheduledAt?: Date; input?: Json } = {},
): Promise<void> {
  await tx.query(
    `UPDATE step_runs SET status = $2,
        output = COALESCE($3, output), error = COALESCE($4, error), finished_at = COALESCE($5, finished_at),
        scheduled_at = COALESCE($6, scheduled_at), input = COALESCE($7, input), version = version + 1
      WHERE id = $1`,
    [
      id,
      status,
      fields.output === undefined ? null : JSON.stringify(fields.output),
      fields.error === undefined ? null : JSON.stringify(fields.error),
      fields.finishedAt ?? null,
      fields.scheduledAt ?? null,
      fields.input === undefined ? null : JSON.stringify(fields.input),
    ],
  );
}

export async function setExecutionStatus(tx: Queryable, id: string, status: 'running' | 'awaiting_approval') {
  await tx.query(`UPDATE executions SET status = $2, version = version + 1 WHERE id = $1 AND status <> $2`, [
    id,
    status,
  ]);
}

// ---- approvals -----------------------------------------------------------------------------------

export interface ApprovalDecisionRow {
  id: string;
  tenant_id: string;
  execution_id: string;
  step_id: string;
  decider_id: string;
  decider_role: string;
  decider_ip: string | null;
  decision: 'approve' | 'reject';
  comment: string | null;
  summary_digest: string;
  decided_at: Date;
}

export async function insertDecision(tx: Queryable, d: ApprovalDecisionRow): Promise<boolean> {
  const r = await tx.query(
    `INSERT INTO approval_decisions (id, tenant_id, execution_id, step_id, decider_id, decider_role, decider_ip, decision,
        comment, summary_digest, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
      ON CONFLICT (execution_id, step_id, decider_id) DO NOTHING`,
    [
      d.id,
      d.tenant_id,
      d.execution_id,
      d.step_id,
      d.decider_id,
      d.decider_role,
      d.decider_ip,
      d.decision,
      d.comment,
      d.summary_digest,
      d.decided_at,
    ],
  );
  return r.rowCount === 1;
}

export async function decisionsOf(tx: Queryable, executionId: string, stepId: string): Promise<ApprovalDecisionRow[]> {
  const r = await tx.query<ApprovalDecisionRow>(
    `SELECT * FROM approval_decisions WHERE execution_id = $1 AND step_id = $2 ORDER BY decided_at, id`,
    [executionId, stepId],
  );
  return r.rows;
}

/** The open approval timer of a step (locked), if any. */
export async function openApprovalWait(tx: Queryable, executionId: string, stepId: string): Promise<WaitRow | null> {
  const r = await tx.query<WaitRow>(
    `SELECT * FROM waits WHERE execution_id = $1 AND step_id = $2 AND kind = 'approval' AND fired_at IS NULL FOR UPDATE`,
    [executionId, stepId],
  );
  return r.rows[0] ?? null;
}

/** The latest row of a step (locked). */
export async function lockLatestStepRun(
  tx: Queryable,
  executionId: string,
  stepId: string,
): Promise<StepRunRow | null> {
  const r = await tx.query<StepRunRow>(
    `SELECT * FROM step_runs WHERE execution_id = $1 AND step_id = $2 ORDER BY seq DESC LIMIT 1 FOR UPDATE`,
    [executionId, stepId],
  );
  return r.rows[0] ?? null;
}

/** Approval steps waiting for people in this company, with their execution and timer. */
export async function pendingApprovalSteps(
  tx: Queryable,
  limit: number,
): Promise<{ step: StepRunRow; execution: ExecutionRow; expires_at: Date }[]> {
  const r = await tx.query<{ step: StepRunRow; execution_id: string; expires_at: Date }>(
    `SELECT to_jsonb(s) AS step, s.execution_id, w.fire_at AS expires_at
       FROM step_runs s JOIN waits w ON w.execution_id = s.execution_id AND w.step_id = s.step_id
        AND w.kind = 'approval' AND w.fired_at IS NULL
      WHERE s.status = 'awaiting_approval' ORDER BY w.fire_at LIMIT $1`,
    [limit],
  );
  const out: { step: StepRunRow; execution: ExecutionRow; expires_at: Date }[] = [];
  for (const row of r.rows) {
    const execution = await getExecution(tx, row.execution_id);
    if (execution) out.push({ step: row.step, execution, expires_at: row.expires_at });
  }
  return out;
}

/** Ends every open step and wait of an execution (it finished, failed or was cancelled). */
export async function closeOpenWork(tx: Queryable, executionId: string, now: Date): Promise<string[]> {
  const r = await tx.query<{ id: string }>(
    `UPDATE step_runs SET status = 'cancelled', finished_at = $2, version = version + 1
      WHERE execution_id = $1 AND status IN ('scheduled', 'running', 'waiting', 'awaiting_approval') RETURNING id`,
    [executionId, now],
  );
  await tx.query(`UPDATE waits SET fired_at = $2 WHERE execution_id = $1 AND fired_at IS NULL`, [executionId, now]);
  return r.rows.map((x) => x.id);
}

export async function countStepRuns(
  tx: Queryable,
  executionId: string,
  stepId: string,
  status: StepStatus,
): Promise<number> {
  const r = await tx.query<{ n: string }>(
    `SELECT count(*) AS n FROM step_runs WHERE execution_id = $1 AND step_id = $2 AND status = $3`,
    [executionId, stepId, status],
  );
  return Number(r.rows[0]?.n ?? 0);
}

export async function lastSeq(tx: Queryable, executionId: string, stepId: string): Promise<number> {
  const r = await tx.query<{ seq: number | null }>(
    `SELECT max(seq) AS seq FROM step_runs WHERE execution_id = $1 AND step_id = $2`,
    [executionId, stepId],
  );
  return r.rows[0]?.seq ?? 0;
}

export async function stepRunsOf(tx: Queryable, executionId: string): Promise<StepRunRow[]> {
  const r = await tx.query<StepRunRow>(
    `SELECT * FROM step_runs WHERE execution_id = $1 ORDER BY id` /* UUIDv7: creation order */,
    [executionId],
  );
  return r.rows;
}

export async function insertWait(tx: Queryable, w: Omit<WaitRow, 'fired_at'>, now: Date): Promise<void> {
  await tx.query(
    `INSERT INTO waits (id, tenant_id, execution_id, step_id, kind, attempt, fire_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [w.id, w.tenant_id, w.execution_id, w.step_id, w.kind, w.attempt, w.fire_at, now],
  );
}

/** The wait, locked, if it is due and not fired yet (another replica holding it: null). */
export async function lockDueWait(tx: Queryable, id: string, now: Date): Promise<WaitRow | null> {
  const r = await tx.query<WaitRow>(
    `SELECT * FROM waits WHERE id = $1 AND fired_at IS NULL AND fire_at <= $2 FOR UPDATE SKIP LOCKED`,
    [id, now],
  );
  return r.rows[0] ?? null;
}

export async function markWaitFired(tx: Queryable, id: string, now: Date): Promise<void> {
  await tx.query(`UPDATE waits SET fired_at = $2 WHERE id = $1`, [id, now]);
}

/** First delivery of a command id: true; a redelivery: false. */
export async function recordInbox(tx: Queryable, messageId: string, tenantId: string, now: Date): Promise<boolean> {
  const r = await tx.query(
    `INSERT INTO inbox (message_id, tenant_id, received_at) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, message_id) DO NOTHING`,
    [messageId, tenantId, now],
  );
  return r.rowCount === 1;
}

export async function executionOfStep(tx: Queryable, stepRunId: string): Promise<string | null> {
  const r = await tx.query<{ execution_id: string }>(`SELECT execution_id FROM step_runs WHERE id = $1`, [stepRunId]);
  return r.rows[0]?.execution_id ?? null;
}

export async function executionOfWait(tx: Queryable, waitId: string): Promise<string | null> {
  const r = await tx.query<{ execution_id: string }>(`SELECT execution_id FROM waits WHERE id = $1`, [waitId]);
  return r.rows[0]?.execution_id ?? null;
}
