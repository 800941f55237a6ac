import { authorizeRoute, expectedAllowed, isPermission, type Principal, ROLES, type Role } from '@flow8/authz';
import { csrfRequired, matchRoute, ROUTES as ROUTE_PERMISSIONS, type RouteSpec as RoutePermission } from './routes';

// docs/api.md § Identity and access, § Credentials, § Audit and § Flows and executions, written out: which role may call what.
// Columns: admin, flow_designer, executor, viewer. "own" rows are allowed for the caller's own keys.
const Y = true;
const N = false;
const EXPECTED: Record<string, readonly [boolean, boolean, boolean, boolean]> = {
  'POST /v1/auth/login': [Y, Y, Y, Y],
  'POST /v1/auth/logout': [Y, Y, Y, Y],
  'GET /v1/me': [Y, Y, Y, Y],
  'POST /v1/me/password': [Y, Y, Y, Y],
  'GET /v1/users': [Y, N, N, N],
  'POST /v1/users': [Y, N, N, N],
  'GET /v1/users/:id': [Y, N, N, N],
  'PATCH /v1/users/:id': [Y, N, N, N],
  'DELETE /v1/users/:id': [Y, N, N, N],
  'GET /v1/grants': [Y, N, N, N],
  'POST /v1/grants': [Y, N, N, N],
  'DELETE /v1/grants/:id': [Y, N, N, N],
  'GET /v1/partitions': [Y, N, N, N],
  'POST /v1/partitions': [Y, N, N, N],
  'GET /v1/api-keys': [Y, Y, Y, Y], // own
  'POST /v1/api-keys': [Y, Y, Y, Y], // own
  'POST /v1/api-keys/:id/rotate': [Y, Y, Y, Y], // own
  'DELETE /v1/api-keys/:id': [Y, Y, Y, Y], // own
  'GET /v1/settings/ip-allowlist': [Y, N, N, N],
  'PUT /v1/settings/ip-allowlist': [Y, N, N, N],
  'POST /v1/tenants': [N, N, N, N],
  // § Credentials: Admin and Flow Designer; the company's data keys Admin only.
  'GET /v1/credentials': [Y, Y, N, N],
  'POST /v1/credentials': [Y, Y, N, N],
  'GET /v1/credentials/:id': [Y, Y, N, N],
  'POST /v1/credentials/:id/rotate': [Y, Y, N, N],
  'DELETE /v1/credentials/:id': [Y, Y, N, N],
  'POST /v1/credentials/oauth/:integration/start': [Y, Y, N, N],
  'GET /v1/credentials/oauth/callback': [Y, Y, N, N],
  'POST /v1/keys/rotate': [Y, N, N, N],
  'GET /v1/keys': [Y, N, N, N],
  'GET /v1/audit/events': [Y, N, N, Y],
  'GET /v1/audit/export': [Y, N, N, Y],
  'GET /v1/audit/verify': [Y, N, N, Y],
  'GET /v1/audit/checkpoints': [Y, N, N, Y],
  // § Flows and executions: Designer edits; Executor runs; Executor and Viewer read history (a
  // designer by grant only); everyone reads flows.
  'POST /v1/flows': [Y, Y, N, N],
  'GET /v1/flows': [Y, Y, Y, Y],
  'GET /v1/flows/:id': [Y, Y, Y, Y],
  'POST /v1/flows/:id/versions': [Y, Y, N, N],
  'GET /v1/flows/:id/versions': [Y, Y, Y, Y],
  'GET /v1/flows/:id/versions/:version': [Y, Y, Y, Y],
  'POST /v1/flows/:id/publish': [Y, Y, N, N],
  'POST /v1/flows/:id/archive': [Y, Y, N, N],
  'POST /v1/flows/:id/executions': [Y, N, Y, N],
  'GET /v1/executions': [Y, N, Y, Y],
  'GET /v1/executions/:id': [Y, N, Y, Y],
  'POST /v1/executions/:id/cancel': [Y, N, Y, N],
};
const OWN_ONLY = new Set([
  'GET /v1/api-keys',
  'POST /v1/api-keys',
  'POST /v1/api-keys/:id/rotate',
  'DELETE /v1/api-keys/:id',
]);

const key = (r: RoutePermission): string => `${r.method} ${r.path}`;
const userOf = (role: Role): Principal => ({ type: 'user', id: `usr_${role}`, role });

