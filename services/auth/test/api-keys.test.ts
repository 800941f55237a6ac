// API keys end to end through the real stack: HTTPS with client certificates and the gateway's
// identity token, Postgres with row-level security, Redis over TLS, the outbox and Kafka.
import { randomBytes } from 'node:crypto';
import { publicKeysFromJwks, type Jwks } from '@flow8/jwt';
import { eventsTopic, newId } from '@flow8/contracts';
import { createRedis, type Redis } from '@flow8/runtime';
import { eventually, httpsRequest, readTopic, stackEnv, testIdentityKey, testKafka } from '@flow8/testkit';
import { verifyApiKeyToken } from '../src/features/api-keys/verify';
import { startAuth } from './harness';

type Auth = Awaited<ReturnType<typeof startAuth>>;
type Role = 'admin' | 'flow_designer' | 'executor' | 'viewer';
interface KeyView {
  id: string;
  name: string;
  ownerId: string;
  role: Role;
  scopes: string[];
  cidrs: string[];
  kid: string;
  status: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  rotatedFrom: string | null;
  token?: string;
}
interface Company {
  tenantId: string;
  users: Record<Role, string>;
}

const identity = testIdentityKey();
const seedOld = randomBytes(32).toString('base64');
const seedNew = randomBytes(32).toString('base64');
const env = stackEnv();
const baseOverrides = {
  REDIS_URL: env.redisUrl,
  INTERNAL_IDENTITY_PUBLIC_KEYS: identity.publicKeyBase64,
  AUTH_API_KEY_SIGNING_KEYS: seedOld,
};
/** Every token the suite sees: none may appear in the outbox, on Kafka or in a log. */
const issuedTokens: string[] = [];
const instances: Auth[] = [];

let auth: Auth;
let redis: Redis;
let a: Company;
let b: Company;

async function start(overrides: Record<string, string> = {}): Promise<Auth> {
  const svc = await startAuth({
    ...(auth ? { db: auth.db, prefix: auth.prefix } : {}),
    overrides: { ...baseOverrides, ...overrides },
  });
  instances.push(svc);
  return svc;
}

/** Users are written directly: this suite is about keys, not about how users are created. */
async function company(label: string): Promise<Company> {
  const tenantId = newId('ten');
  await auth.db.admin.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3)', [
    tenantId,
    label,
    `${label}-${randomBytes(3).toString('hex')}`,
  ]);
  const users = {} as Record<Role, string>;
  for (const role of ['admin', 'flow_designer', 'executor', 'viewer'] as const) {
    users[role] = newId('usr');
    await auth.db.admin.query(
      'INSERT INTO users (id, tenant_id, email, role, password_hash) VALUES ($1, $2, $3, $4, $5)',
      [users[role], tenantId, `${role}@${label}.test`, role, `$2b$10$${'a'.repeat(53)}`],
    );
  }
  return { tenantId, users };
}

function as(c: Company, role: Role, type: 'user' | 'api_key' = 'user') {
  return identity.header(
    { tenantId: c.tenantId, id: type === 'user' ? c.users[role] : newId('key'), type, role, ip: '203.0.113.9' },
    'auth',
  );
}

async function call(target: Auth, who: Record<string, string>, method: string, path: string, body?: unknown) {
  return httpsRequest(`${target.url}${path}`, { method, as: 'gateway', headers: who, body });
}

async function createKey(c: Company, role: Role, body: Record<string, unknown>, target: Auth = auth): Promise<KeyView> {
  const res = await call(target, as(c, role), 'POST', '/v1/api-keys', body);
  expect(res.status).toBe(201);
  const k = res.json<KeyView>();
  issuedTokens.push(k.token!);
  return k;
}

async function jwks(target: Auth = auth): Promise<Jwks> {
  const res = await httpsRequest(`${target.url}/internal/v1/jwks`, { as: 'gateway' });
  expect(res.status).toBe(200);
  return res.json<Jwks>();
}

