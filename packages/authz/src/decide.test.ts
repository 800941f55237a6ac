import { decide, type DecideInput, type Decision, effectivePermissions, filterVisible, type Principal } from './decide';
import { type Grant, validateGrant } from './grants';
import type { Permission, Role } from './matrix';

const user = (id: string, role: Role): Principal => ({ type: 'user', id, role });
const grant = (
  id: string,
  principal: Grant['principal'],
  type: Grant['resource']['type'],
  resourceId: string,
  actions: string[],
): Grant => ({ id, principal, resource: { type, id: resourceId }, actions });
const forUser = (id: string) => ({ type: 'user' as const, id });
const forKey = (id: string) => ({ type: 'api_key' as const, id });

function expectAllowed(d: Decision, via?: Decision['via']): void {
  expect(d).toMatchObject({ allow: true });
  if (via) expect(d.via).toBe(via);
  expect(d.reason.length).toBeGreaterThan(0);
}
function expectDenied(d: Decision, via?: Decision['via']): void {
  expect(d).toMatchObject({ allow: false });
  if (via) expect(d.via).toBe(via);
  expect(d.reason.length).toBeGreaterThan(0);
}

describe('issue example: Alice (flow_designer) can edit flow X, not flow Y', () => {
  const alice = user('usr_alice', 'flow_designer');
  const grants = [grant('grt_a1', forUser('usr_alice'), 'flow', 'flw_X', ['read', 'write'])];

  it('allows editing flow X, naming the grant', () => {
    const d = decide({ principal: alice, permission: 'flows:write', resource: { type: 'flow', id: 'flw_X' }, grants });
    expectAllowed(d, 'grant');
    expect(d.reason).toContain('grant grt_a1 on flow flw_X allows write');
    expect(d.grantIds).toEqual(['grt_a1']);
  });

  it.each([['flows:write'], ['flows:read']] as const)('refuses %s on flow Y, saying why', (permission) => {
    const d = decide({ principal: alice, permission, resource: { type: 'flow', id: 'flw_Y' }, grants });
    expectDenied(d, 'grant');
    expect(d.reason).toBe('grants on flow restrict usr_alice to [flw_X]; flw_Y is not granted');
  });

  it('without any flow grant, her role lets her edit every flow', () => {
    for (const id of ['flw_X', 'flw_Y'])
      expectAllowed(
        decide({ principal: alice, permission: 'flows:write', resource: { type: 'flow', id }, grants: [] }),
        'role',
      );
  });

  it('a grant that only allows read on X does not let her edit X', () => {
    const readOnly = [grant('grt_a2', forUser('usr_alice'), 'flow', 'flw_X', ['read'])];
    const d = decide({
      principal: alice,
      permission: 'flows:write',
      resource: { type: 'flow', id: 'flw_X' },
      grants: readOnly,
    });
    expectDenied(d, 'grant');
    expect(d.reason).toBe('grant grt_a2 on flow flw_X allows [read], not write');
  });

  it('any grant on a flow lets its holder read that flow (implied read)', () => {
    const writeOnly = [grant('grt_a3', forUser('usr_alice'), 'flow', 'flw_X', ['write'])];
    expectAllowed(
      decide({
        principal: alice,
        permission: 'flows:read',
        resource: { type: 'flow', id: 'flw_X' },
        grants: writeOnly,
      }),
    );
  });

  it('implied read does not extend a role: a designer granted write on X still cannot read its executions', () => {
    const writeOnly = [grant('grt_a3', forUser('usr_alice'), 'flow', 'flw_X', ['write'])];
    const d = decide({
      principal: alice,
      permission: 'executions:read',
      resource: { type: 'execution', id: 'exe_1', flowId: 'flw_X' },
      grants: writeOnly,
    });
    expectDenied(d, 'role');
  });

  it('flow grants do not narrow other resource types (integrations stay role-wide)', () => {
    expectAllowed(
      decide({
        principal: alice,
        permission: 'integrations:write',
        resource: { type: 'integration', id: 'int_any' },
        grants,
      }),
      'role',
    );
  });

  it("another principal's grants neither narrow nor help her", () => {
    const others = [
      grant('grt_d1', forUser('usr_dave'), 'flow', 'flw_Z', ['write']),
      // same id string, but for an API key: must not apply to the user usr_alice
      grant('grt_k1', forKey('usr_alice'), 'flow', 'flw_Z', ['write']),
    ];
    expectAllowed(
      decide({ principal: alice, permission: 'flows:write', resource: { type: 'flow', id: 'flw_Y' }, grants: others }),
      'role',
    );
    const viewer = user('usr_vic', 'viewer');
    const help = [grant('grt_d2', forUser('usr_dave'), 'flow', 'flw_Y', ['write'])];
    expectDenied(
      decide({ principal: viewer, permission: 'flows:write', resource: { type: 'flow', id: 'flw_Y' }, grants: help }),
    );
  });

  it('at route level (no resource) she may still reach the edit endpoint; the service decides per flow', () => {
    const d = decide({ principal: alice, permission: 'flows:write', grants });
    expectAllowed(d, 'role');
    expect(d.reason).toContain('narrow');
  });
});