describe('ROUTE_PERMISSIONS', () => {
  it('covers exactly the routes of docs/api.md § Identity and access, § Credentials, § Audit and § Flows, once each', () => {
    const keys = ROUTE_PERMISSIONS.map(key);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('gives the own-keys routes an own-objects permission, and only those', () => {
    expect(
      ROUTE_PERMISSIONS.filter((r) => r.ownPermission !== undefined)
        .map(key)
        .sort(),
    ).toEqual([...OWN_ONLY].sort());
  });

  const matrix = ROUTE_PERMISSIONS.flatMap((route) =>
    ROLES.map((role, i) => ({ role, route, name: key(route), expected: EXPECTED[key(route)]![i]! })),
  );

  describe.each(matrix)('$role → $name', ({ role, route, name, expected }) => {
    it(`expectedAllowed is ${expected}`, () => {
      expect(expectedAllowed(role, route)).toBe(expected);
    });

    it(`authorizeRoute for a ${role} session is ${expected ? 'allowed' : 'refused'} with a reason`, () => {
      const d = authorizeRoute(userOf(role), route);
      expect(d.allow).toBe(expected);
      expect(d.reason).not.toBe('');
      expect(d.ownOnly).toBe(expected && OWN_ONLY.has(name) && role !== 'admin');
    });
  });
});

describe('authorizeRoute for other principals', () => {
  const operator: Principal = { type: 'operator', id: 'operator' };

  it.each(ROUTE_PERMISSIONS.map((r) => [key(r), r] as const))('operator → %s', (name, route) => {
    const expected = name === 'POST /v1/tenants' || name === 'POST /v1/auth/login';
    expect(authorizeRoute(operator, route).allow).toBe(expected);
  });

  it.each(ROUTE_PERMISSIONS.map((r) => [key(r), r] as const))('anonymous → %s', (name, route) => {
    const d = authorizeRoute(null, route);
    expect(d.allow).toBe(name === 'POST /v1/auth/login');
    expect(d.reason).not.toBe('');
  });

  it.each(ROUTE_PERMISSIONS.map((r) => [key(r), r] as const))(
    'an admin API key without scopes → %s only if public or for any principal',
    (name, route) => {
      const k: Principal = { type: 'api_key', id: 'key_1', role: 'admin', scopes: [], ownerId: 'usr_a' };
      const open = name === 'POST /v1/auth/login' || name === 'GET /v1/me';
      expect(authorizeRoute(k, route).allow).toBe(open);
    },
  );

  it('a viewer key with audit:read reads the audit log but cannot manage users', () => {
    const k: Principal = { type: 'api_key', id: 'key_2', role: 'viewer', scopes: ['audit:read'], ownerId: 'usr_v' };
    expect(authorizeRoute(k, matchRoute('GET', '/v1/audit/events?type=x')!).allow).toBe(true);
    expect(authorizeRoute(k, matchRoute('GET', '/v1/users')!).allow).toBe(false);
  });

  it('an executor key with users:read in its scopes still cannot list users (never exceeds the owner)', () => {
    const k: Principal = { type: 'api_key', id: 'key_3', role: 'executor', scopes: ['users:read'], ownerId: 'usr_e' };
    const d = authorizeRoute(k, matchRoute('GET', '/v1/users')!);
    expect(d.allow).toBe(false);
    expect(d.reason).toContain('admin-only');
  });

  it('an executor creating a key is allowed for own keys only, and says so', () => {
    const d = authorizeRoute(userOf('executor'), matchRoute('POST', '/v1/api-keys')!);
    expect(d).toMatchObject({ allow: true, ownOnly: true });
    expect(d.reason).toContain('own objects only');
  });

  it('logout is for sessions, not API keys', () => {
    const k: Principal = { type: 'api_key', id: 'key_4', role: 'admin', scopes: [], ownerId: 'usr_a' };
    expect(authorizeRoute(k, matchRoute('POST', '/v1/auth/logout')!).allow).toBe(false);
  });
});

describe('matchRoute', () => {
  it.each([
    ['POST', '/v1/auth/login', 'POST /v1/auth/login'],
    ['get', '/v1/users/usr_01abc', 'GET /v1/users/:id'],
    ['PATCH', '/v1/users/usr_01abc', 'PATCH /v1/users/:id'],
    ['POST', '/v1/api-keys/key_1/rotate', 'POST /v1/api-keys/:id/rotate'],
    ['GET', '/v1/audit/export?format=csv&from=2024-01-01', 'GET /v1/audit/export'],
    ['DELETE', '/v1/grants/grt_1', 'DELETE /v1/grants/:id'],
    ['POST', '/v1/credentials/crd_1/rotate', 'POST /v1/credentials/:id/rotate'],
    ['GET', '/v1/credentials?limit=5', 'GET /v1/credentials'],
    ['POST', '/v1/keys/rotate', 'POST /v1/keys/rotate'],
    ['POST', '/v1/credentials/oauth/slack/start', 'POST /v1/credentials/oauth/:integration/start'],
    ['GET', '/v1/credentials/oauth/callback?state=s&code=c&iss=i', 'GET /v1/credentials/oauth/callback'],
    // Only the full OAuth paths are OAuth routes; a bare `oauth` segment is just an (invalid) id.
    ['GET', '/v1/credentials/oauth', 'GET /v1/credentials/:id'],
  ])('%s %s → %s', (method, url, expected) => {
    const r = matchRoute(method, url);
    expect(r && key(r)).toBe(expected);
  });

  it.each([
    ['GET', '/v1/users/'],
    ['GET', '/v1/users/a/b'],
    ['PUT', '/v1/users/usr_1'],
    ['GET', '/v1/tenants'],
    ['DELETE', '/v1/flows'],
    ['GET', '/v1/flows/flw_1/executions/x'],
    ['GET', '/v1/audit/events/extra'],
    ['GET', '/v1/credentials/oauth/slack/start'],
    ['POST', '/v1/credentials/oauth/callback'],
    ['POST', '/v1/credentials/oauth/slack/start/x'],
  ])('%s %s matches nothing', (method, url) => {
    expect(matchRoute(method, url)).toBeUndefined();
  });
});

describe('the route table', () => {
  const rows = ROUTE_PERMISSIONS.map((r) => [key(r), r] as const);

  it.each(rows)('%s: has a permission of the matrix (or public, authenticated, operator)', (_name, route) => {
    const ok = ['public', 'authenticated', 'operator'].includes(route.permission) || isPermission(route.permission);
    expect(ok).toBe(true);
    if (route.ownPermission !== undefined) expect(isPermission(route.ownPermission)).toBe(true);
  });

  it.each(rows)('%s: accepts the credentials its permission calls for', (_name, route) => {
    if (route.permission === 'public') expect(route.auth).toEqual([]);
    else if (route.permission === 'operator') expect(route.auth).toEqual(['operator']);
    else {
      expect(route.auth.length).toBeGreaterThan(0);
      expect(route.auth.every((k) => k === 'session' || k === 'api_key')).toBe(true);
    }
  });

  it.each(rows)('%s: validates every path parameter, and only those', (_name, route) => {
    const names = route.path
      .split('/')
      .filter((s) => s.startsWith(':'))
      .map((s) => s.slice(1));
    const params = route.schema.params as { required?: string[]; properties?: object } | undefined;
    if (names.length === 0) expect(params).toBeUndefined();
    else {
      expect([...(params?.required ?? [])].sort()).toEqual([...names].sort());
      expect(Object.keys(params?.properties ?? {}).sort()).toEqual([...names].sort());
    }
  });

  it.each(rows)('%s: has a summary, an owner and a schema for its success answer', (_name, route) => {
    expect(route.summary.length).toBeGreaterThan(0);
    expect(['auth', 'credential-vault', 'audit-ingest', 'flow-engine', 'gateway']).toContain(route.upstream);
    const statuses = Object.keys(route.schema.response).map(Number);
    expect(statuses.some((s) => s >= 200 && s < 300)).toBe(true);
    for (const s of Object.keys(route.responses ?? {})) expect(statuses).toContain(Number(s));
  });

  it.each(rows)('%s: a cookie write needs the CSRF token, a read does not', (_name, route) => {
    const cookie = route.auth.some((k) => k === 'session');
    expect(csrfRequired(route)).toBe(cookie && route.method !== 'GET');
  });

  it('a row without a permission, or a public row taking credentials, does not type-check', () => {
    const base = {
      section: 'audit',
      method: 'GET',
      path: '/v1/audit/nothing',
      upstream: 'audit-ingest',
      summary: 'x',
      schema: { response: { 200: {} } },
    } as const;
    // @ts-expect-error: a route must state its permission and the credentials it accepts
    const noPermission: RoutePermission = { ...base };
    // @ts-expect-error: a public route accepts no credential
    const publicWithSession: RoutePermission = { ...base, permission: 'public', auth: ['session'] };
    // @ts-expect-error: a permission route accepts a session or an API key, never none
    const nobody: RoutePermission = { ...base, permission: 'audit:read', auth: [] };
    expect([noPermission, publicWithSession, nobody].map((r) => r.path)).toEqual(Array(3).fill(base.path));
  });
});
