// Two companies behind one real gateway, with users, grants, partitions, API keys, allowlists and
// ledger entries each. Company A's Admin (by session and by API key) aims at B: every route with
// an `:id` answers B's ids exactly like ids that do not exist (404, never a 403 oracle) and changes
// nothing of B's; every list and every audit read of A holds none of B's ids, e-mails, names,
// slug, CIDRs or ledger entries — searched in the raw bodies, error bodies included.
import { ROUTES, type RouteSpec } from '@flow8/api';
import { ROLE_PERMISSIONS } from '@flow8/authz';
import {
  bearer,
  call,
  createCompany,
  eventually,
  login,
  must,
  randomId,
  strongPassword,
  type Company,
  type Res,
  type Session,
} from '@flow8/testkit';
import {
  authorizeAtProvider,
  callbackPath,
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

const keys = suiteKeys();
let up: Up;
let gw: Gw;

/** Everything one company owns that another must never see. */
interface World {
  company: Company;
  admin: Session;
  adminKey: string;
  /** Client IP of this company's requests (inside its own allowlist). */
  ip: string;
  cidr: string;
  viewer: { id: string; email: string };
  executor: { id: string; email: string };
  partition: { id: string; name: string };
  grantIds: string[];
  keyIds: string[];
  /** Integration credentials (vault): ids, names and the secrets sealed on create. */
  credentials: Array<{ id: string; name: string; secret: string }>;
  /** The company's data key ids (vault). */
  dataKeyIds: string[];
  /** A published flow (flow-engine): id and name. */
  flows: Array<{ id: string; name: string }>;
  /** A run of it. */
  executions: string[];
  /** Ledger event ids and hashes, read by the company itself. */
  ledger: string[];
}
let A: World;
let B: World;

const headersOf = (w: World, h: Record<string, string>) => ({ ...h, 'x-forwarded-for': w.ip });

/** A small valid flow (map → echo with the built-in `test` integration). */
const flowDef = (name: string) => ({
  schema: 'flow-definition.v1',
  name,
  purpose: 'cross-tenant sweep',
  legalBasis: 'contract',
  inputSchema: { type: 'object', properties: { amount: { type: 'number' } } },
  triggers: [{ id: 'manual', kind: 'manual' }],
  flowlets: [
    { id: 'total', kind: 'map', output: { sum: 'input.amount' } },
    { id: 'echo', kind: 'action', integration: 'test', operation: 'echo', input: { sum: 'steps.total.sum' } },
  ],
  edges: [{ from: 'total', to: 'echo' }],
});

async function build(tag: string, net: string): Promise<World> {
  const cidr = `${net}.0/24`;
  const ip = `${net}.${10 + Math.floor(Math.random() * 200)}`;
  const xff = { 'x-forwarded-for': ip };
  const company = await createCompany(gw.url, keys.operatorToken, {
    name: `${tag} Holdings ${randomId().slice(0, 6)}`,
    headers: xff,
  });
  const admin = await login(
    gw.url,
    { tenant: company.slug, email: company.admin.email, password: company.admin.password },
    xff,
  );
  const h = { ...admin.headers, ...xff };
  const user = async (role: string) => {
    const email = `${role}-${randomId().slice(0, 8)}@${tag.toLowerCase()}.test`;
    const u = await must<{ id: string }>(gw.url, '/v1/users', {
      method: 'POST',
      headers: h,
      body: { email, password: strongPassword(), role },
    });
    return { id: u.id, email };
  };
  const viewer = await user('viewer');
  const executor = await user('executor');
  const pname = `${tag} practice ${randomId().slice(0, 6)}`;
  const partition = { id: '', name: pname };
  partition.id = (
    await must<{ id: string }>(gw.url, '/v1/partitions', { method: 'POST', headers: h, body: { name: pname } })
  ).id;
  const adminScopes = ROLE_PERMISSIONS.admin.filter((p) => !p.startsWith('api_keys:'));
  const key = await must<{ id: string; token: string }>(gw.url, '/v1/api-keys', {
    method: 'POST',
    headers: h,
    body: { name: `${tag} automation`, scopes: adminScopes },
  });
  const viewerKey = await must<{ id: string }>(gw.url, '/v1/api-keys', {
    method: 'POST',
    headers: h,
    body: { name: `${tag} reporting`, scopes: ['audit:read'] },
  });
  const grants = [
    await must<{ id: string }>(gw.url, '/v1/grants', {
      method: 'POST',
      headers: h,
      body: {
        principal: { type: 'user', id: executor.id },
        resource: { type: 'partition', id: partition.id },
        actions: ['read', 'execute'],
      },
    }),
    await must<{ id: string }>(gw.url, '/v1/grants', {
      method: 'POST',
      headers: h,
      body: {
        principal: { type: 'api_key', id: key.id },
        resource: { type: 'flow', id: `flw_${randomId()}` },
        actions: ['read'],
      },
    }),
  ];
  const credentials: World['credentials'] = [];
  for (const integration of ['slack', 'clio'] as const) {
    const name = `${tag} ${integration} ${randomId().slice(0, 6)}`;
    const secret = `${tag}-secret-${randomId()}`;
    const c = await must<{ id: string }>(gw.url, '/v1/credentials', {
      method: 'POST',
      headers: h,
      body: {
        integration,
        name,
        kind: 'token',
        scopes: [integration === 'slack' ? 'chat:write' : 'matters:read'],
        secret,
      },
    });
    credentials.push({ id: c.id, name, secret });
  }
  const flowName = `${tag} order flow ${randomId().slice(0, 6)}`;
  const flow = await must<{ id: string }>(gw.url, '/v1/flows', { method: 'POST', headers: h, body: flowDef(flowName) });
  await must(gw.url, `/v1/flows/${flow.id}/publish`, { method: 'POST', headers: h, body: { version: 1 }, status: 200 });
  const execution = await must<{ id: string }>(gw.url, `/v1/flows/${flow.id}/executions`, {
    method: 'POST',
    headers: h,
    body: { amount: 1 },
  });
  const dataKeys = await must<{ items: Array<{ id: string }> }>(gw.url, '/v1/keys', { headers: h });
  await must(gw.url, '/v1/settings/ip-allowlist', { method: 'PUT', headers: h, body: { cidrs: [cidr] } });
  return {
    company,
    admin,
    adminKey: key.token,
    ip,
    cidr,
    viewer,
    executor,
    partition,
    grantIds: grants.map((g) => g.id),
    keyIds: [key.id, viewerKey.id],
    credentials,
    dataKeyIds: dataKeys.items.map((k) => k.id),
    flows: [{ id: flow.id, name: flowName }],
    executions: [execution.id],
    ledger: [],
  };
}

/** Reads the company's own ledger once its identity events are in, then seals it with a checkpoint. */
async function settleLedger(w: World): Promise<void> {
  const h = headersOf(w, bearer(w.adminKey));
  await eventually(
    async () => {
      const r = await call(gw.url, '/v1/audit/events?type=identity.allowlist.changed', { headers: h });
      return r.status === 200 && r.json<{ items: unknown[] }>().items.length === 1;
    },
    { timeoutMs: 60_000, what: `${w.company.slug}'s identity events in the ledger` },
  );
  await up.audit.svc.checkpoints.checkpointTenant(w.company.tenantId);
  const r = await call(gw.url, '/v1/audit/events?limit=500', { headers: h });
  const items = r.json<{ items: Array<{ eventId: string; hash: string }> }>().items;
  w.ledger = items.flatMap((e) => [e.eventId, e.hash]);
}

/** Every string of B's that must never reach A: ids, e-mails, names, slug, CIDR, IP, ledger. */
function secretsOf(w: World): string[] {
  return [
    w.company.tenantId,
    w.company.slug,
    w.company.name,
    w.company.admin.id,
    w.company.admin.email,
    w.viewer.id,
    w.viewer.email,
    w.executor.id,
    w.executor.email,
    w.partition.id,
    w.partition.name,
    ...w.grantIds,
    ...w.keyIds,
    ...w.credentials.flatMap((c) => [c.id, c.name, c.secret]),
    ...w.dataKeyIds,
    ...w.flows.flatMap((f) => [f.id, f.name]),
    ...w.executions,
    w.cidr,
    w.ip,
    ...w.ledger,
  ];
}

/** The body plus every base64 `canonical` field decoded: the ledger's verbatim bytes are searched too. */
function expand(body: string): string {
  const decoded = [...body.matchAll(/"canonical":"([A-Za-z0-9+/=]+)"/g)].map((m) =>
    Buffer.from(m[1]!, 'base64').toString('utf8'),
  );
  return [body, ...decoded].join('\n');
}

function leaks(body: string, w: World): string[] {
  const text = expand(body);
  return secretsOf(w).filter((s) => text.includes(s));
}

beforeAll(async () => {
  up = await startUpstreams(keys, { sharedPrefix: true, oauth: true });
  gw = await startGateway(keys, up.urls, { ...TRUSTED_LOOPBACK, ...NO_RATE_LIMITS });
  [A, B] = await Promise.all([build('Alpha', '192.0.2'), build('Bravo', '198.51.100')]);
  // B reads its own audit log too, so its ledger holds data-access events of its own.
  expect((await call(gw.url, '/v1/audit/verify', { headers: headersOf(B, bearer(B.adminKey)) })).status).toBe(200);
  await Promise.all([settleLedger(A), settleLedger(B)]);
  // The search below is only meaningful if there is something of B's to find.
  expect(B.ledger.length).toBeGreaterThan(10);
}, 150_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

const errorOf = (r: Res) => r.json<{ error: { code: string; message: string } }>().error;

/** A's callers: the Admin's cookie session and an Admin API key with every scope a key may hold. */
const A_CALLERS = ['session', 'api key'] as const;
const aHeaders = (kind: (typeof A_CALLERS)[number]) =>
  headersOf(A, kind === 'session' ? A.admin.headers : bearer(A.adminKey));

/** B's object for a route with an `:id`, and a well-formed id of the same kind that exists nowhere. */
function targetsFor(route: RouteSpec): { b: () => string; none: string } {
  if (route.path.startsWith('/v1/users/')) return { b: () => B.viewer.id, none: `usr_${randomId()}` };
  if (route.path.startsWith('/v1/grants/')) return { b: () => B.grantIds[0]!, none: `grt_${randomId()}` };
  if (route.path.startsWith('/v1/api-keys/')) return { b: () => B.keyIds[1]!, none: `key_${randomId()}` };
  if (route.path.startsWith('/v1/credentials/')) return { b: () => B.credentials[0]!.id, none: `crd_${randomId()}` };
  if (route.path.startsWith('/v1/flows/')) return { b: () => B.flows[0]!.id, none: `flw_${randomId()}` };
  if (route.path.startsWith('/v1/executions/')) return { b: () => B.executions[0]!, none: `exe_${randomId()}` };
  throw new Error(`no cross-tenant target for ${route.method} ${route.path}: add one`);
}

const BODIES: Record<string, unknown> = {
  'PATCH /v1/users/:id': { role: 'admin' },
  'POST /v1/api-keys/:id/rotate': {},
  'POST /v1/credentials/:id/rotate': { secret: 'planted-by-company-a' },
  'POST /v1/flows/:id/versions': flowDef('planted by company A'),
  'POST /v1/flows/:id/publish': { version: 1 },
  'POST /v1/flows/:id/executions': { amount: 2 },
};

// Routes naming one object by `:id`. The OAuth2 start's `:integration` names no company's object
// (it is a fixed list), and the callback's object is its `state`: both are swept below.
const ID_ROUTES = ROUTES.filter((r) => r.path.includes('/:id')).map((r) => [`${r.method} ${r.path}`, r] as const);

describe('the OAuth2 routes', () => {
  it('cover every route of the table with a parameter that is not an :id', () => {
    const others = ROUTES.filter((r) => r.path.includes('/:') && !r.path.includes('/:id'));
    expect(others.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /v1/credentials/oauth/:integration/start`]);
  });

  test.each(A_CALLERS.map((k) => [k]))(
    "A's Admin by %s with B's state: refused like a state nobody started, and B still connects with it",
    async (kind) => {
      const idp = idpOf(up);
      const hB = headersOf(B, B.admin.headers);
      const name = `Bravo ${OAUTH_INTEGRATION} ${randomId().slice(0, 6)}`;
      const started = await must<{ authorizationUrl: string; state: string }>(
        gw.url,
        `/v1/credentials/oauth/${OAUTH_INTEGRATION}/start`,
        { method: 'POST', headers: hB, body: { name, scopes: [OAUTH_SCOPE] }, status: 200 },
      );
      const answer = await authorizeAtProvider(idp, started.authorizationUrl);
      const forB = await call(gw.url, callbackPath(answer), { headers: aHeaders(kind) });
      const forNone = await call(gw.url, callbackPath({ ...answer, state: randomId() + randomId() }), {
        headers: aHeaders(kind),
      });
      const shape = (r: Res) => ({
        status: r.status,
        ...errorOf(r),
        requestId: undefined,
      });
      // No oracle: B's live state and a state that never existed get the same refusal.
      expect(shape(forB)).toEqual(shape(forNone));
      expect(shape(forB)).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      expect(leaks(forB.body, B)).toEqual([]);
      const listA = await call(gw.url, '/v1/credentials?limit=200', { headers: aHeaders('session') });
      expect(listA.body).not.toContain(name);
      // A could neither use nor spend it: B's own callback still connects.
      const connected = await call(gw.url, callbackPath(answer), { headers: hB });
      expect(connected.status).toBe(201);
      const view = connected.json<{ id: string; kind: string; createdBy: string }>();
      expect(view).toMatchObject({ kind: 'oauth2', createdBy: B.company.admin.id });
      // From now on part of what A must never see (the code stands in for its sealed tokens).
      B.credentials.push({ id: view.id, name, secret: answer.code! });
    },
  );
});

describe.each(ID_ROUTES)("%s with B's id", (label, route) => {
  test.each(A_CALLERS.map((k) => [k]))(
    "A's Admin by %s: as if it did not exist, and nothing of B's changes",
    async (kind) => {
      const t = targetsFor(route);
      const send = (id: string) =>
        // Other parameters (a flow's `:version`) name B's first one, so only the id differs.
        call(gw.url, route.path.replace(/:\w+/, id).replace(':version', '1'), {
          method: route.method,
          headers: aHeaders(kind),
          ...(BODIES[label] !== undefined ? { body: BODIES[label] } : {}),
        });
      const [forB, forNone] = [await send(t.b()), await send(t.none)];
      const shape = (r: Res) => ({ status: r.status, code: errorOf(r).code });
      // No existence oracle: B's object and no object at all are indistinguishable.
      expect(shape(forB)).toEqual(shape(forNone));
      expect(errorOf(forB).message).toBe(errorOf(forNone).message);
      if (forB.status !== 404) {
        // Only a refusal that does not depend on the id at all (an API key never manages keys).
        expect({ kind, route: label, ...shape(forB) }).toEqual({
          kind: 'api key',
          route: label,
          status: 403,
          code: 'FORBIDDEN',
        });
        expect(route.path.startsWith('/v1/api-keys/')).toBe(true);
      } else {
        expect(errorOf(forB).code).toBe('NOT_FOUND');
      }
      expect(leaks(forB.body, B)).toEqual([]);
      expect(JSON.stringify(forB.headers)).not.toContain(t.b());
    },
  );
});

describe("B's objects after A's attempts", () => {
  it('are all still there, unchanged', async () => {
    const h = headersOf(B, B.admin.headers);
    const viewer = await call(gw.url, `/v1/users/${B.viewer.id}`, { headers: h });
    expect(viewer.status).toBe(200);
    expect(viewer.json()).toMatchObject({ id: B.viewer.id, role: 'viewer' });
    const grants = await call(gw.url, '/v1/grants?limit=100', { headers: h });
    expect(
      grants
        .json<{ items: Array<{ id: string }> }>()
        .items.map((g) => g.id)
        .sort(),
    ).toEqual([...B.grantIds].sort());
    const keysList = await call(gw.url, '/v1/api-keys?limit=100', { headers: h });
    const statuses = keysList.json<{ items: Array<{ id: string; status: string }> }>().items;
    for (const id of B.keyIds) expect(statuses.find((k) => k.id === id)?.status).toBe('active');
    // A tried to rotate and revoke B's credential: still active, still its first version.
    for (const c of B.credentials) {
      const r = await call(gw.url, `/v1/credentials/${c.id}`, { headers: h });
      expect(r.status).toBe(200);
      expect(r.json()).toMatchObject({ id: c.id, status: 'active', version: 1 });
    }
    // A tried to save, publish, run and cancel B's: one version, published; B's run and no other.
    const f = await call(gw.url, `/v1/flows/${B.flows[0]!.id}`, { headers: h });
    expect(f.json()).toMatchObject({ latestVersion: 1, publishedVersion: 1, status: 'published' });
    const runs = await call(gw.url, `/v1/executions?flowId=${B.flows[0]!.id}`, { headers: h });
    expect(runs.json<{ items: Array<{ id: string; status: string }> }>().items.map((e) => e.id)).toEqual(B.executions);
    expect(runs.json<{ items: Array<{ status: string }> }>().items[0]!.status).not.toBe('cancelled');
  });
});

describe('allowlists are per company', () => {
  it("A's Admin from B's network is refused by A's allowlist; B from the same address is let in", async () => {
    const fromB = { 'x-forwarded-for': B.ip };
    const a = await call(gw.url, '/v1/me', { headers: { ...A.admin.headers, ...fromB } });
    expect({ status: a.status, code: errorOf(a).code }).toEqual({ status: 403, code: 'IP_NOT_ALLOWED' });
    expect(leaks(a.body, B)).toEqual([]);
    const b = await call(gw.url, '/v1/me', { headers: { ...B.admin.headers, ...fromB } });
    expect(b.status).toBe(200);
  });
});

describe("B's ids inside A's request bodies and queries", () => {
  it.each(A_CALLERS.map((k) => [k]))(
    'a grant naming B’s user, key or partition is 404 and is not created (%s)',
    async (kind) => {
      const attempts = [
        { principal: { type: 'user', id: B.viewer.id }, resource: { type: 'partition', id: A.partition.id } },
        { principal: { type: 'api_key', id: B.keyIds[0] }, resource: { type: 'flow', id: `flw_${randomId()}` } },
        { principal: { type: 'user', id: A.viewer.id }, resource: { type: 'partition', id: B.partition.id } },
      ];
      for (const a of attempts) {
        const r = await call(gw.url, '/v1/grants', {
          method: 'POST',
          headers: aHeaders(kind),
          body: { ...a, actions: ['read'] },
        });
        expect({ attempt: a, status: r.status, code: errorOf(r).code }).toEqual({
          attempt: a,
          status: 404,
          code: 'NOT_FOUND',
        });
        expect(leaks(r.body, B)).toEqual([]);
      }
      for (const w of [A, B]) {
        const r = await call(gw.url, '/v1/grants?limit=100', { headers: headersOf(w, w.admin.headers) });
        expect(r.json<{ items: unknown[] }>().items).toHaveLength(w.grantIds.length);
      }
    },
  );
});

/** Every list and audit read of A, with filters that name B's objects. */
const LIST_PATHS = [
  '/v1/me',
  '/v1/users?limit=100',
  '/v1/grants?limit=100',
  () => `/v1/grants?principalId=${B.executor.id}`,
  () => `/v1/grants?resourceId=${B.partition.id}`,
  '/v1/partitions?limit=100',
  '/v1/api-keys?limit=100',
  '/v1/settings/ip-allowlist',
  '/v1/credentials?limit=200',
  '/v1/keys',
  '/v1/flows?limit=200',
  '/v1/executions?limit=200',
  () => `/v1/executions?flowId=${B.flows[0]!.id}`,
  '/v1/audit/events?limit=500',
  () => `/v1/audit/events?actorId=${B.company.admin.id}`,
  () => `/v1/audit/events?resourceId=${B.company.tenantId}`,
  () => `/v1/audit/events?resourceType=tenant&type=identity.tenant.created`,
  '/v1/audit/export?format=ndjson',
  '/v1/audit/export?format=csv',
  '/v1/audit/verify',
  '/v1/audit/checkpoints',
];

describe("A's lists and audit reads", () => {
  // Each GET list route of the table is read here at least once.
  it('cover every list route of the table', () => {
    const read = new Set(LIST_PATHS.map((p) => (typeof p === 'string' ? p : '/v1/x?').split('?')[0]));
    // The OAuth2 callback is a GET without an id but no list: it is swept above, with B's state.
    const lists = ROUTES.filter(
      (r) => r.method === 'GET' && !r.path.includes(':') && r.path !== '/v1/credentials/oauth/callback',
    ).map((r) => r.path);
    expect(lists.filter((p) => !read.has(p))).toEqual([]);
  });

  // Reads that name B's ids in a filter go last: A's own ledger records A's query with its filters
  // (A typed those ids itself), and that record must not be mistaken for a leak by a later read.
  const labelled = LIST_PATHS.map((p, i) => [typeof p === 'string' ? p : `filter #${i} naming B`, p] as const);
  const cases = [
    ...labelled.filter(([, p]) => typeof p === 'string'),
    ...labelled.filter(([, p]) => typeof p !== 'string'),
  ].flatMap(([label, p]) => A_CALLERS.map((kind) => [kind, label, p] as const));
  test.each(cases)('%s: %s holds nothing of B', async (kind, _label, p) => {
    const path = typeof p === 'string' ? p : p();
    const isKeyList = path.startsWith('/v1/api-keys');
    const r = await call(gw.url, path, { headers: aHeaders(kind) });
    // An API key never manages keys (403 for every company alike); everything else answers.
    expect(r.status).toBe(isKeyList && kind === 'api key' ? 403 : 200);
    expect(leaks(r.body, B)).toEqual([]);
    // Not even A's own secrets: a credential's secret is accepted on create and never returned.
    expect(A.credentials.filter((c) => expand(r.body).includes(c.secret)).map((c) => c.id)).toEqual([]);
    if (r.status === 200 && typeof p === 'string' && path !== '/v1/me') {
      // …and it is not empty-handed: A's own data is there, so the search above searched something.
      const own = path.startsWith('/v1/settings')
        ? A.cidr
        : path.startsWith('/v1/audit/verify')
          ? '"ok":true'
          : path.startsWith('/v1/audit/checkpoints')
            ? '"headHash"'
            : path.startsWith('/v1/audit')
              ? A.company.tenantId
              : path.startsWith('/v1/credentials')
                ? A.credentials[0]!.id
                : path.startsWith('/v1/flows')
                  ? A.flows[0]!.id
                  : path.startsWith('/v1/executions')
                    ? A.executions[0]!
                    : path.startsWith('/v1/keys')
                      ? A.dataKeyIds[0]!
                      : path.startsWith('/v1/partitions')
                        ? A.partition.id
                        : path.startsWith('/v1/grants')
                          ? A.grantIds[0]!
                          : path.startsWith('/v1/api-keys')
                            ? A.keyIds[0]!
                            : A.viewer.id;
      expect(r.body).toContain(own);
    }
  });

  it("A's export verifies as A's chain only: every line is A's", async () => {
    const r = await call(gw.url, '/v1/audit/export?format=ndjson', { headers: aHeaders('session') });
    const lines = r.body
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => l.kind === 'checkpoint').length).toBeGreaterThan(0);
    for (const l of lines) {
      const tenant = l.kind === 'entry' ? (l.entry as { tenantId?: unknown } | null)?.tenantId : l.tenantId;
      expect({ kind: l.kind, tenant }).toEqual({ kind: l.kind, tenant: A.company.tenantId });
    }
  });
});