describe.each([['executor'], ['flow_designer']] as const)(
  'issue example: Carol (%s) may use the Salesforce integration, not QuickBooks',
  (role) => {
    const carol = user('usr_carol', role);
    const grants = [grant('grt_c1', forUser('usr_carol'), 'integration', 'int_salesforce', ['use'])];
    const use = (id: string): Decision =>
      decide({ principal: carol, permission: 'integrations:use', resource: { type: 'integration', id }, grants });

    it('allows Salesforce, naming the grant', () => {
      const d = use('int_salesforce');
      expectAllowed(d, 'grant');
      expect(d.reason).toContain('grt_c1');
      expect(d.reason).toContain('int_salesforce');
    });

    it('refuses QuickBooks', () => {
      const d = use('int_quickbooks');
      expectDenied(d, 'grant');
      expect(d.reason).toBe(
        'grants on integration restrict usr_carol to [int_salesforce]; int_quickbooks is not granted',
      );
    });

    it('filterVisible lists only Salesforce among integrations she may use', () => {
      expect(
        filterVisible(
          carol,
          'integration',
          ['int_quickbooks', 'int_salesforce', 'int_slack'],
          grants,
          'integrations:use',
        ),
      ).toEqual(['int_salesforce']);
    });
  },
);

describe.each([['executor'], ['viewer']] as const)(
  'issue example: Bob (%s) sees executions of partition A, not B',
  (role) => {
    const bob = user('usr_bob', role);
    const grants = [grant('grt_b1', forUser('usr_bob'), 'partition', 'prt_A', ['read'])];
    const readExecution = (partitionId: string | null, flowId = 'flw_1', g: Grant[] = grants): Decision =>
      decide({
        principal: bob,
        permission: 'executions:read',
        resource: { type: 'execution', id: 'exe_1', flowId, partitionId },
        grants: g,
      });

    it('allows an execution in partition A, naming the grant', () => {
      const d = readExecution('prt_A');
      expectAllowed(d, 'grant');
      expect(d.reason).toContain('grant grt_b1 on partition prt_A');
    });

    it('refuses an execution in partition B', () => {
      const d = readExecution('prt_B');
      expectDenied(d, 'grant');
      expect(d.reason).toBe('grants on partition restrict usr_bob to [prt_A]; prt_B is not granted');
    });

    it('refuses an execution outside any partition (fails closed)', () => {
      const d = readExecution(null);
      expectDenied(d, 'grant');
      expect(d.reason).toContain('has no partition');
    });

    it('filterVisible lists partition A only', () => {
      expect(filterVisible(bob, 'partition', ['prt_A', 'prt_B', 'prt_C'], grants)).toEqual(['prt_A']);
    });

    it('with flow grants too, an execution needs the flow AND the partition', () => {
      const both = [...grants, grant('grt_b2', forUser('usr_bob'), 'flow', 'flw_1', ['read'])];
      const ok = readExecution('prt_A', 'flw_1', both);
      expectAllowed(ok, 'grant');
      expect([...ok.grantIds].sort()).toEqual(['grt_b1', 'grt_b2']);
      expectDenied(readExecution('prt_A', 'flw_2', both), 'grant');
      expectDenied(readExecution('prt_B', 'flw_1', both), 'grant');
    });

    it('without partition grants he sees executions in every partition (role-wide)', () => {
      expectAllowed(readExecution('prt_B', 'flw_1', []), 'role');
    });
  },
);

