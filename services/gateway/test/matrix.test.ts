// The role × endpoint matrix, generated from the route table (@flow8/api): every route of
// ROUTES is called through the real gateway over HTTPS by a real principal of every
// role — a cookie session from a real login, an API key with every scope its role may hold, an
// API key with no scope any of these routes needs — plus nobody and the platform operator. A
// route added to the table gets the whole matrix without touching this file (its allowed calls
// are then held to "not refused", until a request builder below makes them exact).
import { ROUTES, type RouteSpec } from '@flow8/api';
import { expectedAllowed, ROLE_PERMISSIONS, ROLES, roleHas, type Permission, type Role } from '@flow8/authz';
import {
  addMember,
  bearer,
  call,
  companyWithAdmin,
  eventually,
  login,
  must,
  randomId,
  randomIpv4,
  strongPassword,
  type Company,
  type Res,
  type Session,
} from '@flow8/testkit';
import {
  idpOf,
  NO_RATE_LIMITS,
  OAUTH_INTEGRATION,
  OAUTH_SCOPE,
  startGateway,
  startUpstreams,
  suiteKeys,
  TRUSTED_LOOPBACK,
} from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

type Kind = 'session' | 'key with all its role scopes' | 'key without a matching scope';
const KINDS: readonly Kind[] = ['session', 'key with all its role scopes', 'key without a matching scope'];

/** Who calls: nobody, the operator, or a principal of a role. Labels are fixed before beforeAll runs. */
type Caller = { label: string } & ({ kind: 'anonymous' } | { kind: 'operator' } | { kind: Kind; role: Role });
const CALLERS: readonly Caller[] = [
  { label: 'nobody', kind: 'anonymous' },
  { label: 'platform operator', kind: 'operator' },
  ...ROLES.flatMap((role) => KINDS.map((kind): Caller => ({ label: `${role} ${kind}`, kind, role }))),
];

/** Scopes an API key can carry: the matrix's permissions minus key management and the operator's. */
const scopesOfRole = (role: Role): Permission[] =>
  ROLE_PERMISSIONS[role].filter((p) => !p.startsWith('api_keys:') && p !== 'tenants:create');
/** flows:read: every role holds it, and no identity or audit route needs it. */
const UNRELATED_SCOPE: Permission = 'flows:read';

/**
 * What a caller may do, stated independently of the gateway's code: a session acts with its
 * role (expectedAllowed); a key never exceeds its owner's role and is narrowed to its scopes, and
 * is no session (logout).
 */
function allowed(caller: Caller, route: RouteSpec, scopes: readonly string[]): boolean {
  switch (caller.kind) {
    case 'anonymous':
      return route.permission === 'public';
    case 'operator':
      return route.permission === 'public' || route.permission === 'operator';
    case 'session':
      return expectedAllowed(caller.role, route);
    default: {
      const p = route.permission;
      if (p === 'public') return true;
      if (p === 'operator') return false;
      if (!route.auth.some((k) => k === 'api_key')) return false;
      if (p === 'authenticated') return true;
      const holds = (perm: Permission | undefined) =>
        perm !== undefined && roleHas(caller.role, perm) && scopes.includes(perm);
      return holds(p) || holds(route.ownPermission);
    }
  }
}

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let company: Company;
let admin: Session;
/** One user per role, with their password (for fresh sessions) and their standing session. */
const users = new Map<Role, { email: string; password: string; session: Session }>();
/** A caller's credentials: request headers, the user who owns them, and a key's scopes. */
const creds = new Map<string, { headers: Record<string, string>; ownerSession: Session | null; scopes: string[] }>();
let readTarget: string; // a user to read / patch
let readCredential: string; // a credential to read
let readFlow: string; // a published flow to read
let readExecution: string; // a run of it to read
const loginUser = { email: '', password: '' };

const ip = randomIpv4(); // one client IP for the suite: its counters are far above what it uses
const from = { 'x-forwarded-for': ip };
const as = (h: Record<string, string>) => ({ ...h, ...from });

