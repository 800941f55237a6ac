// API for the engine — the only place that decides a step's status (pure):
//   transition(state, event, env) → { ok: true, next, effects } | { ok: false, rejected }
//   The repository applies `next` only if the row is still at the version it read
//   (UPDATE … WHERE id = $id AND version = $v AND status = $from), and carries out `effects`
//   (timers, planner call, events) in the same transaction.
//   TERMINAL / isTerminal(status): no event moves a step out of these.
// `ambiguous` is not terminal: a person resolves it (event `resolve`), and it holds its execution.
import type { ApprovalOutput } from '../flows/definition/compiled';
import type { Json, RetryPolicy } from '../flows/definition/types';
import { decideRetry, type StepFailure } from './retry-policy';

export const STEP_STATUSES = [
  'pending',
  'scheduled',
  'running',
  'retry_wait',
  'awaiting_approval',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
  'ambiguous',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TERMINAL: ReadonlySet<StepStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
export function isTerminal(s: StepStatus): boolean {
  return TERMINAL.has(s);
}

export interface StepError {
  code: string;
  message: string;
}

export interface StepState {
  status: StepStatus;
  /** Attempt number of the current/last attempt (1 = first). */
  attempt: number;
  rateLimitWaits: number;
  leaseOwner?: string;
  output?: Json;
  error?: StepError;
}

export type StepEvent =
  | { type: 'schedule' }
  | { type: 'skip' }
  | { type: 'claim'; leaseOwner: string }
  | { type: 'complete'; output: Json }
  | { type: 'await_approval' }
  | { type: 'fail'; failure: StepFailure }
  | { type: 'lease_expired' }
  | { type: 'timer_fired' }
  | { type: 'approval_decided'; decision: 'approve' | 'reject' }
  | { type: 'approval_timed_out'; onTimeout: 'approve' | 'reject' }
  | { type: 'deadline_exceeded' }
  | { type: 'cancel' }
  | { type: 'resolve'; outcome: 'succeeded' | 'failed'; output?: Json };
export type StepEventType = StepEvent['type'];
export const STEP_EVENT_TYPES: readonly StepEventType[] = [
  'schedule',
  'skip',
  'claim',
  'complete',
  'await_approval',
  'fail',
  'lease_expired',
  'timer_fired',
  'approval_decided',
  'approval_timed_out',
  'deadline_exceeded',
  'cancel',
  'resolve',
];

export type Effect =
  /** Fire `timer_fired` for this step at `at` (a row in the timers table). */
  | { type: 'timer'; at: Date }
  /** The step settled (succeeded, failed, skipped, cancelled): ask the planner what comes next. */
  | { type: 'settled'; status: StepStatus }
  /** Needs a person: a step became ambiguous (visible in the execution, resolvable). */
  | { type: 'needs_resolution' };

export interface TransitionEnv {
  now: Date;
  policy: RetryPolicy;
  random: () => number;
  /** Repeating this step cannot repeat a side effect (map/condition/delay, or an idempotent operation). */
  idempotent: boolean;
}

export type TransitionResult = { ok: true; next: StepState; effects: Effect[] } | { ok: false; rejected: string };

const reject = (s: StepState, e: StepEvent): TransitionResult => ({
  ok: false,
  rejected: `a ${s.status} step does not accept '${e.type}'`,
});
const settle = (next: StepState): TransitionResult => ({
  ok: true,
  next,
  effects: [{ type: 'settled', status: next.status }],
});

function afterFailure(s: StepState, failure: StepFailure, env: TransitionEnv): TransitionResult {
  const d = decideRetry({
    policy: env.policy,
    attempt: s.attempt,
    failure,
    idempotent: env.idempotent,
    rateLimitWaits: s.rateLimitWaits,
    random: env.random,
  });
  const { leaseOwner: _released, ...rest } = s;
  const error: StepError =
    failure.kind === 'error'
      ? { code: failure.code, message: failure.message }
      : failure.kind === 'rate_limited'
        ? { code: 'RATE_LIMITED', message: `rate limited; retry after ${failure.retryAfterMs} ms` }
        : { code: 'OUTCOME_UNKNOWN', message: 'the attempt ended without a known outcome' };
  switch (d.kind) {
    case 'retry':
      return {
        ok: true,
        next: {
          ...rest,
          status: 'retry_wait',
          attempt: d.spendsAttempt ? s.attempt + 1 : s.attempt,
          rateLimitWaits: d.reason === 'rate_limited' ? s.rateLimitWaits + 1 : s.rateLimitWaits,
          error,
        },
        effects: [{ type: 'timer', at: new Date(env.now.getTime() + d.delayMs) }],
      };
    case 'fail':
      return settle({
        ...rest,
        status: 'failed',
        error:
          d.reason === 'attempts_exhausted' || d.reason === 'not_retryable'
            ? error
            : { code: 'RATE_LIMITED_TOO_LONG', message: error.message },
      });
    case 'ambiguous':
      return { ok: true, next: { ...rest, status: 'ambiguous', error }, effects: [{ type: 'needs_resolution' }] };
    default: {
      const never: never = d;
      return never;
    }
  }
}

function approvalOutput(approved: boolean, timedOut: boolean): ApprovalOutput {
  return { approved, decision: approved ? 'approved' : 'rejected', timedOut };
}

export function transition(s: StepState, e: StepEvent, env: TransitionEnv): TransitionResult {
  if (e.type === 'cancel') {
    if (isTerminal(s.status)) return reject(s, e);
    const { leaseOwner: _released, ...rest } = s;
    return settle({ ...rest, status: 'cancelled' });
  }
  switch (s.status) {
    case 'pending':
      if (e.type === 'schedule') return { ok: true, next: { ...s, status: 'scheduled' }, effects: [] };
      if (e.type === 'skip') return settle({ ...s, status: 'skipped' });
      return reject(s, e);
    case 'scheduled':
      if (e.type === 'claim')
        return { ok: true, next: { ...s, status: 'running', leaseOwner: e.leaseOwner }, effects: [] };
      if (e.type === 'deadline_exceeded')
        return settle({
          ...s,
          status: 'failed',
          error: { code: 'DEADLINE_EXCEEDED', message: 'the execution deadline passed' },
        });
      return reject(s, e);
    case 'running': {
      const { leaseOwner: _released, ...rest } = s;
      switch (e.type) {
        case 'complete':
          return settle({ ...rest, status: 'succeeded', output: e.output });
        case 'await_approval':
          return { ok: true, next: { ...rest, status: 'awaiting_approval' }, effects: [] };
        case 'fail':
          return afterFailure(s, e.failure, env);
        case 'lease_expired':
          return afterFailure(s, { kind: 'unknown_outcome' }, env);
        case 'deadline_exceeded':
          // The call may have happened: an idempotent step just fails, another is ambiguous.
          return env.idempotent
            ? settle({
                ...rest,
                status: 'failed',
                error: { code: 'DEADLINE_EXCEEDED', message: 'the step deadline passed' },
              })
            : {
                ok: true,
                next: {
                  ...rest,
                  status: 'ambiguous',
                  error: { code: 'DEADLINE_EXCEEDED', message: 'the step deadline passed mid-call' },
                },
                effects: [{ type: 'needs_resolution' }],
              };
        default:
          return reject(s, e);
      }
    }
    case 'retry_wait':
      if (e.type === 'timer_fired') return { ok: true, next: { ...s, status: 'scheduled' }, effects: [] };
      if (e.type === 'deadline_exceeded')
        return settle({
          ...s,
          status: 'failed',
          error: { code: 'DEADLINE_EXCEEDED', message: 'the execution deadline passed' },
        });
      return reject(s, e);
    case 'awaiting_approval':
      if (e.type === 'approval_decided')
        return settle({ ...s, status: 'succeeded', output: { ...approvalOutput(e.decision === 'approve', false) } });
      if (e.type === 'approval_timed_out')
        return settle({ ...s, status: 'succeeded', output: { ...approvalOutput(e.onTimeout === 'approve', true) } });
      if (e.type === 'deadline_exceeded')
        return settle({
          ...s,
          status: 'failed',
          error: { code: 'DEADLINE_EXCEEDED', message: 'the execution deadline passed' },
        });
      return reject(s, e);
    case 'ambiguous':
      if (e.type === 'resolve') {
        return e.outcome === 'succeeded'
          ? settle({ ...s, status: 'succeeded', output: e.output ?? null })
          : settle({
              ...s,
              status: 'failed',
              error: s.error ?? { code: 'RESOLVED_FAILED', message: 'resolved as failed by a person' },
            });
      }
      return reject(s, e);
    case 'succeeded':
    case 'failed':
    case 'skipped':
    case 'cancelled':
      return reject(s, e);
    default: {
      const never: never = s.status;
      return never;
    }
  }
}

/** A fresh step. */
export function initialStep(): StepState {
  return { status: 'pending', attempt: 1, rateLimitWaits: 0 };
}