describe('partition narrowing of runs and approvals', () => {
  const bob = user('usr_bob', 'executor');
  it('a read-only partition grant does not allow triggering runs in that partition', () => {
    const grants = [grant('grt_p1', forUser('usr_bob'), 'partition', 'prt_A', ['read'])];
    const d = decide({
      principal: bob,
      permission: 'flows:execute',
      resource: { type: 'flow', id: 'flw_1', partitionId: 'prt_A' },
      grants,
    });
    expectDenied(d, 'grant');
    expect(d.reason).toBe('grant grt_p1 on partition prt_A allows [read], not execute');
  });

  it('an execute grant on partition A allows runs there and not in B', () => {
    const grants = [grant('grt_p2', forUser('usr_bob'), 'partition', 'prt_A', ['execute'])];
    const run = (partitionId: string): Decision =>
      decide({
        principal: bob,
        permission: 'flows:execute',
        resource: { type: 'flow', id: 'flw_1', partitionId },
        grants,
      });
    expectAllowed(run('prt_A'), 'grant');
    expectDenied(run('prt_B'), 'grant');
  });

  it('approving needs the approve action on the flow and access to the partition', () => {
    const grants = [
      grant('grt_f1', forUser('usr_bob'), 'flow', 'flw_1', ['approve']),
      grant('grt_p3', forUser('usr_bob'), 'partition', 'prt_A', ['read']),
    ];
    const approve = (flowId: string, partitionId: string): Decision =>
      decide({
        principal: bob,
        permission: 'executions:approve',
        resource: { type: 'execution', id: 'exe_9', flowId, partitionId },
        grants,
      });
    const ok = approve('flw_1', 'prt_A');
    expectAllowed(ok, 'grant');
    expect(ok.reason).toContain('grant grt_f1 on flow flw_1 extends role executor with approve');
    expectDenied(approve('flw_1', 'prt_B'), 'grant');
    expectDenied(approve('flw_2', 'prt_A'), 'grant');
  });

  it('a partition read grant never lets anyone approve (read is not approve)', () => {
    const grants = [grant('grt_p4', forUser('usr_bob'), 'partition', 'prt_A', ['read', 'execute'])];
    expectDenied(
      decide({
        principal: bob,
        permission: 'executions:approve',
        resource: { type: 'execution', id: 'exe_9', flowId: 'flw_1', partitionId: 'prt_A' },
        grants,
      }),
      'role',
    );
  });
});

