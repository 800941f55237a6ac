import type { AppError } from '@flow8/http';
import { ADMIN_ACTIONS, authorize, decide, permissionsOf, ROLES } from './principal';

describe.each(ADMIN_ACTIONS)('%s', (action) => {
  test.each(ROLES)('role %s', (role) => {
    const d = decide({ role, type: 'user', id: 'usr_x' }, action);
    expect(d.allowed).toBe(role === 'admin');
    expect(d.reason).toContain(role);
    if (role === 'admin') expect(() => authorize({ role }, action)).not.toThrow();
    else expect(() => authorize({ role }, action)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }) as AppError);
  });

  test('a principal without a role, and the platform operator, are refused', () => {
    expect(decide({ role: null, type: 'user' }, action).allowed).toBe(false);
    expect(decide({ role: null, type: 'operator', id: 'operator' }, action).allowed).toBe(false);
  });
});

describe('self-service actions', () => {
  test.each(ROLES)('a %s user may read itself, log out and change its password', (role) => {
    for (const a of ['me.read', 'session.logout', 'password.change'] as const)
      expect(decide({ role, type: 'user' }, a).allowed).toBe(true);
  });

  test('an API key may read itself but has no session to end nor a password to change', () => {
    expect(decide({ role: 'admin', type: 'api_key' }, 'me.read').allowed).toBe(true);
    expect(decide({ role: 'admin', type: 'api_key' }, 'session.logout').allowed).toBe(false);
    expect(decide({ role: 'admin', type: 'api_key' }, 'password.change').allowed).toBe(false);
  });

  test('effective permissions come from the one matrix: a viewer holds no administration permission', () => {
    const viewer = permissionsOf({ role: 'viewer', type: 'user' });
    expect(viewer).toContain('audit:read');
    expect(viewer.some((p) => p.startsWith('users:') || p.startsWith('settings:'))).toBe(false);
    expect(permissionsOf({ role: 'admin', type: 'user' })).toEqual(
      expect.arrayContaining(['users:write', 'grants:write']),
    );
  });
});
