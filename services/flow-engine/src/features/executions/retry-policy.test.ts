import { RATE_LIMIT_CAPS, decideRetry, retryDelayMs } from './retry-policy';

const policy = { maxAttempts: 4, initialDelayMs: 1000, factor: 2, maxDelayMs: 5000 };
const top = () => 0.999999;

describe('retryDelayMs: exponential with full jitter', () => {
  it.each([
    [2, 1000],
    [3, 2000],
    [4, 4000],
    [5, 5000],
    [9, 5000],
  ])('before attempt %i the delay is below %i ms (cap applied)', (n, ceiling) => {
    expect(retryDelayMs(policy, n, top)).toBe(ceiling - 1);
    expect(retryDelayMs(policy, n, () => 0)).toBe(0);
    expect(retryDelayMs(policy, n, () => 0.5)).toBe(ceiling / 2);
  });
  it('a misbehaving random cannot push the delay outside [0, cap]', () => {
    expect(retryDelayMs(policy, 9, () => 7)).toBe(5000);
    expect(retryDelayMs(policy, 9, () => -1)).toBe(0);
  });
});

describe('decideRetry', () => {
  const base = { policy, idempotent: false, rateLimitWaits: 0, random: () => 0.5 };
  const error = { kind: 'error' as const, retryable: true, code: 'UPSTREAM_5XX', message: 'bad gateway' };

  it('a retryable error retries with backoff, spending an attempt, until maxAttempts', () => {
    expect(decideRetry({ ...base, attempt: 1, failure: error })).toEqual({
      kind: 'retry',
      delayMs: 500,
      spendsAttempt: true,
      reason: 'backoff',
    });
    expect(decideRetry({ ...base, attempt: 4, failure: error })).toEqual({
      kind: 'fail',
      reason: 'attempts_exhausted',
    });
  });

  it('a non-retryable error fails at once', () => {
    expect(decideRetry({ ...base, attempt: 1, failure: { ...error, retryable: false } })).toEqual({
      kind: 'fail',
      reason: 'not_retryable',
    });
  });

  it('a rate-limit answer reschedules after Retry-After without spending an attempt, even on the last attempt', () => {
    expect(decideRetry({ ...base, attempt: 4, failure: { kind: 'rate_limited', retryAfterMs: 30_000 } })).toEqual({
      kind: 'retry',
      delayMs: 30_000,
      spendsAttempt: false,
      reason: 'rate_limited',
    });
  });

  it('a provider cannot hold a step forever with rate limits', () => {
    expect(
      decideRetry({
        ...base,
        attempt: 1,
        rateLimitWaits: RATE_LIMIT_CAPS.maxRateLimitWaits,
        failure: { kind: 'rate_limited', retryAfterMs: 1 },
      }),
    ).toEqual({ kind: 'fail', reason: 'rate_limited_too_long' });
    expect(decideRetry({ ...base, attempt: 1, failure: { kind: 'rate_limited', retryAfterMs: 86_400_000 } })).toEqual({
      kind: 'fail',
      reason: 'rate_limited_too_long',
    });
  });

  it('an unknown outcome of a non-idempotent action is ambiguous, never repeated', () => {
    expect(decideRetry({ ...base, attempt: 1, failure: { kind: 'unknown_outcome' } })).toEqual({ kind: 'ambiguous' });
  });

  it('an unknown outcome of an idempotent step is re-run', () => {
    expect(decideRetry({ ...base, idempotent: true, attempt: 1, failure: { kind: 'unknown_outcome' } })).toEqual({
      kind: 'retry',
      delayMs: 0,
      spendsAttempt: true,
      reason: 'rerun',
    });
  });
});