describe('extension by grant', () => {
  const vic = user('usr_vic', 'viewer');
  const grants = [grant('grt_v1', forUser('usr_vic'), 'flow', 'flw_X', ['execute'])];
  const run = (id: string, g: Grant[] = grants): Decision =>
    decide({ principal: vic, permission: 'flows:execute', resource: { type: 'flow', id }, grants: g });

  it('a viewer granted execute on flow X may trigger X', () => {
    const d = run('flw_X');
    expectAllowed(d, 'grant');
    expect(d.reason).toBe('grant grt_v1 on flow flw_X extends role viewer with execute');
    expect(d.grantIds).toEqual(['grt_v1']);
  });

  it('…but no other flow, and without the grant not X either', () => {
    expectDenied(run('flw_Y'), 'grant');
    const d = run('flw_X', []);
    expectDenied(d, 'role');
    expect(d.reason).toContain('role viewer does not grant flows:execute');
  });

  it('the grant also narrows her reading of flows to X (documented consequence)', () => {
    const read = (id: string): Decision =>
      decide({ principal: vic, permission: 'flows:read', resource: { type: 'flow', id }, grants });
    expectAllowed(read('flw_X'));
    expectDenied(read('flw_Y'), 'grant');
  });

  it('at route level the extension opens the trigger endpoint', () => {
    const d = decide({ principal: vic, permission: 'flows:execute', grants });
    expectAllowed(d, 'grant');
    expect(d.reason).toContain('grt_v1');
  });

  it('an action the grant does not name is not extended (execute ≠ write)', () => {
    const d = decide({ principal: vic, permission: 'flows:write', resource: { type: 'flow', id: 'flw_X' }, grants });
    expectDenied(d, 'grant');
    expect(d.reason).toBe('grant grt_v1 on flow flw_X allows [execute], not write');
  });

  it('a designer granted read on flow X may read its executions (history is by grant)', () => {
    const alice = user('usr_alice', 'flow_designer');
    const g = [grant('grt_a9', forUser('usr_alice'), 'flow', 'flw_X', ['read'])];
    const exe = (flowId: string): Decision =>
      decide({
        principal: alice,
        permission: 'executions:read',
        resource: { type: 'execution', id: 'exe_1', flowId },
        grants: g,
      });
    expectAllowed(exe('flw_X'), 'grant');
    expectDenied(exe('flw_Y'), 'grant');
  });
});

describe('no extension to admin-only permissions', () => {
  const eve = user('usr_eve', 'executor');
  // An Admin (or a bug in auth) stored a grant whose actions name admin permissions.
  const grants = [
    grant('grt_e1', forUser('usr_eve'), 'flow', 'flw_X', ['read', 'users:write', 'grants:write', 'write', 'admin']),
    grant('grt_e2', forUser('usr_eve'), 'partition', 'prt_A', ['partitions:write', 'write', 'read']),
  ];

  it.each([
    ['users:read'],
    ['users:write'],
    ['grants:read'],
    ['grants:write'],
    ['partitions:read'],
    ['partitions:write'],
    ['api_keys:read'],
    ['api_keys:write'],
    ['settings:read'],
    ['settings:write'],
    ['keys:rotate'],
  ] as const)('%s stays refused, with and without a resource', (permission) => {
    for (const resource of [
      undefined,
      { type: 'flow' as const, id: 'flw_X' },
      { type: 'partition' as const, id: 'prt_A' },
    ]) {
      const d = decide({ principal: eve, permission, resource, grants });
      expectDenied(d, 'role');
      expect(d.reason).toContain('admin-only');
    }
  });

  it('tenants:create is refused to every role, admin included', () => {
    for (const role of ['admin', 'flow_designer', 'executor', 'viewer'] as const) {
      const d = decide({ principal: user('usr_x', role), permission: 'tenants:create', grants: [] });
      expectDenied(d);
      expect(d.reason).toContain('platform operator');
    }
  });

  it('validateGrant rejects those actions so auth never stores them', () => {
    expect(validateGrant(grants[0]!)).toEqual([
      'action "users:write" is not one of read, write, execute, approve for a flow',
      'action "grants:write" is not one of read, write, execute, approve for a flow',
      'action "admin" is not one of read, write, execute, approve for a flow',
    ]);
    expect(validateGrant(grants[1]!)).toHaveLength(2);
  });

  it('an action that is valid for one type does not work on another (approve on a partition)', () => {
    const g = [grant('grt_e3', forUser('usr_eve'), 'partition', 'prt_A', ['approve'])];
    expectDenied(
      decide({
        principal: eve,
        permission: 'executions:approve',
        resource: { type: 'execution', id: 'exe_1', flowId: 'flw_X', partitionId: 'prt_A' },
        grants: g,
      }),
    );
  });

  it('a grant with no valid action still narrows, and grants nothing', () => {
    const g = [grant('grt_e4', forUser('usr_eve'), 'flow', 'flw_X', ['nonsense'])];
    const read = (id: string): Decision =>
      decide({ principal: eve, permission: 'flows:read', resource: { type: 'flow', id }, grants: g });
    expectDenied(read('flw_X'), 'grant');
    expectDenied(read('flw_Y'), 'grant');
  });
});