beforeAll(async () => {
  // With a real OpenID Connect provider behind the vault, so an OAuth2 start really starts.
  up = await startUpstreams(keys, { oauth: true });
  gw = await startGateway(keys, up.urls, { ...TRUSTED_LOOPBACK, ...NO_RATE_LIMITS });
  ({ company, admin } = await companyWithAdmin(gw.url, keys.operatorToken, { headers: from }));

  const newUser = async (role: Role, tag: string) => {
    const email = `${tag}-${randomId().slice(0, 8)}@matrix.test`;
    const password = strongPassword();
    const u = await must<{ id: string }>(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email, password, role },
    });
    return { id: u.id, email, password };
  };

  await Promise.all(
    ROLES.map(async (role) => {
      const { email, password, session } = await addMember(gw.url, admin, {
        tenant: company.slug,
        role,
        domain: 'matrix.test',
        headers: from,
      });
      users.set(role, { email, password, session });
      const issue = async (scopes: string[]) =>
        (
          await must<{ token: string }>(gw.url, '/v1/api-keys', {
            method: 'POST',
            headers: as(session.headers),
            body: { name: `matrix ${role}`, scopes },
          })
        ).token;
      creds.set(`${role} session`, { headers: session.headers, ownerSession: session, scopes: [] });
      const full = scopesOfRole(role);
      creds.set(`${role} key with all its role scopes`, {
        headers: bearer(await issue(full)),
        ownerSession: session,
        scopes: full,
      });
      creds.set(`${role} key without a matching scope`, {
        headers: bearer(await issue([UNRELATED_SCOPE])),
        ownerSession: session,
        scopes: [UNRELATED_SCOPE],
      });
    }),
  );
  creds.set('nobody', { headers: {}, ownerSession: null, scopes: [] });
  creds.set('platform operator', { headers: bearer(keys.operatorToken), ownerSession: null, scopes: [] });

  readTarget = (await newUser('executor', 'target')).id;
  readCredential = await victimCredential();
  readFlow = await victimFlow({ published: true });
  readExecution = (
    await must<{ id: string }>(gw.url, `/v1/flows/${readFlow}/executions`, {
      method: 'POST',
      headers: as(admin.headers),
      body: { amount: 1 },
    })
  ).id;
  const login1 = await newUser('viewer', 'login');
  loginUser.email = login1.email;
  loginUser.password = login1.password;
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

interface Prepared {
  path: string;
  body?: unknown;
  /** Replaces the caller's headers (e.g. a throwaway session for logout). */
  headers?: Record<string, string>;
  /** The exact success status of this route. */
  status: number;
  /**
   * When the allowed request is one the service itself must refuse (there is nothing it could
   * succeed on), the refusal it gives: proof that the gateway let it through, with an identity
   * the service accepted, to the service's own check.
   */
  serviceRefusal?: { code: string; reason: string };
  /** Checked after the call: the change happened exactly when the call was allowed. */
  check?: (wasAllowed: boolean) => Promise<void>;
}
type Builder = (caller: Caller) => Promise<Prepared>;

const adminGet = (path: string) => call(gw.url, path, { headers: as(admin.headers) });

async function victimUser(): Promise<string> {
  return (
    await must<{ id: string }>(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email: `victim-${randomId().slice(0, 10)}@matrix.test`, password: strongPassword(), role: 'viewer' },
    })
  ).id;
}

/** A key the caller may manage if anyone may: its owner's (or, for nobody / operator, the Admin's). */
async function victimKey(caller: Caller): Promise<string> {
  const owner = creds.get(caller.label)?.ownerSession ?? admin;
  return (
    await must<{ id: string }>(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: as(owner.headers),
      body: { name: `victim ${randomId().slice(0, 6)}`, scopes: [UNRELATED_SCOPE] },
    })
  ).id;
}

/** A credential of the company, created by its Admin through the gateway. */
async function victimCredential(): Promise<string> {
  return (
    await must<{ id: string }>(gw.url, '/v1/credentials', {
      method: 'POST',
      headers: as(admin.headers),
      body: {
        integration: 'slack',
        name: `victim ${randomId().slice(0, 8)}`,
        kind: 'token',
        scopes: ['chat:write'],
        secret: `xoxb-${randomId()}`,
      },
    })
  ).id;
}

/** A flow of the company: map → echo (`test` integration), or one that waits an hour (stays running). */
const flowDef = (name: string, opts: { waits?: boolean } = {}) => ({
  schema: 'flow-definition.v1',
  name,
  purpose: 'route matrix',
  legalBasis: 'contract',
  inputSchema: { type: 'object', properties: { amount: { type: 'number' } } },
  triggers: [{ id: 'manual', kind: 'manual' }],
  flowlets: opts.waits
    ? [{ id: 'wait', kind: 'delay', delayMs: 3_600_000 }]
    : [
        { id: 'total', kind: 'map', output: { sum: 'input.amount' } },
        { id: 'echo', kind: 'action', integration: 'test', operation: 'echo', input: { sum: 'steps.total.sum' } },
      ],
  edges: opts.waits ? [] : [{ from: 'total', to: 'echo' }],
});