async function eventsFor(keyId: string): Promise<{ type: string; payload: Record<string, unknown> }[]> {
  const { rows } = await auth.db.admin.query<{ value: Buffer }>('SELECT value FROM outbox ORDER BY id');
  return rows
    .map(
      (r) =>
        JSON.parse(r.value.toString('utf8')) as {
          type: string;
          resource: { id: string };
          payload: Record<string, unknown>;
        },
    )
    .filter((e) => e.resource.id === keyId || e.payload.previousKeyId === keyId);
}

const jtiOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;
const revokedKey = (jti: string) => `flow8:apikey:revoked:${jti}`;

beforeAll(async () => {
  auth = await start();
  redis = createRedis({ url: env.redisUrl, caFile: env.caFile, name: 'api-keys-test' });
  await new Promise((r) => redis.once('ready', r));
  [a, b] = [await company('keys-a'), await company('keys-b')];
});

afterAll(async () => {
  for (const i of instances.reverse()) await i.stop().catch(() => undefined);
  redis?.disconnect();
  await auth?.db.drop();
});

describe('issuing a key (POST /v1/api-keys)', () => {
  test('the token is shown once, verifies against the JWKS, and is stored nowhere', async () => {
    const k = await createKey(a, 'executor', {
      name: 'CI runner',
      scopes: ['flows:execute', 'flows:read'],
      cidrs: ['203.0.113.0/24', '2001:DB8:0::/32'],
      expiresInDays: 30,
    });
    expect(k).toMatchObject({
      id: expect.stringMatching(/^key_[0-9a-z]{26}$/),
      name: 'CI runner',
      ownerId: a.users.executor,
      role: 'executor',
      status: 'active',
      cidrs: ['203.0.113.0/24', '2001:db8::/32'],
      revokedAt: null,
      rotatedFrom: null,
    });
    const v = verifyApiKeyToken(k.token!, { jwks: await jwks(), expectedIssuer: 'flow8-auth' });
    expect(v).toMatchObject({
      ok: true,
      claims: {
        iss: 'flow8-auth',
        sub: k.id,
        tid: a.tenantId,
        uid: a.users.executor,
        role: 'executor',
        scopes: ['flows:execute', 'flows:read'],
        cidrs: ['203.0.113.0/24', '2001:db8::/32'],
      },
    });
    if (!v.ok) return;
    expect(v.claims.exp - v.claims.iat).toBe(30 * 86_400);
    expect(v.claims.nbf).toBe(v.claims.iat);
    const header = JSON.parse(Buffer.from(k.token!.split('.')[0]!, 'base64url').toString()) as Record<string, string>;
    expect(header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: k.kid });

    // The row holds the jti, never the token or any piece of it.
    const { rows } = await auth.db.admin.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [k.id]);
    expect(rows[0]!.jti).toBe(v.claims.jti);
    const signature = k.token!.split('.')[2]!;
    expect(JSON.stringify(rows)).not.toContain(signature);

    // Listed without the token.
    const list = await call(auth, as(a, 'executor'), 'GET', '/v1/api-keys');
    expect(list.status).toBe(200);
    expect(list.json<{ items: KeyView[] }>().items.map((i) => i.id)).toEqual([k.id]);
    expect(list.body).not.toContain('token');

    const events = await eventsFor(k.id);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'identity.api_key.created',
        payload: {
          keyId: k.id,
          ownerId: a.users.executor,
          scopes: ['flows:execute', 'flows:read'],
          cidrsCount: 2,
          expiresAt: k.expiresAt,
        },
      }),
    ]);
  });

  test('expiry defaults to 90 days', async () => {
    const k = await createKey(a, 'viewer', { name: 'auditor', scopes: ['audit:read'] });
    expect(Date.parse(k.expiresAt) - Date.parse(k.createdAt)).toBe(90 * 86_400_000);
  });

  test.each([
    ['viewer', ['flows:write'], /flows:write/],
    ['executor', ['audit:read', 'flows:read'], /audit:read/],
    ['flow_designer', ['users:write'], /users:write/],
  ] as const)('a %s asking for scopes beyond the role (%j) is refused with 400', async (role, scopes, msg) => {
    const res = await call(auth, as(a, role), 'POST', '/v1/api-keys', { name: 'too much', scopes });
    expect(res.status).toBe(400);
    expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(msg),
    });
    const { rowCount } = await auth.db.admin.query('SELECT 1 FROM api_keys WHERE name = $1', ['too much']);
    expect(rowCount).toBe(0);
  });

  test.each([
    ['an unknown scope', { scopes: ['flows:everything'] }],
    ['a scope that manages keys', { scopes: ['api_keys:write'] }],
    ['no scope', { scopes: [] }],
    ['host bits set', { scopes: ['audit:read'], cidrs: ['10.0.0.1/8'] }],
    ['a bad IPv4', { scopes: ['audit:read'], cidrs: ['300.0.0.0/8'] }],
    ['an IPv6 prefix over 128', { scopes: ['audit:read'], cidrs: ['2001:db8::/129'] }],
    ['a zone id', { scopes: ['audit:read'], cidrs: ['fe80::%eth0/64'] }],
    ['a missing prefix', { scopes: ['audit:read'], cidrs: ['10.0.0.0'] }],
    ['leading zeros', { scopes: ['audit:read'], cidrs: ['010.0.0.0/8'] }],
    ['a lifetime over 365 days', { scopes: ['audit:read'], expiresInDays: 366 }],
    ['a lifetime of 0 days', { scopes: ['audit:read'], expiresInDays: 0 }],
  ])('%s is a 400 and stores nothing', async (_label, body) => {
    const res = await call(auth, as(a, 'admin'), 'POST', '/v1/api-keys', { name: 'refused-input', ...body });
    expect(res.status).toBe(400);
    const { rowCount } = await auth.db.admin.query('SELECT 1 FROM api_keys WHERE name = $1', ['refused-input']);
    expect(rowCount).toBe(0);
  });

  test('an API key cannot mint keys (403), nor can the operator', async () => {
    const res = await call(auth, as(a, 'admin', 'api_key'), 'POST', '/v1/api-keys', {
      name: 'from a key',
      scopes: ['audit:read'],
    });
    expect(res.status).toBe(403);
    const op = await call(
      auth,
      identity.header({ tenantId: null, id: 'operator', type: 'operator' }, 'auth'),
      'POST',
      '/v1/api-keys',
      { name: 'from the operator', scopes: ['audit:read'] },
    );
    expect(op.status).toBe(403);
  });

  test('without a valid gateway identity token the routes refuse (401), JWKS needs only mTLS', async () => {
    expect((await call(auth, {}, 'GET', '/v1/api-keys')).status).toBe(401);
    const forged = testIdentityKey().header({ tenantId: a.tenantId, id: a.users.admin, role: 'admin' }, 'auth');
    expect((await call(auth, forged, 'GET', '/v1/api-keys')).status).toBe(401);
    expect((await httpsRequest(`${auth.url}/internal/v1/jwks`, { as: 'operator' })).status).toBe(403);
    await expect(httpsRequest(`${auth.url}/internal/v1/jwks`, { as: null })).rejects.toThrow();
  });
});