describe('admin is never narrowed', () => {
  const root = user('usr_root', 'admin');
  const grants = [
    grant('grt_r1', forUser('usr_root'), 'flow', 'flw_X', ['read']),
    grant('grt_r2', forUser('usr_root'), 'partition', 'prt_A', ['read']),
    grant('grt_r3', forUser('usr_root'), 'integration', 'int_salesforce', ['read']),
  ];
  it.each<[Permission, DecideInput['resource']]>([
    ['flows:write', { type: 'flow', id: 'flw_Y' }],
    ['flows:execute', { type: 'flow', id: 'flw_Y', partitionId: 'prt_B' }],
    ['executions:read', { type: 'execution', id: 'exe_1', flowId: 'flw_Y', partitionId: 'prt_B' }],
    ['executions:read', { type: 'execution', id: 'exe_1', flowId: 'flw_Y', partitionId: null }],
    ['executions:approve', { type: 'execution', id: 'exe_1', flowId: 'flw_Y', partitionId: 'prt_B' }],
    ['integrations:write', { type: 'integration', id: 'int_quickbooks' }],
    ['users:write', undefined],
  ])('%s on %j despite narrowing grants', (permission, resource) => {
    const d = decide({ principal: root, permission, resource, grants });
    expectAllowed(d, 'role');
    expect(d.reason).toContain('role admin');
  });

  it('an admin API key is not narrowed by its own grants either, but is still bound by scopes', () => {
    const key: Principal = {
      type: 'api_key',
      id: 'key_r',
      role: 'admin',
      scopes: ['flows:write'],
      ownerId: 'usr_root',
    };
    const g = [grant('grt_rk', forKey('key_r'), 'flow', 'flw_X', ['read'])];
    expectAllowed(
      decide({ principal: key, permission: 'flows:write', resource: { type: 'flow', id: 'flw_Y' }, grants: g }),
    );
    expectDenied(decide({ principal: key, permission: 'users:write', grants: g }), 'scope');
  });
});

