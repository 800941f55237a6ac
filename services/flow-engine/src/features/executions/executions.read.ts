// Read side of executions for the routes: the history list (filters, cursor pages by id, newest
// first) and views. Row-level security keeps every query inside the caller's company, so another
// company's execution is not found, exactly like an unknown id.
import type { Queryable } from '@flow8/db';
import type { ExecutionRow, ExecutionStatus, StepRunRow } from './executions.repo';

export type ExecutionListRow = Pick<
  ExecutionRow,
  'id' | 'flow_id' | 'flow_version' | 'status' | 'error_code' | 'trigger_identity' | 'started_at' | 'finished_at'
> & { partition_id: string | null };

const LIST_COLUMNS = `id, flow_id, flow_version, status, error_code, trigger_identity, started_at, finished_at,
  definition->>'partitionId' AS partition_id`;

export async function listExecutions(
  tx: Queryable,
  q: { flowId?: string; status?: ExecutionStatus; afterId: string | null; limit: number },
): Promise<ExecutionListRow[]> {
  const r = await tx.query<ExecutionListRow>(
    `SELECT ${LIST_COLUMNS} FROM executions
      WHERE ($1::text IS NULL OR flow_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id < $3)
      ORDER BY id DESC LIMIT $4`,
    [q.flowId ?? null, q.status ?? null, q.afterId, q.limit],
  );
  return r.rows;
}

export interface ExecutionView {
  id: string;
  flowId: string;
  flowVersion: number;
  status: ExecutionStatus;
  errorCode: string | null;
  triggeredBy: { type: string; id: string };
  startedAt: string;
  finishedAt: string | null;
}

export function executionView(e: Omit<ExecutionListRow, 'partition_id'>): ExecutionView {
  return {
    id: e.id,
    flowId: e.flow_id,
    flowVersion: e.flow_version,
    status: e.status,
    errorCode: e.error_code,
    // Who triggered it: type and id only (the IP stays in the audit trail).
    triggeredBy: { type: e.trigger_identity.type, id: e.trigger_identity.id },
    startedAt: e.started_at.toISOString(),
    finishedAt: e.finished_at?.toISOString() ?? null,
  };
}

/** One execution with its step runs. Input and output are shown as stored (sealing is not built yet). */
export function executionDetail(e: ExecutionRow, steps: StepRunRow[]) {
  return {
    ...executionView(e),
    input: e.input,
    output: e.output,
    steps: steps.map((s) => ({
      stepId: s.step_id,
      kind: s.kind,
      seq: s.seq,
      attempt: s.attempt,
      status: s.status,
      output: s.output,
      errorCode: s.error?.code ?? null,
      scheduledAt: s.scheduled_at.toISOString(),
      startedAt: s.started_at?.toISOString() ?? null,
      finishedAt: s.finished_at?.toISOString() ?? null,
    })),
  };
}