describe('rotation and revocation', () => {
  test('rotate: a new token verifies, the old jti is in Redis at once, one rotated event', async () => {
    const old = await createKey(a, 'flow_designer', { name: 'deployer', scopes: ['flows:write'], expiresInDays: 10 });
    const res = await call(auth, as(a, 'flow_designer'), 'POST', `/v1/api-keys/${old.id}/rotate`);
    expect(res.status).toBe(201);
    const next = res.json<KeyView>();
    issuedTokens.push(next.token!);
    expect(next).toMatchObject({ rotatedFrom: old.id, name: 'deployer', scopes: ['flows:write'], status: 'active' });
    expect(next.id).not.toBe(old.id);
    expect(Date.parse(next.expiresAt) - Date.parse(next.createdAt)).toBe(10 * 86_400_000);

    const keys = await jwks();
    const v = verifyApiKeyToken(next.token!, { jwks: keys });
    expect(v).toMatchObject({ ok: true, claims: { sub: next.id } });
    // The old token is still cryptographically valid — which is exactly why Redis must hold its jti.
    expect(verifyApiKeyToken(old.token!, { jwks: keys }).ok).toBe(true);
    const oldJti = jtiOf(old.token!);
    expect(jtiOf(next.token!)).not.toBe(oldJti);
    expect(await redis.get(revokedKey(oldJti))).toBe('1');
    const ttl = await redis.pttl(revokedKey(oldJti));
    expect(ttl).toBeGreaterThan(9 * 86_400_000);
    expect(ttl).toBeLessThanOrEqual(10 * 86_400_000);
    expect(await redis.get(revokedKey(jtiOf(next.token!)))).toBeNull();

    const { rows } = await auth.db.admin.query<{ revoked_at: Date | null; revocation_pending: boolean }>(
      'SELECT revoked_at, revocation_pending FROM api_keys WHERE id = $1',
      [old.id],
    );
    expect(rows[0]).toMatchObject({ revoked_at: expect.any(Date), revocation_pending: false });
    expect((await eventsFor(old.id)).map((e) => e.type)).toEqual([
      'identity.api_key.created',
      'identity.api_key.rotated',
    ]);
    expect((await eventsFor(next.id)).map((e) => e.type)).toEqual(['identity.api_key.rotated']);

    // A rotated-away key cannot be rotated again (that would resurrect it).
    const again = await call(auth, as(a, 'flow_designer'), 'POST', `/v1/api-keys/${old.id}/rotate`);
    expect(again.status).toBe(409);
  });

  test('revoke: the jti is in Redis immediately after the 204; a second revoke emits nothing', async () => {
    const k = await createKey(a, 'viewer', { name: 'to revoke', scopes: ['flows:read'] });
    const res = await call(auth, as(a, 'viewer'), 'DELETE', `/v1/api-keys/${k.id}`);
    expect(res.status).toBe(204);
    expect(await redis.get(revokedKey(jtiOf(k.token!)))).toBe('1');
    const again = await call(auth, as(a, 'viewer'), 'DELETE', `/v1/api-keys/${k.id}`);
    expect(again.status).toBe(204);
    expect((await eventsFor(k.id)).map((e) => e.type)).toEqual([
      'identity.api_key.created',
      'identity.api_key.revoked',
    ]);
    const list = await call(auth, as(a, 'viewer'), 'GET', '/v1/api-keys');
    expect(list.json<{ items: KeyView[] }>().items.find((i) => i.id === k.id)).toMatchObject({ status: 'revoked' });
  });

  describe.each(['flow_designer', 'executor', 'viewer'] as const)('a %s', (role) => {
    test("cannot see, rotate or revoke another user's key (404, as for a key that does not exist)", async () => {
      const other: Role = role === 'viewer' ? 'executor' : 'viewer';
      const victim = await createKey(a, other, { name: `victim of ${role}`, scopes: ['flows:read'] });
      const list = await call(auth, as(a, role), 'GET', '/v1/api-keys');
      expect(list.json<{ items: KeyView[] }>().items.every((i) => i.ownerId === a.users[role])).toBe(true);
      const missing = `key_${'0'.repeat(26)}`;
      for (const [method, suffix] of [
        ['POST', '/rotate'],
        ['DELETE', ''],
      ] as const) {
        const res = await call(auth, as(a, role), method, `/v1/api-keys/${victim.id}${suffix}`);
        const none = await call(auth, as(a, role), method, `/v1/api-keys/${missing}${suffix}`);
        expect(res.status).toBe(404);
        expect(res.body.replace(/"requestId":"[^"]*"/, '')).toBe(none.body.replace(/"requestId":"[^"]*"/, ''));
      }
      const { rows } = await auth.db.admin.query('SELECT revoked_at FROM api_keys WHERE id = $1', [victim.id]);
      expect(rows[0]).toEqual({ revoked_at: null });
      expect(await redis.get(revokedKey(jtiOf(victim.token!)))).toBeNull();
      expect((await eventsFor(victim.id)).map((e) => e.type)).toEqual(['identity.api_key.created']);
    });
  });

  test("an Admin sees and revokes any key of the company, and rotation keeps the owner's identity", async () => {
    const k = await createKey(a, 'executor', { name: 'managed by admin', scopes: ['flows:execute'] });
    const list = await call(auth, as(a, 'admin'), 'GET', '/v1/api-keys?limit=200');
    expect(list.json<{ items: KeyView[] }>().items.map((i) => i.id)).toContain(k.id);
    const rotated = await call(auth, as(a, 'admin'), 'POST', `/v1/api-keys/${k.id}/rotate`, { expiresInDays: 7 });
    expect(rotated.status).toBe(201);
    const next = rotated.json<KeyView>();
    issuedTokens.push(next.token!);
    const v = verifyApiKeyToken(next.token!, { jwks: await jwks() });
    expect(v).toMatchObject({ ok: true, claims: { uid: a.users.executor, role: 'executor' } });
    expect((await call(auth, as(a, 'admin'), 'DELETE', `/v1/api-keys/${next.id}`)).status).toBe(204);
    expect(await redis.get(revokedKey(jtiOf(next.token!)))).toBe('1');
  });

  test("another company's key is 404 for its Admin, for rotate, revoke and list", async () => {
    const k = await createKey(a, 'admin', { name: 'company A only', scopes: ['audit:read'] });
    for (const [method, suffix] of [
      ['POST', '/rotate'],
      ['DELETE', ''],
    ] as const) {
      expect((await call(auth, as(b, 'admin'), method, `/v1/api-keys/${k.id}${suffix}`)).status).toBe(404);
    }
    const list = await call(auth, as(b, 'admin'), 'GET', '/v1/api-keys?limit=200');
    expect(list.json<{ items: KeyView[] }>().items.map((i) => i.id)).not.toContain(k.id);
    expect(await redis.get(revokedKey(jtiOf(k.token!)))).toBeNull();
  });
});