describe('API keys: effective permissions = scopes ∩ owner role, never more than the owner', () => {
  const key = (role: Role, scopes: string[], ownerId = 'usr_owner'): Principal => ({
    type: 'api_key',
    id: 'key_1',
    role,
    scopes,
    ownerId,
  });

  it.each<[Role, string[], Permission, boolean, Decision['via']]>([
    ['executor', ['flows:execute'], 'flows:execute', true, 'role'],
    ['executor', ['flows:execute'], 'flows:read', false, 'scope'],
    ['viewer', ['audit:read'], 'audit:read', true, 'role'],
    ['viewer', ['flows:execute', 'audit:read'], 'flows:execute', false, 'role'],
    ['executor', ['audit:read'], 'audit:read', false, 'role'],
    ['executor', ['users:write'], 'users:write', false, 'role'],
    ['admin', ['users:write'], 'users:write', true, 'role'],
    ['admin', ['flows:read'], 'users:write', false, 'scope'],
    ['admin', ['tenants:create'], 'tenants:create', false, 'none'],
    ['flow_designer', [], 'flows:read', false, 'scope'],
  ])('%s key with scopes %j asking %s → %p', (role, scopes, permission, allowed, via) => {
    const d = decide({ principal: key(role, scopes), permission, grants: [] });
    expect(d.allow).toBe(allowed);
    expect(d.via).toBe(via);
    expect(d.reason.length).toBeGreaterThan(0);
  });

  it('names the missing scope', () => {
    const d = decide({ principal: key('viewer', ['flows:read']), permission: 'audit:read', grants: [] });
    expect(d.reason).toBe('api key scopes do not include audit:read');
  });

  it("is narrowed by its owner's grants", () => {
    const grants = [grant('grt_o1', forUser('usr_owner'), 'flow', 'flw_X', ['read', 'write'])];
    const k = key('flow_designer', ['flows:write']);
    expectAllowed(decide({ principal: k, permission: 'flows:write', resource: { type: 'flow', id: 'flw_X' }, grants }));
    const d = decide({ principal: k, permission: 'flows:write', resource: { type: 'flow', id: 'flw_Y' }, grants });
    expectDenied(d, 'grant');
    expect(d.reason).toContain('limited by its owner usr_owner');
    expect(d.reason).toContain('flw_Y is not granted');
  });

  it("carries its owner's extensions when its scopes include them", () => {
    const grants = [grant('grt_o2', forUser('usr_owner'), 'flow', 'flw_X', ['execute'])];
    const run = (scopes: string[]): Decision =>
      decide({
        principal: key('viewer', scopes),
        permission: 'flows:execute',
        resource: { type: 'flow', id: 'flw_X' },
        grants,
      });
    const d = run(['flows:execute']);
    expectAllowed(d, 'grant');
    expect(d.reason).toContain('grt_o2');
    expectDenied(run(['flows:read']), 'scope');
  });

  it('its own grants narrow it below its owner', () => {
    const grants = [grant('grt_k1', forKey('key_1'), 'flow', 'flw_X', ['execute'])];
    const run = (id: string): Decision =>
      decide({
        principal: key('executor', ['flows:execute']),
        permission: 'flows:execute',
        resource: { type: 'flow', id },
        grants,
      });
    expectAllowed(run('flw_X'));
    const d = run('flw_Y');
    expectDenied(d, 'grant');
    expect(d.reason).toBe('grants on flow restrict key_1 to [flw_X]; flw_Y is not granted');
  });

  it('its own grants can never extend it beyond its owner', () => {
    const grants = [grant('grt_k2', forKey('key_1'), 'flow', 'flw_X', ['execute', 'write'])];
    for (const permission of ['flows:execute', 'flows:write'] as const)
      expectDenied(
        decide({
          principal: key('viewer', ['flows:execute', 'flows:write']),
          permission,
          resource: { type: 'flow', id: 'flw_X' },
          grants,
        }),
        'role',
      );
  });

  it('a key without an owner id is refused resource-scoped permissions (owner grants could not apply)', () => {
    for (const ownerId of [undefined, '']) {
      const broken = { type: 'api_key', id: 'key_2', role: 'executor', scopes: ['flows:read'], ownerId } as Principal;
      const d = decide({
        principal: broken,
        permission: 'flows:read',
        resource: { type: 'flow', id: 'flw_X' },
        grants: [],
      });
      expectDenied(d, 'none');
      expect(d.reason).toContain('no owner id');
      expectDenied(decide({ principal: broken, permission: 'flows:read', grants: [] }), 'none');
    }
  });

  it('…but role-wide permissions (no grant can touch them) need only role and scopes', () => {
    const k = { type: 'api_key', id: 'key_3', role: 'admin', scopes: ['users:read'], ownerId: '' } as Principal;
    expectAllowed(decide({ principal: k, permission: 'users:read', grants: [] }), 'role');
    const v = { type: 'api_key', id: 'key_4', role: 'viewer', scopes: ['users:read'], ownerId: '' } as Principal;
    expectDenied(decide({ principal: v, permission: 'users:read', grants: [] }), 'role');
  });

  it('effectivePermissions is scopes ∩ role, ignoring unknown scopes', () => {
    expect(
      effectivePermissions(key('executor', ['flows:execute', 'audit:read', 'users:write', 'everything', 'flows:read'])),
    ).toEqual(['flows:read', 'flows:execute']);
    expect(effectivePermissions(user('usr_v', 'viewer'))).toEqual([
      'api_keys:read_own',
      'api_keys:write_own',
      'flows:read',
      'executions:read',
      'audit:read',
    ]);
    expect(effectivePermissions({ type: 'operator', id: 'operator' })).toEqual(['tenants:create']);
  });
});

