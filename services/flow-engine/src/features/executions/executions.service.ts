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
//   cancelExecution — the routes (not yet wired);
//   decideApproval, listPendingApprovals — the approval routes (helper "froutes").
// What runs next is the pure planner's answer (planNext), never decided here.
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
import { approvalSummary } from './flowlets';
import { compiledFlow, flowletOf, retryPolicyOf, stepsView } from './plan';
import { bindingsFor, planNext, type StepsView } from './planner';
import { decideRetry, type StepFailure } from './retry-policy';
import { transition, type StepEvent } from './step-machine';

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

/** Who decides an approval (from the caller's verified identity; the IP is recorded). */
export interface ApprovalDecider {
  userId: string;
  role: string;
  ip: string | null;
}

/** Why a decision was refused (nothing was recorded). */
export type ApprovalRefusal =
  | 'not_found' // no such execution or approval step in this company
  | 'not_pending' // the step is not waiting for people (settled, never reached, execution ended)
  | 'timed_out' // its timeout passed; the onTimeout outcome applies
  | 'not_an_approver' // neither the user nor the role is among the flowlet's approvers
  | 'triggerer_excluded' // excludeTriggerer: the person who triggered the run may not decide
  | 'already_decided'; // this person decided this step already

export type ApprovalDecisionResult =
  | { ok: true; settled: boolean; outcome: 'approved' | 'rejected' | null; approvals: number; required: number }
  | { ok: false; reason: ApprovalRefusal };

export interface PendingApproval {
  executionId: string;
  flowId: string;
  flowVersion: number;
  stepId: string;
  summary: Json;
  summaryDigest: string;
  expiresAt: Date;
  approvals: number;
  required: number;
}

/** An execution is live while it can still move: running, or held by an approval. */
const isLive = (e: ExecutionRow) => e.status === 'running' || e.status === 'awaiting_approval';

