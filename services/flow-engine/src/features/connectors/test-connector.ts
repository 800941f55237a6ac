// The built-in `test` integration: operations with no outside system, for trying flows and for
// the engine's own tests.
//   echo  — returns its input (idempotent);
//   fail  — fails with `code` (retryable unless `retryable: false`) until attempt `untilAttempt`
//           (then returns `{attempt}`); with `retryAfterMs`, answers "rate limited" instead;
//   sleep — waits `ms` (honouring the step's deadline and cancellation), returns `{slept}`;
//   send  — echoes like `echo` but declares itself NOT idempotent: it stands for a call whose
//           provider offers no idempotency key, so a lost worker makes it `ambiguous`.
import type { Json } from '../flows/definition/types';
import { NonRetryableError, RateLimitedError, RetryableError } from './errors';
import type { Operation } from './operation';

const num = (v: Json | undefined, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

export function testOperations(): Operation[] {
  return [
    { id: 'test.echo', idempotent: true, run: async ({ input }) => input },
    { id: 'test.send', idempotent: false, run: async ({ input }) => input },
    {
      id: 'test.fail',
      idempotent: true,
      run: async ({ input, attempt }) => {
        if (attempt >= num(input.untilAttempt, Number.POSITIVE_INFINITY)) return { attempt };
        if (input.retryAfterMs !== undefined) throw new RateLimitedError(num(input.retryAfterMs, 1000));
        const code = typeof input.code === 'string' ? input.code : 'TEST_FAILURE';
        if (input.retryable === false) throw new NonRetryableError(code);
        throw new RetryableError(code);
      },
    },
    {
      id: 'test.sleep',
      idempotent: true,
      run: ({ input, signal }) =>
        new Promise<Json>((resolve, reject) => {
          const ms = num(input.ms, 0);
          const t = setTimeout(() => resolve({ slept: ms }), ms);
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              reject(new RetryableError('ABORTED'));
            },
            { once: true },
          );
        }),
    },
  ];
}
