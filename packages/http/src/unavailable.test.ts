import { AppError } from './errors';
import { mapError } from './error-handler';
import { isDependencyUnavailable } from './unavailable';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('a dependency that is down is 503 UNAVAILABLE, a bug stays 500', () => {
  test.each([
    ['connection refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    [
      'connection refused on every address (AggregateError)',
      new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''),
    ],
    ['database starting up', withCode('the database system is starting up', '57P03')],
    ['administrator shutdown', withCode('terminating connection due to administrator command', '57P01')],
    ['connection failure (class 08)', withCode('connection failure', '08006')],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['connection dropped', new Error('Connection terminated unexpectedly')],
    ['wrapped in a cause', new Error('repo failed', { cause: withCode('x', '57P03') })],
    ['redis without offline queue', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
  ])('%s', (_name, err) => {
    expect(isDependencyUnavailable(err)).toBe(true);
    expect(mapError(err)).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
      message: 'Service temporarily unavailable',
    });
  });

  test('an AppError INTERNAL wrapping an outage is 503 too', () => {
    const err = new AppError('INTERNAL', 'could not read', { cause: withCode('x', 'ECONNREFUSED') });
    expect(mapError(err)).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  });

  test.each([
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a constraint violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error in SQL', withCode('syntax error at or near "SELEC"', '42601')],
    ['an AppError INTERNAL with no cause', new AppError('INTERNAL', 'broken invariant')],
  ])('%s', (_name, err) => {
    expect(isDependencyUnavailable(err)).toBe(false);
    expect(mapError(err)).toMatchObject({ status: 500, code: 'INTERNAL' });
  });
});
