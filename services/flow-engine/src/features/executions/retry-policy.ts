// API for the engine — what happens after a failed attempt (pure):
//   retryDelayMs(policy, nextAttempt, random) → ms: exponential (initial × factor^(n-2), capped at
//       maxDelayMs) with full jitter: uniform in [0, that).
//   decideRetry({ policy, attempt, failure, idempotent, rateLimitWaits, random }) → RetryDecision
//       error (retryable)     → retry after the backoff, spending an attempt, until maxAttempts;
//       error (not retryable) → fail;
//       rate_limited          → retry after Retry-After (capped), NOT spending an attempt
//                               (bounded by maxRateLimitWaits so a provider cannot hold a step forever);
//       unknown_outcome       → (the worker died / the lease expired mid-call) retry when the
//                               action is idempotent (provider idempotency key, or no side
//                               effect), else `ambiguous`: never silently repeated.
import type { RetryPolicy } from '../flows/definition/types';

export type StepFailure =
  | { kind: 'error'; retryable: boolean; code: string; message: string }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'unknown_outcome' };

export type RetryDecision =
  | { kind: 'retry'; delayMs: number; spendsAttempt: boolean; reason: 'backoff' | 'rate_limited' | 'rerun' }
  | { kind: 'fail'; reason: 'not_retryable' | 'attempts_exhausted' | 'rate_limited_too_long' }
  | { kind: 'ambiguous' };

/** Longest Retry-After honoured, and how many rate-limit reschedules one step may take. */
export const RATE_LIMIT_CAPS = { maxRetryAfterMs: 3_600_000, maxRateLimitWaits: 50 };

export function retryDelayMs(policy: RetryPolicy, nextAttempt: number, random: () => number): number {
  const exp = policy.initialDelayMs * Math.pow(policy.factor, Math.max(0, nextAttempt - 2));
  const base = Math.min(policy.maxDelayMs, exp);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * base);
}

export interface RetryInput {
  policy: RetryPolicy;
  /** The attempt that just failed (1 = the first). */
  attempt: number;
  failure: StepFailure;
  /** Repeating the call cannot do the side effect twice. */
  idempotent: boolean;
  /** Rate-limit reschedules this step has had so far. */
  rateLimitWaits: number;
  random: () => number;
}

export function decideRetry(i: RetryInput): RetryDecision {
  const f = i.failure;
  switch (f.kind) {
    case 'rate_limited':
      if (i.rateLimitWaits >= RATE_LIMIT_CAPS.maxRateLimitWaits || f.retryAfterMs > RATE_LIMIT_CAPS.maxRetryAfterMs) {
        return { kind: 'fail', reason: 'rate_limited_too_long' };
      }
      return {
        kind: 'retry',
        delayMs: Math.max(0, Math.ceil(f.retryAfterMs)),
        spendsAttempt: false,
        reason: 'rate_limited',
      };
    case 'unknown_outcome':
      if (!i.idempotent) return { kind: 'ambiguous' };
      if (i.attempt >= i.policy.maxAttempts) return { kind: 'fail', reason: 'attempts_exhausted' };
      return { kind: 'retry', delayMs: 0, spendsAttempt: true, reason: 'rerun' };
    case 'error':
      if (!f.retryable) return { kind: 'fail', reason: 'not_retryable' };
      if (i.attempt >= i.policy.maxAttempts) return { kind: 'fail', reason: 'attempts_exhausted' };
      return {
        kind: 'retry',
        delayMs: retryDelayMs(i.policy, i.attempt + 1, i.random),
        spendsAttempt: true,
        reason: 'backoff',
      };
    default: {
      const never: never = f;
      return never;
    }
  }
}