describe("the owner's keys follow the owner", () => {
  test('removing or demoting a user revokes their keys at every gateway within seconds', async () => {
    const c = await company('keys-owner');
    const removed = await createKey(c, 'executor', { name: 'executor key', scopes: ['flows:execute'] });
    const demoted = await createKey(c, 'flow_designer', { name: 'designer key', scopes: ['flows:write'] });
    expect((await call(auth, as(c, 'admin'), 'DELETE', `/v1/users/${c.users.executor}`)).status).toBe(204);
    const patch = await call(auth, as(c, 'admin'), 'PATCH', `/v1/users/${c.users.flow_designer}`, { role: 'viewer' });
    expect(patch.status).toBe(200);
    for (const k of [removed, demoted]) {
      await eventually(async () => (await redis.get(revokedKey(jtiOf(k.token!)))) === '1', {
        what: `key ${k.id} revoked in Redis`,
        timeoutMs: 20_000,
      });
    }
  });
});

describe('revocation reaches Redis even when Redis fails', () => {
  test('Redis unreachable: 503, the revocation stays pending in Postgres, and the retry loop publishes it', async () => {
    const k = await createKey(a, 'viewer', { name: 'revoked while redis is down', scopes: ['flows:read'] });
    const unreachable = new URL(env.redisUrl);
    unreachable.port = '1';
    const broken = await start({ REDIS_URL: unreachable.toString() });
    const res = await call(broken, as(a, 'viewer'), 'DELETE', `/v1/api-keys/${k.id}`);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    const { rows } = await auth.db.admin.query<{ revoked_at: Date | null; revocation_pending: boolean }>(
      'SELECT revoked_at, revocation_pending FROM api_keys WHERE id = $1',
      [k.id],
    );
    expect(rows[0]).toMatchObject({ revoked_at: expect.any(Date), revocation_pending: true });
    await broken.stop();
    // The healthy instance's loop (every 5 s) takes it from Postgres to Redis and clears the flag.
    await eventually(async () => (await redis.get(revokedKey(jtiOf(k.token!)))) === '1', {
      what: 'the pending revocation in Redis',
      timeoutMs: 20_000,
    });
    await eventually(
      async () =>
        (await auth.db.admin.query('SELECT 1 FROM api_keys WHERE id = $1 AND NOT revocation_pending', [k.id]))
          .rowCount === 1,
      { what: 'the pending flag cleared', timeoutMs: 10_000 },
    );
  });

  test('Redis lost the revoked set: a (re)started auth writes every live revocation back', async () => {
    const k = await createKey(a, 'viewer', { name: 'lost in redis', scopes: ['flows:read'] });
    expect((await call(auth, as(a, 'viewer'), 'DELETE', `/v1/api-keys/${k.id}`)).status).toBe(204);
    const key = revokedKey(jtiOf(k.token!));
    await redis.del(key);
    const restarted = await start();
    expect(await redis.get(key)).toBe('1');
    await restarted.stop();
  });
});

