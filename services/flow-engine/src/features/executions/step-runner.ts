// The worker side: runs one claimed step attempt outside any transaction and outside the Kafka
// handler, then reports the outcome to `settle` (one transaction). The step's deadline aborts it
// locally; its lease (deadline + margin) is what other replicas trust if this process dies.
import type { Logger } from '@flow8/telemetry';
import type { Clock } from '../../runtime/clock';
import type { WorkerPool } from '../../runtime/worker-pool';
import { errorCodeOf, NonRetryableError, RateLimitedError } from '../connectors/errors';
import type { OperationRegistry } from '../connectors/operation';
import type { Json } from '../flows/definition/types';
import type { RunStepCommand } from './commands';
import type { ExecutionRow, StepRunRow } from './executions.repo';
import type { ExecutionsService, StepOutcome } from './executions.service';
import { chooseBranch, evaluateFields, flowletOf, type EvalScope } from './plan';

export interface StepRunnerHooks {
  /**
   * Racepoint between "the step's work returned" and "its result commits" (tests: a worker that
   * dies or stalls there). Production passes none.
   */
  beforeSettle?(step: StepRunRow, outcome: StepOutcome): Promise<void>;
}

class StepTimeout extends Error {}

export function createStepRunner(deps: {
  executions: ExecutionsService;
  registry: OperationRegistry;
  workers: WorkerPool;
  clock: Clock;
  logger: Logger;
  hooks?: StepRunnerHooks;
  metrics?: { command(result: string): void };
}) {
  const running = new Map<string, AbortController>();
  const stats = { claimed: 0, duplicate: 0, stale: 0, deferred: 0 };

  async function outcomeOf(e: ExecutionRow, step: StepRunRow, abort: AbortController): Promise<StepOutcome> {
    const signal = abort.signal;
    const f = flowletOf(e.definition, step.step_id);
    const scope: EvalScope = {
      input: e.input,
      steps: await deps.executions.scopeOf(e),
      trigger: e.trigger_identity as unknown as Json,
    };
    let input: Json | null = null;
    try {
      switch (f.kind) {
        case 'map': {
          const output = evaluateFields(e.definition, f.id, scope);
          return { type: 'succeeded', input: null, output };
        }
        case 'condition':
          return { type: 'succeeded', input: null, output: { branch: chooseBranch(e.definition, f.id, scope) } };
        case 'delay': {
          if (f.delayMs === undefined) throw new NonRetryableError('NOT_SUPPORTED');
          return { type: 'wait', input: null, fireAt: new Date(deps.clock.now().getTime() + f.delayMs) };
        }
        case 'action': {
          const op = deps.registry.get(f.integration, f.operation);
          if (!op) throw new NonRetryableError('UNKNOWN_OPERATION');
          const opInput = evaluateFields(e.definition, f.id, scope);
          input = opInput;
          const timeoutMs = deps.executions.stepTimeoutOf(f);
          const output = await withDeadline(
            op.run({
              input: opInput,
              idempotencyKey: step.idempotency_key,
              attempt: step.attempt,
              signal,
              clock: deps.clock,
            }),
            timeoutMs,
            abort,
          );
          return { type: 'succeeded', input, output };
        }
        default:
          // approval and foreach run once their features land.
          throw new NonRetryableError('NOT_SUPPORTED');
      }
    } catch (e) {
      if (e instanceof StepTimeout) return { type: 'timed_out', input, idempotent: deps.executions.isIdempotent(f) };
      if (e instanceof RateLimitedError) return { type: 'rate_limited', input, retryAfterMs: e.retryAfterMs };
      if (e instanceof NonRetryableError) return { type: 'failed', input, code: e.code, retryable: false };
      // An expression error cannot succeed on retry either.
      if ((e as { code?: string }).code === 'EXPRESSION_ERROR')
        return { type: 'failed', input, code: 'EXPRESSION_ERROR', retryable: false };
      return { type: 'failed', input, code: errorCodeOf(e), retryable: true };
    }
  }

  async function run(e: ExecutionRow, step: StepRunRow): Promise<void> {
    const abort = new AbortController();
    running.set(step.id, abort);
    try {
      const outcome = await outcomeOf(e, step, abort);
      await deps.hooks?.beforeSettle?.(step, outcome);
      const applied = await deps.executions.settle(step, outcome);
      if (!applied)
        deps.logger.warn(
          { executionId: e.id, stepId: step.step_id, stepRunId: step.id },
          'step result dropped: its claim no longer holds',
        );
    } finally {
      running.delete(step.id);
    }
  }

  return {
    /**
     * The commands consumer's hand-off. Reserves a worker first: with none free the command is
     * left (the unclaimed-step sweep issues it again), so a claim is only taken to be run now.
     */
    async handle(cmd: RunStepCommand): Promise<'claimed' | 'duplicate' | 'stale' | 'deferred'> {
      const slot = deps.workers.reserve();
      if (!slot) {
        stats.deferred += 1;
        deps.metrics?.command('deferred');
        return 'deferred';
      }
      try {
        const r = await deps.executions.acceptCommand(cmd);
        stats[r.result] += 1;
        deps.metrics?.command(r.result);
        if (r.result !== 'claimed') {
          slot.release();
          return r.result;
        }
        slot.run(() => run(r.execution, r.step));
        return 'claimed';
      } catch (e) {
        slot.release();
        throw e;
      }
    },
    /** Stops local work whose claim ended (execution cancelled or finished, lease expired). */
    abort(stepRunIds: string[]) {
      for (const id of stepRunIds) running.get(id)?.abort();
    },
    /** Shutdown: every local attempt is told to stop (its lease lets another replica take over). */
    abortAll() {
      for (const a of running.values()) a.abort();
    },
    stats: () => ({ ...stats, running: running.size }),
  };
}

/** The step's deadline: a local timer (the durable one is the lease), and abort on cancel. */
function withDeadline<T>(p: Promise<T>, ms: number, abort: AbortController): Promise<T> {
  const signal = abort.signal;
  return new Promise<T>((resolve, reject) => {
    // At the deadline the operation is told to stop (signal) and the attempt ends now, whether
    // or not the operation honours it.
    const t = setTimeout(() => {
      reject(new StepTimeout());
      abort.abort();
    }, ms);
    const onAbort = () => reject(new StepTimeout());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
    });
  });
}