/** A flow created (and published) by the Admin through the gateway. */
async function victimFlow(opts: { published?: boolean; waits?: boolean } = {}): Promise<string> {
  const { id } = await must<{ id: string }>(gw.url, '/v1/flows', {
    method: 'POST',
    headers: as(admin.headers),
    body: flowDef(`victim ${randomId().slice(0, 8)}`, opts),
  });
  if (opts.published)
    await must(gw.url, `/v1/flows/${id}/publish`, {
      method: 'POST',
      headers: as(admin.headers),
      body: { version: 1 },
      status: 200,
    });
  return id;
}

const flowOf = async (id: string) =>
  (await adminGet(`/v1/flows/${id}`)).json<{ status: string; latestVersion: number }>();
const runsOf = async (flowId: string) =>
  (await adminGet(`/v1/executions?flowId=${flowId}`)).json<{ items: Array<{ id: string; status: string }> }>().items;

/** Pending OAuth2 authorizations of the company in the vault (started, not yet called back). */
async function pendingAuthorizations(): Promise<number> {
  const r = await up.vault.db.admin.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM oauth_pending WHERE tenant_id = $1',
    [company.tenantId],
  );
  return r.rows[0]?.n ?? 0;
}

async function credential(id: string): Promise<{ status: string; version: number }> {
  return (await adminGet(`/v1/credentials/${id}`)).json<{ status: string; version: number }>();
}

interface KeysView {
  items: Array<{ id: string; version: number; status: string }>;
  reencryption: { inProgress: boolean };
}

/** The company's data keys once no re-encryption is running (a rotation then starts a new one: 202). */
async function settledKeys(): Promise<KeysView> {
  return eventually(
    async () => {
      const k = (await adminGet('/v1/keys')).json<KeysView>();
      return k.reencryption.inProgress ? undefined : k;
    },
    { what: 're-encryption to finish', timeoutMs: 30_000 },
  );
}
const newestKeyVersion = (k: KeysView) => Math.max(0, ...k.items.map((i) => i.version));

async function keyStatus(id: string): Promise<string | undefined> {
  const r = await adminGet('/v1/api-keys?limit=100');
  return r.json<{ items: Array<{ id: string; status: string }> }>().items.find((k) => k.id === id)?.status;
}

async function grantExists(id: string, resourceId: string): Promise<boolean> {
  const r = await adminGet(`/v1/grants?resourceId=${encodeURIComponent(resourceId)}`);
  return r.json<{ items: Array<{ id: string }> }>().items.some((g) => g.id === id);
}

