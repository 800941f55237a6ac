// How an operation tells the engine what went wrong. The engine decides what happens next from
// the class, never from the message (which may hold provider text and is not stored or emitted).

/** Worth another attempt (a 5xx, a reset connection). Spends an attempt. */
export class RetryableError extends Error {
  constructor(
    readonly code: string,
    message = code,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** Will fail again (a 4xx, invalid input). No further attempt. */
export class NonRetryableError extends Error {
  constructor(
    readonly code: string,
    message = code,
  ) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/** The provider's limit (429 with Retry-After): try again after `retryAfterMs` without spending an attempt. */
export class RateLimitedError extends Error {
  constructor(readonly retryAfterMs: number) {
    super('rate limited');
    this.name = 'RateLimitedError';
  }
}

/** An error code that may be emitted: upper snake case, bounded. */
export function errorCodeOf(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return code;
  return 'STEP_ERROR';
}
