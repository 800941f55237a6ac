// The engine's timers, run by every replica (no leader): due waits (retry timers, delays),
// expired leases (lost workers), steps nobody claimed (a lost or deferred command) and overdue
// executions. The cross-company lookups return ids only (SECURITY DEFINER functions); each row is
// then handled in its company's transaction, where it is locked — FOR UPDATE SKIP LOCKED on the
// wait, FOR UPDATE on the execution — so replicas sweeping together never act twice.
import type { Pool } from '@flow8/db';
import { periodicJob, type PeriodicJob } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import type { ExecutionsService } from '../features/executions/executions.service';
import type { Clock } from './clock';

const BATCH = 200;
/** Inbox ids kept: longer than the commands topic keeps a message (7 days), so no redelivery outlives its id. */
export const INBOX_KEEP_MS = 8 * 24 * 3600_000;

export function createSweeps(deps: {
  pool: Pool;
  executions: ExecutionsService;
  clock: Clock;
  everyMs: number;
  unclaimedAfterMs: number;
  logger: Logger;
}) {
  async function each<T extends { tenant_id: string; id: string }>(
    sql: string,
    at: Date,
    fn: (row: T) => Promise<unknown>,
    signal?: AbortSignal,
  ) {
    const { rows } = await deps.pool.query<T>(sql, [at, BATCH]);
    for (const row of rows) {
      if (signal?.aborted) return;
      try {
        await fn(row);
      } catch (e) {
        deps.logger.error({ err: e, id: row.id }, 'flow sweep could not handle a row');
      }
    }
  }

  /** One pass of every sweep; returns when done (tests call it after moving the clock). */
  async function sweep(signal?: AbortSignal): Promise<void> {
    const now = deps.clock.now();
    const x = deps.executions;
    await each(
      'SELECT * FROM flow_overdue_executions($1, $2)',
      now,
      (r) => x.expireExecution(r.tenant_id, r.id),
      signal,
    );
    await each('SELECT * FROM flow_expired_leases($1, $2)', now, (r) => x.expireLease(r.tenant_id, r.id), signal);
    await each('SELECT * FROM flow_due_waits($1, $2)', now, (r) => x.fireWait(r.tenant_id, r.id), signal);
    const before = new Date(now.getTime() - deps.unclaimedAfterMs);
    await each(
      'SELECT * FROM flow_unclaimed_steps($1, $2)',
      before,
      (r) => x.reissueUnclaimed(r.tenant_id, r.id, before),
      signal,
    );
  }

  const job: PeriodicJob = periodicJob({
    name: 'flow-engine.sweeps',
    everyMs: deps.everyMs,
    run: sweep,
    logger: deps.logger,
  });
  return { sweep, start: () => job.start(), stop: () => job.stop() };
}