describe('the platform operator and malformed input', () => {
  const operator: Principal = { type: 'operator', id: 'operator' };
  it('the operator may create tenants and nothing else', () => {
    expectAllowed(decide({ principal: operator, permission: 'tenants:create', grants: [] }), 'role');
    for (const permission of ['users:read', 'audit:read', 'flows:read'] as const)
      expectDenied(decide({ principal: operator, permission, grants: [] }), 'none');
  });

  it.each<[string, DecideInput]>([
    [
      'an unknown permission',
      { principal: user('usr_1', 'admin'), permission: 'flows:delete' as Permission, grants: [] },
    ],
    [
      'an unknown role',
      { principal: { type: 'user', id: 'usr_1', role: 'owner' as Role }, permission: 'flows:read', grants: [] },
    ],
    [
      'a permission that does not apply to the resource type',
      {
        principal: user('usr_1', 'flow_designer'),
        permission: 'flows:write',
        resource: { type: 'integration', id: 'int_1' },
        grants: [],
      },
    ],
    [
      'an unknown resource type',
      {
        principal: user('usr_1', 'admin'),
        permission: 'flows:read',
        resource: { type: 'folder', id: 'x' } as unknown as DecideInput['resource'],
        grants: [],
      },
    ],
  ])('refuses %s', (_label, input) => {
    expectDenied(decide(input), 'none');
  });
});

describe('filterVisible', () => {
  const ids = ['flw_X', 'flw_Y', 'flw_Z'];
  it('without grants a reader sees every flow, in order', () => {
    expect(filterVisible(user('usr_e', 'executor'), 'flow', ids, [])).toEqual(ids);
  });
  it('flow grants limit the list to the granted flows', () => {
    const grants = [
      grant('grt_1', forUser('usr_e'), 'flow', 'flw_Z', ['execute']),
      grant('grt_2', forUser('usr_e'), 'flow', 'flw_X', ['read']),
    ];
    expect(filterVisible(user('usr_e', 'executor'), 'flow', ids, grants)).toEqual(['flw_X', 'flw_Z']);
  });
  it('a role without the read permission sees nothing', () => {
    expect(filterVisible(user('usr_v', 'viewer'), 'integration', ['int_1', 'int_2'], [])).toEqual([]);
  });
  it('admin sees everything despite grants', () => {
    const grants = [grant('grt_3', forUser('usr_a'), 'flow', 'flw_X', ['read'])];
    expect(filterVisible(user('usr_a', 'admin'), 'flow', ids, grants)).toEqual(ids);
  });
});

describe('every decision has a reason naming the role or the grant', () => {
  const grants = [
    grant('grt_q1', forUser('usr_q'), 'flow', 'flw_X', ['read', 'execute']),
    grant('grt_q2', forUser('usr_q'), 'partition', 'prt_A', ['read']),
  ];
  const cases = (['admin', 'flow_designer', 'executor', 'viewer'] as const).flatMap((role) =>
    (
      [
        ['flows:read', { type: 'flow', id: 'flw_X' }],
        ['flows:read', { type: 'flow', id: 'flw_Y' }],
        ['flows:write', { type: 'flow', id: 'flw_X' }],
        ['flows:execute', { type: 'flow', id: 'flw_X' }],
        ['executions:read', { type: 'execution', id: 'exe_1', flowId: 'flw_X', partitionId: 'prt_A' }],
        ['executions:read', { type: 'execution', id: 'exe_2', flowId: 'flw_X', partitionId: 'prt_B' }],
        ['audit:read', undefined],
        ['users:read', undefined],
      ] as const
    ).map(([permission, resource]) => ({ role, permission, resource, on: resource?.id ?? '(route)' })),
  );
  it.each(cases)('$role $permission $on', ({ role, permission, resource }) => {
    const d = decide({ principal: user('usr_q', role), permission, resource, grants });
    expect(d.reason.trim()).not.toBe('');
    if (d.via === 'role') expect(d.reason).toContain(role === 'admin' ? 'role admin' : `role ${role}`);
    if (d.via === 'grant') {
      expect(d.grantIds.length).toBeGreaterThan(0);
      expect(d.grantIds.some((id) => d.reason.includes(id)) || d.reason.includes('restrict usr_q')).toBe(true);
    }
  });
});
