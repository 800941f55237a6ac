// The durable execution core. Every change of an execution is ONE tenant transaction that locks
// the execution row first (one lock order everywhere: execution, then its step or wait), applies
// the transition, schedules the next steps (rows + their commands through the outbox) and records
// the fact events (outbox) — so a crash anywhere loses nothing and repeats at most the side effect
// of one step, whose idempotency key is stable per (execution, step).
//
// Who calls what:
//   startExecution  — the routes/triggers (not yet wired);
//   acceptCommand   — the commands consumer: dedupe (inbox) + claim (lease), then the worker pool;
//   settle          — the worker, when a step attempt ended (step-runner.ts);
//   fireWait, expireLease, reissueUnclaimed, expireExecution — the sweeps (sweeps.ts);
//   cancelExecution — the routes (not yet wired).
import { commandsTopic, newId, uuidv7, type Actor } from '@flow8/contracts';
import type { Outbox } from '@flow8/bus';
import { withTenant, type Pool, type Queryable } from '@flow8/db';
import type { Logger } from '@flow8/telemetry';
import type { Clock } from '../../runtime/clock';
import type { FlowDefinition, Flowlet, Json } from '../flows/definition/types';
import type { OperationRegistry } from '../connectors/operation';
import type { RunStepCommand } from './commands';
import { newDigestSalt, saltedDigest } from './digest';
import * as repo from './executions.repo';
import type { ExecutionRow, ExecutionStatus, StepRunRow } from './executions.repo';
import { compiledFlow, flowletOf, retryPolicyOf, stepsView } from './plan';
import { planNext, type StepsView } from './planner';
import { decideRetry, type StepFailure } from './retry-policy';

/** What a step attempt came to (the worker's report). */
export type StepOutcome =
  | { type: 'succeeded'; input: Json; output: Json }
  | { type: 'failed'; input: Json | null; code: string; retryable: boolean }
  | { type: 'rate_limited'; input: Json | null; retryAfterMs: number }
  | { type: 'timed_out'; input: Json | null; idempotent: boolean }
  | { type: 'wait'; input: Json | null; fireAt: Date };

export interface FlowVersionRef {
  flowId: string;
  version: number;
  definition: FlowDefinition;
}

export interface ExecutionDeps {
  pool: Pool;
  outbox: Pick<Outbox, 'emit' | 'command'>;
  clock: Clock;
  random: () => number;
  registry: OperationRegistry;
  /** This replica's id: the lease owner of the steps it claims. */
  owner: string;
  topicPrefix: string;
  stepTimeoutMs: number;
  leaseMarginMs: number;
  logger: Logger;
  /** Called when work this replica runs must stop (the execution ended, the claim was lost). */
  onAbort?: (stepRunIds: string[]) => void;
  metrics?: { stepSettled(outcome: string): void; executionFinished(status: string): void };
}