const BUILDERS: Record<string, Builder> = {
  'POST /v1/auth/login': async () => ({
    path: '/v1/auth/login',
    body: { tenant: company.slug, email: loginUser.email, password: loginUser.password },
    status: 200,
  }),
  'POST /v1/auth/logout': async (caller) => {
    // A throwaway session of the same user: the caller's own session must survive the suite.
    const u = caller.kind === 'session' ? users.get(caller.role) : undefined;
    const fresh = u ? await login(gw.url, { tenant: company.slug, email: u.email, password: u.password }, from) : null;
    return {
      path: '/v1/auth/logout',
      ...(fresh ? { headers: fresh.headers } : {}),
      status: 204,
      check: async (wasAllowed) => {
        if (!fresh) return;
        const after = await call(gw.url, '/v1/me', { headers: as(fresh.headers) });
        expect(after.status).toBe(wasAllowed ? 401 : 200);
      },
    };
  },
  'GET /v1/me': async () => ({ path: '/v1/me', status: 200 }),
  'POST /v1/me/password': async (caller) => {
    // A throwaway user of the caller's role: a change ends every session of the user, and the
    // caller's standing session must survive the suite.
    if (caller.kind !== 'session') {
      return {
        path: '/v1/me/password',
        body: { currentPassword: 'irrelevant', newPassword: strongPassword() },
        status: 204,
      };
    }
    const email = `pw-${randomId().slice(0, 8)}@matrix.test`;
    const password = strongPassword();
    await must(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email, password, role: caller.role },
    });
    const fresh = await login(gw.url, { tenant: company.slug, email, password }, from);
    return {
      path: '/v1/me/password',
      headers: fresh.headers,
      body: { currentPassword: password, newPassword: strongPassword() },
      status: 204,
      check: async (wasAllowed) => {
        const after = await call(gw.url, '/v1/me', { headers: as(fresh.headers) });
        expect(after.status).toBe(wasAllowed ? 401 : 200);
      },
    };
  },
  'GET /v1/users': async () => ({ path: '/v1/users?limit=5', status: 200 }),
  'POST /v1/users': async () => {
    const email = `new-${randomId().slice(0, 10)}@matrix.test`;
    return {
      path: '/v1/users',
      body: { email, password: strongPassword(), role: 'viewer' },
      status: 201,
      check: async (wasAllowed) => {
        const r = await adminGet('/v1/users?limit=100');
        expect(r.body.includes(email)).toBe(wasAllowed);
      },
    };
  },
  'GET /v1/users/:id': async () => ({ path: `/v1/users/${readTarget}`, status: 200 }),
  'PATCH /v1/users/:id': async () => {
    const id = await victimUser();
    return {
      path: `/v1/users/${id}`,
      body: { role: 'executor' },
      status: 200,
      check: async (wasAllowed) => {
        const r = await adminGet(`/v1/users/${id}`);
        expect(r.json<{ role: string }>().role).toBe(wasAllowed ? 'executor' : 'viewer');
      },
    };
  },
  'DELETE /v1/users/:id': async () => {
    const id = await victimUser();
    return {
      path: `/v1/users/${id}`,
      status: 204,
      check: async (wasAllowed) => expect((await adminGet(`/v1/users/${id}`)).status).toBe(wasAllowed ? 404 : 200),
    };
  },
  'GET /v1/grants': async () => ({ path: '/v1/grants?limit=5', status: 200 }),
  'POST /v1/grants': async () => {
    const flow = `flw_${randomId()}`;
    return {
      path: '/v1/grants',
      body: { principal: { type: 'user', id: readTarget }, resource: { type: 'flow', id: flow }, actions: ['read'] },
      status: 201,
      check: async (wasAllowed) => {
        const r = await adminGet(`/v1/grants?resourceId=${flow}`);
        expect(r.json<{ items: unknown[] }>().items).toHaveLength(wasAllowed ? 1 : 0);
      },
    };
  },
  'DELETE /v1/grants/:id': async () => {
    const flow = `flw_${randomId()}`;
    const g = await must<{ id: string }>(gw.url, '/v1/grants', {
      method: 'POST',
      headers: as(admin.headers),
      body: { principal: { type: 'user', id: readTarget }, resource: { type: 'flow', id: flow }, actions: ['read'] },
    });
    return {
      path: `/v1/grants/${g.id}`,
      status: 204,
      check: async (wasAllowed) => expect(await grantExists(g.id, flow)).toBe(!wasAllowed),
    };
  },
  'GET /v1/partitions': async () => ({ path: '/v1/partitions?limit=5', status: 200 }),
  'POST /v1/partitions': async () => {
    const name = `p-${randomId().slice(0, 12)}`;
    return {
      path: '/v1/partitions',
      body: { name },
      status: 201,
      check: async (wasAllowed) =>
        expect((await adminGet('/v1/partitions?limit=100')).body.includes(name)).toBe(wasAllowed),
    };
  },
  'GET /v1/api-keys': async () => ({ path: '/v1/api-keys?limit=5', status: 200 }),
  'POST /v1/api-keys': async () => ({
    path: '/v1/api-keys',
    body: { name: `k-${randomId().slice(0, 8)}`, scopes: [UNRELATED_SCOPE] },
    status: 201,
  }),
  'POST /v1/api-keys/:id/rotate': async (caller) => {
    const id = await victimKey(caller);
    return {
      path: `/v1/api-keys/${id}/rotate`,
      body: {},
      status: 201,
      check: async (wasAllowed) => expect(await keyStatus(id)).toBe(wasAllowed ? 'revoked' : 'active'),
    };
  },
  'DELETE /v1/api-keys/:id': async (caller) => {
    const id = await victimKey(caller);
    return {
      path: `/v1/api-keys/${id}`,
      status: 204,
      check: async (wasAllowed) => expect(await keyStatus(id)).toBe(wasAllowed ? 'revoked' : 'active'),
    };
  },
  'GET /v1/settings/ip-allowlist': async () => ({ path: '/v1/settings/ip-allowlist', status: 200 }),
  // An empty list is "no restriction": valid, and it cannot lock the suite out.
  'PUT /v1/settings/ip-allowlist': async () => ({
    path: '/v1/settings/ip-allowlist',
    body: { cidrs: [] },
    status: 200,
  }),
  'POST /v1/tenants': async () => {
    const slug = `mx-${randomId().slice(0, 12)}`;
    return {
      path: '/v1/tenants',
      body: { name: `Matrix ${slug}`, slug, admin: { email: `admin@${slug}.test`, password: strongPassword() } },
      status: 201,
    };
  },
  'GET /v1/credentials': async () => ({ path: '/v1/credentials?limit=5', status: 200 }),
  'POST /v1/credentials': async () => {
    const name = `c-${randomId().slice(0, 12)}`;
    return {
      path: '/v1/credentials',
      body: { integration: 'clio', name, kind: 'api_key', scopes: ['matters:read'], secret: `s-${randomId()}` },
      status: 201,
      check: async (wasAllowed) =>
        expect((await adminGet('/v1/credentials?limit=200')).body.includes(name)).toBe(wasAllowed),
    };
  },
  'GET /v1/credentials/:id': async () => ({ path: `/v1/credentials/${readCredential}`, status: 200 }),
  'POST /v1/credentials/:id/rotate': async () => {
    const id = await victimCredential();
    return {
      path: `/v1/credentials/${id}/rotate`,
      body: { secret: `xoxb-${randomId()}` },
      status: 200,
      check: async (wasAllowed) => expect((await credential(id)).version).toBe(wasAllowed ? 2 : 1),
    };
  },
  'DELETE /v1/credentials/:id': async () => {
    const id = await victimCredential();
    return {
      path: `/v1/credentials/${id}`,
      status: 204,
      check: async (wasAllowed) => expect((await credential(id)).status).toBe(wasAllowed ? 'revoked' : 'active'),
    };
  },
  'POST /v1/credentials/oauth/:integration/start': async () => {
    const before = await pendingAuthorizations();
    return {
      path: `/v1/credentials/oauth/${OAUTH_INTEGRATION}/start`,
      body: { name: `o-${randomId().slice(0, 12)}`, scopes: [OAUTH_SCOPE] },
      status: 200,
      check: async (wasAllowed) => expect(await pendingAuthorizations()).toBe(before + (wasAllowed ? 1 : 0)),
    };
  },
  // A state nobody started: the vault must refuse it (STATE_INVALID), so an allowed caller gets
  // exactly the vault's 400 and a refused one the gateway's 401/403 — and no credential either way.
  'GET /v1/credentials/oauth/callback': async () => {
    const before = (await adminGet('/v1/credentials?limit=200')).json<{ items: unknown[] }>().items.length;
    const q = new URLSearchParams({ state: randomId() + randomId(), code: randomId(), iss: idpOf(up).issuer });
    return {
      path: `/v1/credentials/oauth/callback?${q.toString()}`,
      status: 400,
      serviceRefusal: { code: 'BAD_REQUEST', reason: 'STATE_INVALID' },
      check: async () =>
        expect((await adminGet('/v1/credentials?limit=200')).json<{ items: unknown[] }>().items).toHaveLength(before),
    };
  },
  'POST /v1/keys/rotate': async () => {
    const before = newestKeyVersion(await settledKeys());
    return {
      path: '/v1/keys/rotate',
      status: 202,
      check: async (wasAllowed) => {
        const after = newestKeyVersion((await adminGet('/v1/keys')).json<KeysView>());
        expect(after).toBe(wasAllowed ? before + 1 : before);
      },
    };
  },
  'GET /v1/keys': async () => ({ path: '/v1/keys', status: 200 }),
  'GET /v1/audit/events': async () => ({ path: '/v1/audit/events?limit=5', status: 200 }),
  'GET /v1/audit/export': async () => ({ path: '/v1/audit/export?format=ndjson', status: 200 }),
  'GET /v1/audit/verify': async () => ({ path: '/v1/audit/verify', status: 200 }),
  'GET /v1/audit/checkpoints': async () => ({ path: '/v1/audit/checkpoints', status: 200 }),
  'POST /v1/flows': async () => {
    const name = `f-${randomId().slice(0, 12)}`;
    return {
      path: '/v1/flows',
      body: flowDef(name),
      status: 201,
      check: async (wasAllowed) => expect((await adminGet('/v1/flows?limit=200')).body.includes(name)).toBe(wasAllowed),
    };
  },
  'GET /v1/flows': async () => ({ path: '/v1/flows?limit=5', status: 200 }),
  'GET /v1/flows/:id': async () => ({ path: `/v1/flows/${readFlow}`, status: 200 }),
  'POST /v1/flows/:id/versions': async () => {
    const id = await victimFlow();
    return {
      path: `/v1/flows/${id}/versions`,
      body: flowDef('v2'),
      status: 201,
      check: async (wasAllowed) => expect((await flowOf(id)).latestVersion).toBe(wasAllowed ? 2 : 1),
    };
  },
  'GET /v1/flows/:id/versions': async () => ({ path: `/v1/flows/${readFlow}/versions`, status: 200 }),
  'GET /v1/flows/:id/versions/:version': async () => ({ path: `/v1/flows/${readFlow}/versions/1`, status: 200 }),
  'POST /v1/flows/:id/publish': async () => {
    const id = await victimFlow();
    return {
      path: `/v1/flows/${id}/publish`,
      body: { version: 1 },
      status: 200,
      check: async (wasAllowed) => expect((await flowOf(id)).status).toBe(wasAllowed ? 'published' : 'draft'),
    };
  },
  'POST /v1/flows/:id/archive': async () => {
    const id = await victimFlow();
    return {
      path: `/v1/flows/${id}/archive`,
      status: 200,
      check: async (wasAllowed) => expect((await flowOf(id)).status).toBe(wasAllowed ? 'archived' : 'draft'),
    };
  },
  'POST /v1/flows/:id/executions': async () => {
    const id = await victimFlow({ published: true });
    return {
      path: `/v1/flows/${id}/executions`,
      body: { amount: 3 },
      status: 201,
      check: async (wasAllowed) => expect(await runsOf(id)).toHaveLength(wasAllowed ? 1 : 0),
    };
  },
  'GET /v1/executions': async () => ({ path: '/v1/executions?limit=5', status: 200 }),
  'GET /v1/executions/:id': async () => ({ path: `/v1/executions/${readExecution}`, status: 200 }),
  'POST /v1/executions/:id/cancel': async () => {
    const id = await victimFlow({ published: true, waits: true });
    const run = await must<{ id: string }>(gw.url, `/v1/flows/${id}/executions`, {
      method: 'POST',
      headers: as(admin.headers),
      body: {},
    });
    return {
      path: `/v1/executions/${run.id}/cancel`,
      status: 200,
      check: async (wasAllowed) =>
        expect((await runsOf(id)).map((e) => e.status)).toEqual([wasAllowed ? 'cancelled' : 'running']),
    };
  },
};

