import { errorBody, mapError } from './error-handler';
import { AppError, ERROR_CODES, type ErrorCode, isAppError, statusFor } from './errors';

describe('statusFor', () => {
  it.each([
    ['BAD_REQUEST', 400],
    ['UNAUTHENTICATED', 401],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['RATE_LIMITED', 429],
    ['IP_NOT_ALLOWED', 403],
    ['UNAVAILABLE', 503],
    ['INTERNAL', 500],
  ] as Array<[ErrorCode, number]>)('%s → %i', (code, status) => {
    expect(statusFor(code)).toBe(status);
  });

  it('has a status for every code in the closed set', () => {
    for (const code of ERROR_CODES) expect(statusFor(code)).toBeGreaterThanOrEqual(400);
  });
});

describe('AppError', () => {
  it('carries code, status, details and the wrapped cause', () => {
    const cause = new Error('unique violation on users_email_key');
    const err = new AppError('CONFLICT', 'A user with this email exists', { cause, details: { field: 'email' } });
    expect(err).toBeInstanceOf(Error);
    expect(isAppError(err)).toBe(true);
    expect(err.code).toBe('CONFLICT');
    expect(err.status).toBe(409);
    expect(err.message).toBe('A user with this email exists');
    expect(err.details).toEqual({ field: 'email' });
    expect(err.cause).toBe(cause);
  });

  it('has no cause or details unless given, and its envelope then has no details key', () => {
    const err = new AppError('NOT_FOUND', 'Flow not found');
    expect(err.cause).toBeUndefined();
    expect(err.details).toBeUndefined();
    expect(isAppError(new Error('x'))).toBe(false);
    expect(errorBody(mapError(err), 'req_1')).toEqual({
      error: { code: 'NOT_FOUND', message: 'Flow not found', requestId: 'req_1' },
    });
  });
});