function mayApprove(f: Flowlet & { kind: 'approval' }, e: ExecutionRow, who: { userId: string; role: string }) {
  const allowed = (f.approvers.users ?? []).includes(who.userId) || (f.approvers.roles ?? []).includes(who.role);
  if (!allowed) return 'not_an_approver' as const;
  if (f.excludeTriggerer && e.trigger_identity.id === who.userId) return 'triggerer_excluded' as const;
  return null;
}

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
      const view = await viewOf(tx, e);
      const p = planNext(flow, view);
      for (const id of p.ready) {
        if (flow.flowlets.get(id)!.kind === 'approval') {
          if (!(await suspendForApproval(tx, e, id, view))) return;
        } else await scheduleStep(tx, e, id, 1, 1);
      }
      for (const id of p.skip) await skipStep(tx, e, id);
      if (p.finished) {
        const f = p.finished;
        if (f.status === 'succeeded') await finish(tx, e, 'succeeded', f.output, null);
        else if (f.status === 'failed') await finish(tx, e, 'failed', null, 'STEP_FAILED');
        else await finish(tx, e, 'cancelled', null, null);
        return;
      }
      if (p.skip.length === 0) break;
    }
    // Held only by people: `awaiting_approval` (nothing scheduled, running or on a timer).
    const statuses = Object.values(await viewOf(tx, e)).map((v) => v!.status);
    const working = statuses.some((x) => x === 'scheduled' || x === 'running' || x === 'retry_wait');
    const held = !working && statuses.includes('awaiting_approval');
    await repo.setExecutionStatus(tx, e.id, held ? 'awaiting_approval' : 'running');
  }

  /**
   * An approval flowlet was reached: its row `awaiting_approval` with the summary approvers see
   * (and its digest) as input, and a `waits` row of kind approval at its timeout. No command: no
   * worker runs it. False when the summary failed (the execution failed).
   */
  async function suspendForApproval(tx: Queryable, e: ExecutionRow, stepId: string, view: StepsView) {
    const flow = compiledFlow(e.definition);
    const c = flow.flowlets.get(stepId)!;
    if (c.kind !== 'approval') throw new Error(`flowlet ${stepId} is not an approval`);
    const now = clock.now();
    const id = uuidv7();
    await repo.insertStepRun(
      tx,
      {
        id,
        tenant_id: e.tenant_id,
        execution_id: e.id,
        step_id: stepId,
        kind: 'approval',
        seq: 1,
        attempt: 1,
        idempotency_key: `${e.id}:${stepId}`,
        scheduled_at: now,
      },
      'awaiting_approval',
    );
    const bindings = bindingsFor(flow, stepId, {
      input: e.input,
      trigger: e.trigger_identity as unknown as Json,
      steps: view,
    });
    const r = approvalSummary(c, bindings);
    if (!r.ok) {
      await repo.setStepStatus(tx, id, 'failed', { error: { code: 'EXPRESSION_ERROR' }, finishedAt: now });
      await emitStepFailed(tx, e, (await repo.lockStepRun(tx, id))!, 'failed', 'EXPRESSION_ERROR', null);
      await finish(tx, e, 'failed', null, 'EXPRESSION_ERROR');
      return false;
    }
    await repo.setStepStatus(tx, id, 'awaiting_approval', { input: { summary: r.output, summaryDigest: r.digest } });
    await repo.insertWait(
      tx,
      {
        id: uuidv7(),
        tenant_id: e.tenant_id,
        execution_id: e.id,
        step_id: stepId,
        kind: 'approval',
        attempt: 1,
        fire_at: new Date(now.getTime() + c.flowlet.timeoutMs),
      },
      now,
    );
    return true;
  }

  /**
   * An approval step is decided (by people or its timeout): the step machine gives its status and
   * output (`{ approved, decision, timedOut }`); then plan on.
   */
  async function settleApproval(
    tx: Queryable,
    e: ExecutionRow,
    s: StepRunRow,
    event: Extract<StepEvent, { type: 'approval_decided' | 'approval_timed_out' }>,
  ) {
    const now = clock.now();
    const t = transition({ status: 'awaiting_approval', attempt: s.attempt, rateLimitWaits: 0 }, event, {
      now,
      policy: retryPolicyOf(e.definition, s.step_id),
      random: deps.random,
      idempotent: true,
    });
    if (!t.ok || t.next.status !== 'succeeded')
      throw new Error(`approval ${s.step_id}: ${t.ok ? t.next.status : t.rejected}`);
    const out = (t.next.output ?? null) as Json;
    await repo.setStepStatus(tx, s.id, 'succeeded', { output: out, finishedAt: now });
    const w = await repo.openApprovalWait(tx, e.id, s.step_id);
    if (w) await repo.markWaitFired(tx, w.id, now);
    await outbox.emit(tx, {
      type: 'flow.step.completed',
      tenantId: e.tenant_id,
      actor: e.trigger_identity,
      resource: resource(e),
      occurredAt: now,
      payload: {
        executionId: e.id,
        stepId: s.step_id,
        kind: 'approval',
        attempt: s.attempt,
        inputDigest: digest(e, s.input),
        outputDigest: digest(e, out),
        durationMs: Math.max(0, now.getTime() - s.scheduled_at.getTime()),
        integration: null,
        operation: null,
      },
    });
    deps.metrics?.stepSettled('succeeded');
    await advance(tx, e);
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
        if (!e || !isLive(e)) return { result: 'stale' as const };
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
        if (!isLive(e)) return false;
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
        if (!isLive(e)) {
          await repo.markWaitFired(tx, w.id, now);
          return false;
        }
        if (w.kind === 'approval') {
          // Nobody settled it in time: the flowlet's onTimeout outcome.
          const s = await repo.lockLatestStepRun(tx, e.id, w.step_id);
          if (!s || s.status !== 'awaiting_approval') {
            await repo.markWaitFired(tx, w.id, now);
            return false;
          }
          const f = flowletOf(e.definition, w.step_id) as Flowlet & { kind: 'approval' };
          await settleApproval(tx, e, s, { type: 'approval_timed_out', onTimeout: f.onTimeout });
          return true;
        }
        await repo.markWaitFired(tx, w.id, now);
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
        if (!isLive(e) || !e.deadline_at || e.deadline_at > clock.now()) return false;
        await finish(tx, e, 'timed_out', null, 'EXECUTION_DEADLINE');
        return true;
      });
      return r ?? false;
    },

    /** Cancels a running execution; running steps' results are dropped when they come back. */
    async cancelExecution(tenantId: string, executionId: string): Promise<boolean> {
      const r = await inExecution(tenantId, executionId, async (tx, e) => {
        if (!isLive(e)) return false;
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

    /**
     * A person decides an approval step (internal; the HTTP route calls it with the caller's
     * verified identity). Refused — nothing recorded — unless the step is waiting for people and
     * not past its timeout, the decider is among its approvers (users or roles), is not the
     * triggerer when `excludeTriggerer`, and has not decided this step before. A decision is a row
     * (who, role, IP, when, comment, digest of the summary shown) and a `flow.approval.decided`
     * fact. One rejection rejects; `required` approvals (default 1) approve; then the step
     * succeeds with `{ approved, decision, timedOut: false }` and the execution plans on.
     */
    async decideApproval(
      tenantId: string,
      executionId: string,
      stepId: string,
      decider: ApprovalDecider,
      decision: 'approve' | 'reject',
      comment: string | null,
    ): Promise<ApprovalDecisionResult> {
      const r = await inExecution(tenantId, executionId, async (tx, e): Promise<ApprovalDecisionResult> => {
        const f = e.definition.flowlets.find((x) => x.id === stepId);
        if (!f || f.kind !== 'approval') return { ok: false, reason: 'not_found' };
        const s = await repo.lockLatestStepRun(tx, e.id, stepId);
        if (!isLive(e) || !s || s.status !== 'awaiting_approval') return { ok: false, reason: 'not_pending' };
        const now = clock.now();
        const w = await repo.openApprovalWait(tx, e.id, stepId);
        if (!w || w.fire_at <= now) return { ok: false, reason: 'timed_out' };
        const refused = mayApprove(f, e, decider);
        if (refused) return { ok: false, reason: refused };
        const shown = (s.input as { summaryDigest?: string } | null)?.summaryDigest ?? '';
        const inserted = await repo.insertDecision(tx, {
          id: uuidv7(),
          tenant_id: e.tenant_id,
          execution_id: e.id,
          step_id: stepId,
          decider_id: decider.userId,
          decider_role: decider.role,
          decider_ip: decider.ip,
          decision,
          comment,
          summary_digest: shown,
          decided_at: now,
        });
        if (!inserted) return { ok: false, reason: 'already_decided' };
        const all = await repo.decisionsOf(tx, e.id, stepId);
        const approvals = all.filter((d) => d.decision === 'approve').length;
        const required = f.required ?? 1;
        const outcome = decision === 'reject' ? 'rejected' : approvals >= required ? 'approved' : null;
        await outbox.emit(tx, {
          type: 'flow.approval.decided',
          tenantId: e.tenant_id,
          actor: { type: 'user', id: decider.userId, ip: decider.ip },
          resource: resource(e),
          occurredAt: now,
          payload: {
            executionId: e.id,
            stepId,
            decision,
            summaryDigest: shown,
            decidedAtMs: now.getTime(),
            approvals,
            required,
            settled: outcome !== null,
          },
        });
        if (outcome)
          await settleApproval(tx, e, s, {
            type: 'approval_decided',
            decision: outcome === 'approved' ? 'approve' : 'reject',
          });
        return { ok: true, settled: outcome !== null, outcome, approvals, required };
      });
      return r ?? { ok: false, reason: 'not_found' };
    },

    /**
     * Approval steps in this company that `user` may decide now (an approver, not excluded as the
     * triggerer, not decided yet, not past the timeout), soonest timeout first, with the summary.
     */
    async listPendingApprovals(tenantId: string, user: { userId: string; role: string }): Promise<PendingApproval[]> {
      return withTenant(deps.pool, tenantId, async (tx) => {
        const now = clock.now();
        const out: PendingApproval[] = [];
        for (const p of await repo.pendingApprovalSteps(tx, 500)) {
          const e = p.execution;
          if (!isLive(e) || new Date(p.expires_at) <= now) continue;
          const f = e.definition.flowlets.find((x) => x.id === p.step.step_id);
          if (!f || f.kind !== 'approval' || mayApprove(f, e, user)) continue;
          const decisions = await repo.decisionsOf(tx, e.id, f.id);
          if (decisions.some((d) => d.decider_id === user.userId)) continue;
          const input = p.step.input as { summary?: Json; summaryDigest?: string } | null;
          out.push({
            executionId: e.id,
            flowId: e.flow_id,
            flowVersion: e.flow_version,
            stepId: f.id,
            summary: input?.summary ?? null,
            summaryDigest: input?.summaryDigest ?? '',
            expiresAt: new Date(p.expires_at),
            approvals: decisions.filter((d) => d.decision === 'approve').length,
            required: f.required ?? 1,
          });
        }
        return out;
      });
    },

    isIdempotent,
    stepTimeoutOf,
  };
}
