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
import { actionInput, chooseBranch, collectForeach, delayUntil, foreachBody, foreachItems, runMap } from './flowlets';
import { compiledFlow, orFail } from './plan';
import { bindingsFor } from './planner';

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
    const flow = compiledFlow(e.definition);
    const c = flow.flowlets.get(step.step_id)!;
    const f = c.flowlet;
    const bindings = bindingsFor(flow, c.id, {
      input: e.input,
      trigger: e.trigger_identity as unknown as Json,
      steps: await deps.executions.stepsOf(e),
    });
    const runOp = async (
      action: { integration: string; operation: string },
      opInput: Record<string, Json>,
      idempotencyKey: string,
    ) => {
      const op = deps.registry.get(action.integration, action.operation);
      if (!op) throw new NonRetryableError('UNKNOWN_OPERATION');
      return op.run({ input: opInput, idempotencyKey, attempt: step.attempt, signal, clock: deps.clock });
    };
    let input: Json | null = null;
    try {
      switch (c.kind) {
        case 'map':
          return { type: 'succeeded', input: null, output: orFail(runMap(c, bindings)).output };
        case 'condition':
          return { type: 'succeeded', input: null, output: orFail(chooseBranch(c, bindings)).output };
        case 'delay':
          return { type: 'wait', input: null, fireAt: orFail(delayUntil(c, bindings, deps.clock.now())).at };
        case 'action': {
          const opInput = orFail(actionInput(c, bindings)).output;
          input = opInput;
          const output = await withDeadline(
            runOp(c.flowlet, opInput, step.idempotency_key),
            deps.executions.stepTimeoutOf(f),
            abort,
          );
          return { type: 'succeeded', input, output };
        }
        case 'foreach': {
          // Bounded fan-out inside the one step: the body per item (`item`, `index` bound), at
          // most `concurrency` at once, results in item order. An action body's call for item i
          // carries the idempotency key `<execution>:<step>:<i>`, stable across attempts.
          const items = orFail(foreachItems(c, bindings)).items;
          input = { items: items.length };
          const body = c.body;
          const results = new Map<number, Json>();
          const one = async (i: number) => {
            const out = orFail(foreachBody(c, bindings, items[i]!, i)).output;
            results.set(i, body.kind === 'map' ? out : await runOp(body.flowlet, out, `${step.idempotency_key}:${i}`));
          };
          const width = Math.max(1, Math.min(c.flowlet.concurrency ?? 1, items.length));
          let next = 0;
          const lane = async () => {
            while (next < items.length && !signal.aborted) await one(next++);
          };
          await withDeadline(
            Promise.all(Array.from({ length: width }, lane)).then(() => null),
            deps.executions.stepTimeoutOf(f),
            abort,
          );
          return { type: 'succeeded', input, output: collectForeach(items.length, results) };
        }
        default:
          // approval: suspended by the service, never run by a worker.
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