export type ExecutionsService = ReturnType<typeof createExecutionsService>;

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export function createExecutionsService(deps: ExecutionDeps) {
  const { clock, outbox } = deps;
  const topic = commandsTopic('flow', deps.topicPrefix);
  const resource = (e: ExecutionRow) => ({ type: 'execution', id: e.id });
  const digest = (e: ExecutionRow, v: unknown) => saltedDigest(e.digest_salt, v);

  function stepTimeoutOf(f: Flowlet): number {
    return f.timeoutMs ?? deps.stepTimeoutMs;
  }

  function isIdempotent(f: Flowlet): boolean {
    const action = f.kind === 'action' ? f : f.kind === 'foreach' && f.body.kind === 'action' ? f.body : null;
    if (!action) return true; // map, condition, delay, approval, a foreach of maps: no side effect
    return deps.registry.get(action.integration, action.operation)?.idempotent ?? false;
  }

  /** A step row `scheduled` and its command, in the caller's transaction. */
  async function scheduleStep(tx: Queryable, e: ExecutionRow, stepId: string, seq: number, attempt: number) {
    const f = flowletOf(e.definition, stepId);
    const stepRunId = uuidv7();
    const inserted = await repo.insertStepRun(tx, {
      id: stepRunId,
      tenant_id: e.tenant_id,
      execution_id: e.id,
      step_id: stepId,
      kind: f.kind,
      seq,
      attempt,
      idempotency_key: `${e.id}:${stepId}`,
      scheduled_at: clock.now(),
    });
    if (inserted) await issueCommand(tx, e, stepRunId);
  }

  async function issueCommand(tx: Queryable, e: ExecutionRow, stepRunId: string) {
    const command: RunStepCommand = {
      v: 1,
      type: 'step.run',
      id: uuidv7(),
      tenantId: e.tenant_id,
      executionId: e.id,
      stepRunId,
    };
    await outbox.command(tx, {
      id: command.id,
      tenantId: e.tenant_id,
      topic,
      key: e.id,
      type: command.type,
      value: command,
    });
  }

  async function finish(
    tx: Queryable,
    e: ExecutionRow,
    status: Exclude<ExecutionStatus, 'running' | 'awaiting_approval'>,
    output: Json | null,
    errorCode: string | null,
  ) {
    const now = clock.now();
    await repo.finishExecution(tx, e.id, status, output, errorCode, now);
    const closed = await repo.closeOpenWork(tx, e.id, now);
    await outbox.emit(tx, {
      type: 'flow.execution.finished',
      tenantId: e.tenant_id,
      actor: e.trigger_identity,
      resource: resource(e),
      occurredAt: now,
      payload: {
        executionId: e.id,
        status,
        outputDigest: output === null ? null : digest(e, output),
        durationMs: Math.max(0, now.getTime() - e.started_at.getTime()),
        errorCode,
      },
    });
    if (closed.length > 0) deps.onAbort?.(closed);
    deps.metrics?.executionFinished(status);
  }

  /** A flowlet none of whose incoming edges can be taken any more: a finished `skipped` row. */
  async function skipStep(tx: Queryable, e: ExecutionRow, stepId: string) {
    await repo.insertStepRun(
      tx,
      {
        id: uuidv7(),
        tenant_id: e.tenant_id,
        execution_id: e.id,
        step_id: stepId,
        kind: flowletOf(e.definition, stepId).kind,
        seq: 1,
        attempt: 1,
        idempotency_key: `${e.id}:${stepId}`,
        scheduled_at: clock.now(),
      },
      'skipped',
    );
  }

  async function viewOf(tx: Queryable, e: ExecutionRow): Promise<StepsView> {
    const { rows, openTimers } = await repo.planRows(tx, e.id);
    return stepsView(rows, openTimers);
  }

  /**
   * The planner decides what follows (planner.ts): ready flowlets get a row and a command, the
   * ones that can no longer run a `skipped` row (skips cascade: plan again), and when nothing can
   * move the execution finishes with the planner's outcome.
   */
  async function advance(tx: Queryable, e: ExecutionRow) {
    const flow = compiledFlow(e.definition);
    for (let round = 0; round <= flow.order.length; round++) {
      const p = planNext(flow, await viewOf(tx, e));
      for (const id of p.ready) await scheduleStep(tx, e, id, 1, 1);
      for (const id of p.skip) await skipStep(tx, e, id);
      if (p.finished) {
        const f = p.finished;
        if (f.status === 'succeeded') await finish(tx, e, 'succeeded', f.output, null);
        else if (f.status === 'failed') await finish(tx, e, 'failed', null, 'STEP_FAILED');
        else await finish(tx, e, 'cancelled', null, null);
        return;
      }
      if (p.skip.length === 0) return;
    }
  }

  async function emitStepFailed(
    tx: Queryable,
    e: ExecutionRow,
    s: StepRunRow,
    outcome: 'failed' | 'ambiguous' | 'timed_out' | 'rate_limited',
    errorCode: string,
    retryAt: Date | null,
  ) {
    await outbox.emit(tx, {
      type: 'flow.step.failed',
      tenantId: e.tenant_id,
      actor: e.trigger_identity,
      resource: resource(e),
      occurredAt: clock.now(),
      payload: {
        executionId: e.id,
        stepId: s.step_id,
        kind: s.kind as 'action',
        attempt: s.attempt,
        outcome,
        errorCode,
        inputDigest: digest(e, s.input),
        retryLater: retryAt !== null,
        retryAt: isoOrNull(retryAt),
      },
    });
  }

  async function scheduleRetry(
    tx: Queryable,
    e: ExecutionRow,
    s: StepRunRow,
    attempt: number,
    delayMs: number,
  ): Promise<Date> {
    const fireAt = new Date(clock.now().getTime() + delayMs);
    await repo.insertWait(
      tx,
      {
        id: uuidv7(),
        tenant_id: e.tenant_id,
        execution_id: e.id,
        step_id: s.step_id,
        kind: 'retry',
        attempt,
        fire_at: fireAt,
      },
      clock.now(),
    );
    return fireAt;
  }

  async function inExecution<T>(
    tenantId: string,
    executionId: string,
    fn: (tx: Queryable, e: ExecutionRow) => Promise<T>,
  ): Promise<T | null> {
    return withTenant(deps.pool, tenantId, async (tx) => {
      const e = await repo.lockExecution(tx, executionId);
      if (!e) return null;
      return fn(tx, e);
    });
  }

  return {
    /**
     * Starts an execution of a pinned flow version for `triggerIdentity` (whom its steps act
     * for): the execution row, `flow.execution.started` and the entry steps' commands commit
     * together.
     */
    async startExecution(
      tenantId: string,
      flowVersion: FlowVersionRef,
      input: Json,
      triggerIdentity: Actor,
    ): Promise<{ executionId: string }> {
      const now = clock.now();
      const def = flowVersion.definition;
      const e: ExecutionRow = {
        id: newId('exe'),
        tenant_id: tenantId,
        flow_id: flowVersion.flowId,
        flow_version: flowVersion.version,
        definition: def,
        trigger_identity: triggerIdentity,
        input,
        output: null,
        status: 'running',
        error_code: null,
        digest_salt: newDigestSalt(),
        started_at: now,
        finished_at: null,
        deadline_at: def.timeoutMs ? new Date(now.getTime() + def.timeoutMs) : null,
        version: 0,
      };
      await withTenant(deps.pool, tenantId, async (tx) => {
        await repo.insertExecution(tx, e);
        await outbox.emit(tx, {
          type: 'flow.execution.started',
          tenantId,
          actor: triggerIdentity,
          resource: resource(e),
          occurredAt: now,
          payload: {
            executionId: e.id,
            flowId: e.flow_id,
            flowVersion: e.flow_version,
            inputDigest: digest(e, input),
            deadlineAt: isoOrNull(e.deadline_at),
          },
        });
        await advance(tx, e);
      });
      return { executionId: e.id };
    },

    /**
     * A command arrived: record it in the inbox (a redelivery stops here) and claim its step with
     * a lease. Returns the claim for the worker pool, or why there is none. Short: one
     * transaction, no step work.
     */
    async acceptCommand(
      cmd: RunStepCommand,
    ): Promise<{ result: 'claimed'; step: StepRunRow; execution: ExecutionRow } | { result: 'duplicate' | 'stale' }> {
      return withTenant(deps.pool, cmd.tenantId, async (tx) => {
        const now = clock.now();
        if (!(await repo.recordInbox(tx, cmd.id, cmd.tenantId, now))) return { result: 'duplicate' as const };
        const e = await repo.getExecution(tx, cmd.executionId);
        if (!e || e.status !== 'running') return { result: 'stale' as const };
        const s0 = await tx.query<{ step_id: string }>(
          `SELECT step_id FROM step_runs WHERE id = $1 AND execution_id = $2`,
          [cmd.stepRunId, e.id],
        );
        const stepId = s0.rows[0]?.step_id;
        if (!stepId) return { result: 'stale' as const };
        const lease = stepTimeoutOf(flowletOf(e.definition, stepId)) + deps.leaseMarginMs;
        const step = await repo.claimStepRun(tx, cmd.stepRunId, deps.owner, now, new Date(now.getTime() + lease));
        if (!step) return { result: 'stale' as const };
        return { result: 'claimed' as const, step, execution: e };
      });
    },

    /** The planner's view of an execution's steps: what `bindingsFor` binds `steps.<id>` from. */
    async stepsOf(e: ExecutionRow): Promise<StepsView> {
      return withTenant(deps.pool, e.tenant_id, (tx) => viewOf(tx, e));
    },

    /**
     * A claimed attempt ended. Applies only if the claim still holds (compare-and-set on the row's
     * version and lease owner); false: the result was dropped (lease lost, execution ended).
     */
    async settle(claim: StepRunRow, outcome: StepOutcome): Promise<boolean> {
      const r = await inExecution(claim.tenant_id, claim.execution_id, async (tx, e) => {
        if (e.status !== 'running') return false;
        const now = clock.now();
        const f = flowletOf(e.definition, claim.step_id);
        const policy = retryPolicyOf(e.definition, claim.step_id);
        const status =
          outcome.type === 'succeeded'
            ? 'succeeded'
            : outcome.type === 'wait'
              ? 'waiting'
              : outcome.type === 'rate_limited'
                ? 'rate_limited'
                : outcome.type === 'timed_out'
                  ? outcome.idempotent
                    ? 'timed_out'
                    : 'ambiguous'
                  : 'failed';
        const error =
          outcome.type === 'failed'
            ? { code: outcome.code }
            : outcome.type === 'rate_limited'
              ? { code: 'RATE_LIMITED' }
              : outcome.type === 'timed_out'
                ? { code: 'STEP_TIMEOUT' }
                : null;
        const s = await repo.settleStepRun(tx, claim, {
          status,
          input: outcome.input,
          output: outcome.type === 'succeeded' ? outcome.output : null,
          error,
          finishedAt: outcome.type === 'wait' ? null : now,
        });
        if (!s) return false;
        deps.metrics?.stepSettled(status);
        switch (outcome.type) {
          case 'succeeded':
            await outbox.emit(tx, {
              type: 'flow.step.completed',
              tenantId: e.tenant_id,
              actor: e.trigger_identity,
              resource: resource(e),
              occurredAt: now,
              payload: {
                executionId: e.id,
                stepId: s.step_id,
                kind: f.kind,
                attempt: s.attempt,
                inputDigest: digest(e, outcome.input),
                outputDigest: digest(e, outcome.output),
                durationMs: Math.max(0, now.getTime() - (s.started_at ?? now).getTime()),
                integration: f.kind === 'action' ? f.integration : null,
                operation: f.kind === 'action' ? f.operation : null,
              },
            });
            await advance(tx, e);
            return true;
          case 'wait':
            await repo.insertWait(
              tx,
              {
                id: uuidv7(),
                tenant_id: e.tenant_id,
                execution_id: e.id,
                step_id: s.step_id,
                kind: 'delay',
                attempt: s.attempt,
                fire_at: outcome.fireAt,
              },
              now,
            );
            return true;
          case 'rate_limited':
          case 'timed_out':
          case 'failed': {
            // The pure retry policy decides (retry-policy.ts): a rate limit waits without spending
            // an attempt; a timeout of a call that cannot be repeated safely is ambiguous.
            const code =
              outcome.type === 'failed' ? outcome.code : outcome.type === 'timed_out' ? 'STEP_TIMEOUT' : 'RATE_LIMITED';
            const failure: StepFailure =
              outcome.type === 'rate_limited'
                ? { kind: 'rate_limited', retryAfterMs: outcome.retryAfterMs }
                : outcome.type === 'timed_out' && !outcome.idempotent
                  ? { kind: 'unknown_outcome' }
                  : {
                      kind: 'error',
                      retryable: outcome.type === 'timed_out' || outcome.retryable,
                      code,
                      message: code,
                    };
            const decision = decideRetry({
              policy,
              attempt: s.attempt,
              failure,
              idempotent: isIdempotent(f),
              rateLimitWaits: await repo.countStepRuns(tx, e.id, s.step_id, 'rate_limited'),
              random: deps.random,
            });
            const reported = outcome.type === 'failed' ? 'failed' : outcome.type;
            if (decision.kind === 'ambiguous') {
              // The call may have happened and cannot be safely repeated: a person decides.
              await emitStepFailed(tx, e, s, 'ambiguous', code, null);
              await finish(tx, e, 'ambiguous', null, code);
              return true;
            }
            if (decision.kind === 'retry') {
              const attempt = decision.spendsAttempt ? s.attempt + 1 : s.attempt;
              const at = await scheduleRetry(tx, e, s, attempt, decision.delayMs);
              await emitStepFailed(tx, e, s, reported, code, at);
              return true;
            }
            await emitStepFailed(tx, e, s, reported, code, null);
            await finish(tx, e, 'failed', null, code);
            return true;
          }
        }
      });
      return r ?? false;
    },

    /** A due wait fires: a retry schedules the step's next row; a delay completes its step. */
    async fireWait(tenantId: string, waitId: string): Promise<boolean> {
      const executionId = await withTenant(deps.pool, tenantId, (tx) => repo.executionOfWait(tx, waitId));
      if (!executionId) return false;
      const r = await inExecution(tenantId, executionId, async (tx, e) => {
        const now = clock.now();
        const w = await repo.lockDueWait(tx, waitId, now);
        if (!w) return false;
        await repo.markWaitFired(tx, w.id, now);
        if (e.status !== 'running') return false;
        if (w.kind === 'retry') {
          await scheduleStep(tx, e, w.step_id, (await repo.lastSeq(tx, e.id, w.step_id)) + 1, w.attempt);
          return true;
        }
        const waiting = await tx.query<StepRunRow>(
          `SELECT * FROM step_runs WHERE execution_id = $1 AND step_id = $2 AND status = 'waiting' FOR UPDATE`,
          [e.id, w.step_id],
        );
        const s = waiting.rows[0];
        if (!s) return false;
        const output: Json = { firedAt: now.toISOString() };
        await repo.setStepStatus(tx, s.id, 'succeeded', { output, finishedAt: now });
        await outbox.emit(tx, {
          type: 'flow.step.completed',
          tenantId,
          actor: e.trigger_identity,
          resource: resource(e),
          occurredAt: now,
          payload: {
            executionId: e.id,
            stepId: s.step_id,
            kind: 'delay',
            attempt: s.attempt,
            inputDigest: digest(e, s.input),
            outputDigest: digest(e, output),
            durationMs: Math.max(0, now.getTime() - (s.started_at ?? now).getTime()),
            integration: null,
            operation: null,
          },
        });
        await advance(tx, e);
        return true;
      });
      return r ?? false;
    },

    /**
     * A claimed step's lease ran out (its worker died or hung past its deadline). An idempotent
     * step runs again (a new row, no attempt spent); any other goes `ambiguous` and so does its
     * execution: the side effect may have happened, and it is never silently repeated.
     */
    async expireLease(tenantId: string, stepRunId: string): Promise<'rerun' | 'ambiguous' | null> {
      const executionId = await withTenant(deps.pool, tenantId, (tx) => repo.executionOfStep(tx, stepRunId));
      if (!executionId) return null;
      const r = await inExecution(tenantId, executionId, async (tx, e) => {
        const now = clock.now();
        const s = await repo.lockStepRun(tx, stepRunId);
        if (!s || s.status !== 'running' || !s.lease_expires_at || s.lease_expires_at > now || e.status !== 'running')
          return null;
        deps.onAbort?.([s.id]);
        const f = flowletOf(e.definition, s.step_id);
        if (isIdempotent(f)) {
          await repo.setStepStatus(tx, s.id, 'lost', { error: { code: 'LEASE_EXPIRED' }, finishedAt: now });
          await emitStepFailed(tx, e, s, 'failed', 'LEASE_EXPIRED', now);
          await scheduleStep(tx, e, s.step_id, (await repo.lastSeq(tx, e.id, s.step_id)) + 1, s.attempt);
          deps.metrics?.stepSettled('lost');
          return 'rerun' as const;
        }
        await repo.setStepStatus(tx, s.id, 'ambiguous', { error: { code: 'LEASE_EXPIRED' }, finishedAt: now });
        await emitStepFailed(tx, e, s, 'ambiguous', 'LEASE_EXPIRED', null);
        await finish(tx, e, 'ambiguous', null, 'LEASE_EXPIRED');
        deps.metrics?.stepSettled('ambiguous');
        return 'ambiguous' as const;
      });
      return r ?? null;
    },

    /** A step scheduled long ago that nobody claimed (its command lost or deferred): issue it again. */
    async reissueUnclaimed(tenantId: string, stepRunId: string, before: Date): Promise<boolean> {
      const executionId = await withTenant(deps.pool, tenantId, (tx) => repo.executionOfStep(tx, stepRunId));
      if (!executionId) return false;
      const r = await inExecution(tenantId, executionId, async (tx, e) => {
        const s = await repo.lockStepRun(tx, stepRunId);
        if (!s || s.status !== 'scheduled' || s.scheduled_at > before || e.status !== 'running') return false;
        await repo.setStepStatus(tx, s.id, 'scheduled', { scheduledAt: clock.now() });
        await issueCommand(tx, e, s.id);
        return true;
      });
      return r ?? false;
    },

    /** The whole-execution deadline passed: `timed_out`, open steps and waits closed. */
    async expireExecution(tenantId: string, executionId: string): Promise<boolean> {
      const r = await inExecution(tenantId, executionId, async (tx, e) => {
        if (e.status !== 'running' || !e.deadline_at || e.deadline_at > clock.now()) return false;
        await finish(tx, e, 'timed_out', null, 'EXECUTION_DEADLINE');
        return true;
      });
      return r ?? false;
    },

    /** Cancels a running execution; running steps' results are dropped when they come back. */
    async cancelExecution(tenantId: string, executionId: string): Promise<boolean> {
      const r = await inExecution(tenantId, executionId, async (tx, e) => {
        if (e.status !== 'running') return false;
        await finish(tx, e, 'cancelled', null, null);
        return true;
      });
      return r ?? false;
    },

    async getExecution(
      tenantId: string,
      executionId: string,
    ): Promise<{ execution: ExecutionRow; steps: StepRunRow[] } | null> {
      return withTenant(deps.pool, tenantId, async (tx) => {
        const execution = await repo.getExecution(tx, executionId);
        if (!execution) return null;
        return { execution, steps: await repo.stepRunsOf(tx, executionId) };
      });
    },

    isIdempotent,
    stepTimeoutOf,
  };
}