describe('changing the signing key', () => {
  test('with [new, old] the JWKS lists both, old tokens still verify, new keys carry the new kid', async () => {
    const old = await createKey(a, 'admin', { name: 'signed by the old key', scopes: ['audit:read'] });
    const oldJwks = await jwks();
    expect(oldJwks.keys).toHaveLength(1);

    const rotated = await start({ AUTH_API_KEY_SIGNING_KEYS: `${seedNew},${seedOld}` });
    const both = await jwks(rotated);
    expect(both.keys).toHaveLength(2);
    expect(both.keys[1]!.kid).toBe(old.kid);
    expect(verifyApiKeyToken(old.token!, { jwks: both })).toMatchObject({ ok: true, claims: { sub: old.id } });

    const fresh = await createKey(a, 'admin', { name: 'signed by the new key', scopes: ['audit:read'] }, rotated);
    expect(fresh.kid).toBe(both.keys[0]!.kid);
    expect(fresh.kid).not.toBe(old.kid);
    expect(verifyApiKeyToken(fresh.token!, { jwks: both }).ok).toBe(true);
    // A gateway still holding only the old JWKS refuses the new kid (and would refetch).
    expect(verifyApiKeyToken(fresh.token!, { jwks: oldJwks })).toEqual({ ok: false, reason: 'unknown_key' });
    // Dropping the old seed too early invalidates the old keys: keep it until they expire.
    const onlyNew = new Map([...publicKeysFromJwks(both)].slice(0, 1));
    expect(verifyApiKeyToken(old.token!, { publicKeys: onlyNew })).toEqual({ ok: false, reason: 'unknown_key' });
    await rotated.stop();
  });
});

