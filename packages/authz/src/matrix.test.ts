import { decide } from './decide';
import {
  ADMIN_ONLY,
  isPermission,
  isRole,
  PERMISSIONS,
  type Permission,
  ROLE_PERMISSIONS,
  ROLES,
  type Role,
} from './matrix';

// The access model written out cell by cell. A change to the matrix must change this table too,
// so it shows up as a reviewed diff. Columns: admin, flow_designer, executor, viewer.
const Y = true;
const N = false;
const EXPECTED: ReadonlyArray<readonly [Permission, boolean, boolean, boolean, boolean]> = [
  ['users:read', Y, N, N, N],
  ['users:write', Y, N, N, N],
  ['grants:read', Y, N, N, N],
  ['grants:write', Y, N, N, N],
  ['partitions:read', Y, N, N, N],
  ['partitions:write', Y, N, N, N],
  ['api_keys:read', Y, N, N, N],
  ['api_keys:write', Y, N, N, N],
  ['api_keys:read_own', Y, Y, Y, Y],
  ['api_keys:write_own', Y, Y, Y, Y],
  ['settings:read', Y, N, N, N],
  ['settings:write', Y, N, N, N],
  ['flows:read', Y, Y, Y, Y],
  ['flows:write', Y, Y, N, N],
  ['flows:execute', Y, N, Y, N],
  ['executions:read', Y, N, Y, Y],
  ['executions:approve', Y, N, N, N],
  ['integrations:read', Y, Y, N, N],
  ['integrations:write', Y, Y, N, N],
  ['integrations:use', Y, Y, Y, N],
  ['credentials:read', Y, Y, N, N],
  ['credentials:write', Y, Y, N, N],
  ['keys:rotate', Y, N, N, N],
  ['audit:read', Y, N, N, Y],
  ['audit:checkpoint', Y, N, N, N],
  ['tenants:create', N, N, N, N],
];

const cells = EXPECTED.flatMap(([permission, ...byRole]) =>
  ROLES.map((role, i) => ({ role, permission, expected: byRole[i]! })),
);

describe('the permission matrix', () => {
  it('the expectation table lists every permission exactly once', () => {
    expect(EXPECTED.map((row) => row[0]).sort()).toEqual([...PERMISSIONS].sort());
  });

  it('has exactly the four roles of the design', () => {
    expect([...ROLES]).toEqual(['admin', 'flow_designer', 'executor', 'viewer']);
  });

  describe.each(cells)('$role × $permission', ({ role, permission, expected }) => {
    it(`is ${expected ? 'allowed' : 'denied'} in ROLE_PERMISSIONS`, () => {
      expect(ROLE_PERMISSIONS[role].includes(permission)).toBe(expected);
    });

    it(`is ${expected ? 'allowed' : 'denied'} by decide() for a user without grants`, () => {
      const d = decide({ principal: { type: 'user', id: 'usr_1', role }, permission, grants: [] });
      expect(d.allow).toBe(expected);
      expect(d.reason).not.toBe('');
      if (permission !== 'tenants:create') expect(d.reason).toContain(role === 'admin' ? 'admin' : role);
    });
  });

  it('no role lists a permission twice or an unknown permission', () => {
    for (const role of ROLES) {
      const perms = ROLE_PERMISSIONS[role];
      expect(new Set(perms).size).toBe(perms.length);
      expect(perms.every(isPermission)).toBe(true);
    }
  });

  it('admin-only permissions are held by admin and by no other role', () => {
    for (const p of ADMIN_ONLY) {
      expect(ROLE_PERMISSIONS.admin).toContain(p);
      for (const role of ROLES.filter((r): r is Exclude<Role, 'admin'> => r !== 'admin'))
        expect(ROLE_PERMISSIONS[role]).not.toContain(p);
    }
  });

  it('tenants:create belongs to no role (platform operator only)', () => {
    for (const role of ROLES) expect(ROLE_PERMISSIONS[role]).not.toContain('tenants:create');
  });

  it.each([
    ['flows:read', true],
    ['flows:delete', false],
    ['FLOWS:READ', false],
    ['', false],
    [42, false],
  ])('isPermission(%p) is %p', (value, expected) => {
    expect(isPermission(value)).toBe(expected);
  });

  it.each([
    ['viewer', true],
    ['owner', false],
    ['Admin', false],
    [null, false],
  ])('isRole(%p) is %p', (value, expected) => {
    expect(isRole(value)).toBe(expected);
  });
});