/** A route nobody wrote a builder for: well-formed ids that do not exist, no body. */
const fallback =
  (route: RouteSpec): Builder =>
  async () => ({ path: route.path.replace(/:\w+/g, `xxx_${randomId()}`), status: 0 });

const errorCode = (r: Res) => {
  try {
    return r.json<{ error?: { code?: string } }>().error?.code;
  } catch {
    return undefined;
  }
};

describe.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('%s', (label, route) => {
  test.each(CALLERS.map((c) => [c.label, c] as const))('as %s', async (_l, caller) => {
    const cred = creds.get(caller.label);
    if (!cred) throw new Error(`no credentials for ${caller.label}`);
    const build = BUILDERS[label] ?? fallback(route);
    const req = await build(caller);
    const r = await call(gw.url, req.path, {
      method: route.method,
      headers: as(req.headers ?? cred.headers),
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    const want = allowed(caller, route, cred.scopes);
    const outcome = { route: label, caller: caller.label, status: r.status, code: errorCode(r) };
    if (want) {
      if (req.status === 0) {
        expect(outcome.status).not.toBe(401);
        expect(outcome.status).not.toBe(403);
        expect(outcome.status).toBeLessThan(500);
      } else if (req.serviceRefusal) {
        const reason = r.json<{ error?: { details?: { reason?: string } } }>().error?.details?.reason;
        expect({ ...outcome, reason }).toEqual({
          ...outcome,
          status: req.status,
          code: req.serviceRefusal.code,
          reason: req.serviceRefusal.reason,
        });
      } else {
        expect(outcome).toEqual({ ...outcome, status: req.status, code: undefined });
      }
    } else {
      // Nobody, or a request on the operator's route without the operator token: not authenticated
      // for this route. Anyone else authenticated but not allowed: FORBIDDEN.
      const unauthenticated =
        caller.kind === 'anonymous' ||
        route.permission === 'operator' ||
        (caller.kind === 'operator' && route.permission !== 'public');
      expect(outcome).toEqual({
        ...outcome,
        status: unauthenticated ? 401 : 403,
        code: unauthenticated ? 'UNAUTHENTICATED' : 'FORBIDDEN',
      });
    }
    await req.check?.(want);
  });
});

describe('the matrix itself', () => {
  it('covers every route with a request builder, so allowed calls are held to their exact status', () => {
    const missing = ROUTES.map((r) => `${r.method} ${r.path}`).filter((l) => !(l in BUILDERS));
    expect(missing).toEqual([]);
  });

  it('auth accepts, for every role, a key with every scope of the role, and the key acts with exactly them', async () => {
    for (const role of ROLES) {
      const me = await call(gw.url, '/v1/me', {
        headers: as(creds.get(`${role} key with all its role scopes`)!.headers),
      });
      expect(me.status).toBe(200);
      const body = me.json<{ type: string; role: string; permissions: string[] }>();
      expect(body).toMatchObject({ type: 'api_key', role });
      expect([...body.permissions].sort()).toEqual([...scopesOfRole(role)].sort());
    }
  });

  it('auth refuses a key with a scope beyond its owner’s role', async () => {
    const viewer = users.get('viewer')!.session;
    const r = await call(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: as(viewer.headers),
      body: { name: 'too much', scopes: ['users:write'] },
    });
    expect(r.status).toBe(400);
    expect(errorCode(r)).toBe('BAD_REQUEST');
  });
});

describe('a role change applies to the next request', () => {
  it("a demoted Admin's session loses the Admin routes at once, and their API keys stop working", async () => {
    const email = `demoted-${randomId().slice(0, 8)}@matrix.test`;
    const password = strongPassword();
    const u = await must<{ id: string }>(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email, password, role: 'admin' },
    });
    const s = await login(gw.url, { tenant: company.slug, email, password }, from);
    const key = await must<{ token: string }>(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: as(s.headers),
      body: { name: 'soon revoked', scopes: ['users:read'] },
    });
    expect((await call(gw.url, '/v1/users', { headers: as(s.headers) })).status).toBe(200);
    expect((await call(gw.url, '/v1/users', { headers: as(bearer(key.token)) })).status).toBe(200);

    await must(gw.url, `/v1/users/${u.id}`, { method: 'PATCH', headers: as(admin.headers), body: { role: 'viewer' } });

    const session = await call(gw.url, '/v1/users', { headers: as(s.headers) });
    expect({ status: session.status, code: errorCode(session) }).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect((await call(gw.url, '/v1/audit/verify', { headers: as(s.headers) })).status).toBe(200);
    // At once, not "within seconds": the key carries the Admin role it was issued with, and in
    // any window it could, for one, make its owner Admin again.
    const keyed = await call(gw.url, `/v1/users/${u.id}`, {
      method: 'PATCH',
      headers: as(bearer(key.token)),
      body: { role: 'admin' },
    });
    expect({ status: keyed.status, code: errorCode(keyed) }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect((await call(gw.url, `/v1/users/${u.id}`, { headers: as(admin.headers) })).json()).toMatchObject({
      role: 'viewer',
    });
  });

  it("a removed Admin's session and API keys are refused at once", async () => {
    const email = `removed-${randomId().slice(0, 8)}@matrix.test`;
    const password = strongPassword();
    const u = await must<{ id: string }>(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email, password, role: 'admin' },
    });
    const s = await login(gw.url, { tenant: company.slug, email, password }, from);
    const key = await must<{ token: string }>(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: as(s.headers),
      body: { name: 'soon revoked', scopes: ['users:write'] },
    });
    await must(gw.url, `/v1/users/${u.id}`, { method: 'DELETE', headers: as(admin.headers) });
    expect((await call(gw.url, '/v1/me', { headers: as(s.headers) })).status).toBe(401);
    const keyed = await call(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(bearer(key.token)),
      body: { email: `comeback-${randomId().slice(0, 6)}@matrix.test`, password: strongPassword(), role: 'admin' },
    });
    expect({ status: keyed.status, code: errorCode(keyed) }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });
});