describe('the token never leaks', () => {
  test('no issued token (nor its signature) is in the outbox, on Kafka or in any log', async () => {
    expect(issuedTokens.length).toBeGreaterThanOrEqual(8);
    await eventually(
      async () => (await auth.db.admin.query('SELECT 1 FROM outbox WHERE sent_at IS NULL')).rowCount === 0,
      { what: 'the outbox to drain', timeoutMs: 30_000 },
    );
    const { rows } = await auth.db.admin.query<{ value: Buffer; headers: unknown; event_type: string }>(
      'SELECT value, headers, event_type FROM outbox',
    );
    const outboxText = rows.map((r) => r.value.toString('utf8') + JSON.stringify(r.headers)).join('\n');
    const messages = await readTopic(testKafka(), eventsTopic('identity', auth.prefix), {
      expect: rows.length,
      timeoutMs: 20_000,
    });
    const topicText = messages.map((m) => `${m.value?.toString('utf8') ?? ''}${JSON.stringify(m.headers)}`).join('\n');
    const logText = instances.map((i) => i.logText()).join('\n');
    expect(logText).toContain('request completed');
    for (const token of issuedTokens) {
      const signature = token.split('.')[2]!;
      for (const text of [outboxText, topicText, logText]) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(signature);
      }
    }
    // Each event reached Kafka exactly once.
    const ids = messages
      .map((m) => JSON.parse(m.value?.toString('utf8') ?? '{}') as { id?: string; type?: string })
      .filter((e) => e.type?.startsWith('identity.api_key.'))
      .map((e) => e.id);
    expect(ids.length).toBe(rows.filter((r) => r.event_type.startsWith('identity.api_key.')).length);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
