import type { AppError } from '@flow8/http';
import { authorize, decide, ROLES, type Action } from './principal';

const ACTIONS: Action[] = ['users.create', 'users.list', 'users.read'];

describe.each(ACTIONS)('%s', (action) => {
  test.each(ROLES)('role %s', (role) => {
    const d = decide({ role }, action);
    expect(d.allowed).toBe(role === 'admin');
    expect(d.reason).toContain(role);
    if (role === 'admin') expect(() => authorize({ role }, action)).not.toThrow();
    else expect(() => authorize({ role }, action)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }) as AppError);
  });
});
