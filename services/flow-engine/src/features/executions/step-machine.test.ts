import {
  STEP_EVENT_TYPES,
  STEP_STATUSES,
  initialStep,
  transition,
  type StepEvent,
  type StepEventType,
  type StepState,
  type StepStatus,
} from './step-machine';

const policy = { maxAttempts: 3, initialDelayMs: 1000, factor: 2, maxDelayMs: 60_000 };
const now = new Date('2026-04-03T14:14:00.000Z');
const env = { now, policy, random: () => 0.5, idempotent: false };

const sample: Record<StepEventType, StepEvent> = {
  schedule: { type: 'schedule' },
  skip: { type: 'skip' },
  claim: { type: 'claim', leaseOwner: 'engine-a' },
  complete: { type: 'complete', output: { ok: true } },
  await_approval: { type: 'await_approval' },
  fail: { type: 'fail', failure: { kind: 'error', retryable: true, code: 'UPSTREAM', message: 'boom' } },
  lease_expired: { type: 'lease_expired' },
  timer_fired: { type: 'timer_fired' },
  approval_decided: { type: 'approval_decided', decision: 'approve' },
  approval_timed_out: { type: 'approval_timed_out', onTimeout: 'reject' },
  deadline_exceeded: { type: 'deadline_exceeded' },
  cancel: { type: 'cancel' },
  resolve: { type: 'resolve', outcome: 'succeeded', output: { fixed: true } },
};

// The expected table, written independently of the implementation: for each status, the
// status each accepted event leads to (non-idempotent step, first attempt, retryable failure).
// Any pair not listed must be rejected.
const LEGAL: Record<StepStatus, Partial<Record<StepEventType, StepStatus>>> = {
  pending: { schedule: 'scheduled', skip: 'skipped', cancel: 'cancelled' },
  scheduled: { claim: 'running', deadline_exceeded: 'failed', cancel: 'cancelled' },
  running: {
    complete: 'succeeded',
    await_approval: 'awaiting_approval',
    fail: 'retry_wait',
    lease_expired: 'ambiguous',
    deadline_exceeded: 'ambiguous',
    cancel: 'cancelled',
  },
  retry_wait: { timer_fired: 'scheduled', deadline_exceeded: 'failed', cancel: 'cancelled' },
  awaiting_approval: {
    approval_decided: 'succeeded',
    approval_timed_out: 'succeeded',
    deadline_exceeded: 'failed',
    cancel: 'cancelled',
  },
  succeeded: {},
  failed: {},
  skipped: {},
  cancelled: {},
  ambiguous: { resolve: 'succeeded', cancel: 'cancelled' },
};

const state = (status: StepStatus): StepState => ({
  ...initialStep(),
  status,
  ...(status === 'running' ? { leaseOwner: 'engine-a' } : {}),
});

describe('transition: every (status, event) pair', () => {
  const pairs = STEP_STATUSES.flatMap((s) => STEP_EVENT_TYPES.map((e) => [s, e] as const));
  it('covers all 130 pairs', () => expect(pairs).toHaveLength(STEP_STATUSES.length * STEP_EVENT_TYPES.length));
  it.each(pairs)('%s + %s', (status, eventType) => {
    const r = transition(state(status), sample[eventType], env);
    const expected = LEGAL[status][eventType];
    if (expected === undefined) {
      expect(r).toEqual({ ok: false, rejected: expect.stringContaining(status) });
    } else {
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.next.status).toBe(expected);
    }
  });
});

describe('transition: what the engine must do', () => {
  it('a retryable failure sets a timer at now + jittered backoff and spends an attempt; the lease is released', () => {
    const r = transition(state('running'), sample.fail, env);
    expect(r).toEqual({
      ok: true,
      next: expect.objectContaining({ status: 'retry_wait', attempt: 2, error: { code: 'UPSTREAM', message: 'boom' } }),
      effects: [{ type: 'timer', at: new Date(now.getTime() + 500) }],
    });
    if (r.ok) expect(r.next.leaseOwner).toBeUndefined();
  });

  it('the last attempt failing settles the step as failed', () => {
    const r = transition({ ...state('running'), attempt: 3 }, sample.fail, env);
    expect(r).toMatchObject({ ok: true, next: { status: 'failed' }, effects: [{ type: 'settled', status: 'failed' }] });
  });

  it('a 429 reschedules after Retry-After without spending an attempt', () => {
    const r = transition(
      { ...state('running'), attempt: 3 },
      { type: 'fail', failure: { kind: 'rate_limited', retryAfterMs: 7000 } },
      env,
    );
    expect(r).toMatchObject({
      ok: true,
      next: { status: 'retry_wait', attempt: 3, rateLimitWaits: 1 },
      effects: [{ type: 'timer', at: new Date(now.getTime() + 7000) }],
    });
  });

  it('a lost lease re-runs an idempotent step but makes a side-effecting one ambiguous', () => {
    expect(transition(state('running'), sample.lease_expired, { ...env, idempotent: true })).toMatchObject({
      ok: true,
      next: { status: 'retry_wait', attempt: 2 },
    });
    expect(transition(state('running'), sample.lease_expired, env)).toMatchObject({
      ok: true,
      next: { status: 'ambiguous', error: { code: 'OUTCOME_UNKNOWN' } },
      effects: [{ type: 'needs_resolution' }],
    });
  });

  it('an approval decision gives the approval output; a timeout applies onTimeout and says so', () => {
    expect(transition(state('awaiting_approval'), { type: 'approval_decided', decision: 'reject' }, env)).toMatchObject(
      {
        next: { status: 'succeeded', output: { approved: false, decision: 'rejected', timedOut: false } },
      },
    );
    expect(
      transition(state('awaiting_approval'), { type: 'approval_timed_out', onTimeout: 'approve' }, env),
    ).toMatchObject({
      next: { status: 'succeeded', output: { approved: true, decision: 'approved', timedOut: true } },
    });
  });

  it('a second decision on a decided approval is rejected', () => {
    const first = transition(state('awaiting_approval'), sample.approval_decided, env);
    if (!first.ok) throw new Error('first decision refused');
    expect(transition(first.next, sample.approval_decided, env).ok).toBe(false);
  });

  it('a person resolves an ambiguous step either way', () => {
    expect(transition(state('ambiguous'), { type: 'resolve', outcome: 'failed' }, env)).toMatchObject({
      next: { status: 'failed' },
      effects: [{ type: 'settled', status: 'failed' }],
    });
  });

  it('nothing leaves a terminal status, not even cancel', () => {
    for (const s of ['succeeded', 'failed', 'skipped', 'cancelled'] as const) {
      for (const e of STEP_EVENT_TYPES) expect(transition(state(s), sample[e], env).ok).toBe(false);
    }
  });
});
