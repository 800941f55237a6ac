// Login, sessions, user changes, grants, partitions and allowlists through the real stack:
// HTTPS with client certificates, identity tokens minted as the gateway would, Postgres with
// row-level security, the outbox, and Redis. The service's clock is injected, so lockouts and
// session expiry are tested by moving it, not by waiting.
import { randomBytes } from 'node:crypto';
import { createIdentitySigner, type InternalPrincipal } from '@flow8/http';
import { createRedis } from '@flow8/runtime';
import { httpsRequest, stackEnv, type HttpsResponse } from '@flow8/testkit';
import { LOGIN_REFUSED } from '../src/features/sessions/sessions.service';
import { startAuth, type Principal } from './harness';

type Auth = Awaited<ReturnType<typeof startAuth>>;
type Role = 'admin' | 'flow_designer' | 'executor' | 'viewer';
interface Company {
  tenantId: string;
  slug: string;
  adminId: string;
  adminEmail: string;
  adminPassword: string;
}
interface Login {
  sessionToken: string;
  csrfToken: string;
  expiresAt: string;
  user: { id: string; email: string; role: Role; tenantId: string };
}
interface Event {
  type: string;
  tenantId: string;
  actor: { type: string; id: string; ip?: string | null };
  resource: { type: string; id: string };
  payload: Record<string, unknown>;
}

const MINUTE = 60_000;
const CLIENT_IP = '198.51.100.23';
const tag = randomBytes(4).toString('hex');
const pw = (label: string) => `${label}-violet-tractor-${tag}`;

let auth: Auth;
const redis = createRedis({ url: stackEnv().redisUrl, caFile: stackEnv().caFile, name: 'auth-test' });

beforeAll(async () => {
  auth = await startAuth();
});

afterAll(async () => {
  redis.disconnect();
  await auth?.stop();
  await auth?.db.drop();
});

async function newCompany(label: string): Promise<Company> {
  const slug = `${label}-${randomBytes(3).toString('hex')}`;
  const adminEmail = `boss@${slug}.test`;
  const adminPassword = pw(`${label}-chief`);
  const res = await httpsRequest(`${auth.url}/v1/tenants`, {
    method: 'POST',
    as: 'operator',
    body: { name: `${label} LLP`, slug, admin: { email: adminEmail, password: adminPassword } },
  });
  expect(res.status).toBe(201);
  const body = res.json<{ tenant: { id: string }; admin: { id: string } }>();
  return { tenantId: body.tenant.id, slug, adminId: body.admin.id, adminEmail, adminPassword };
}

const admin = (c: Company): Principal => ({ tenantId: c.tenantId, id: c.adminId, role: 'admin', ip: '203.0.113.50' });

async function addUser(
  c: Company,
  role: Role,
  label: string = role,
): Promise<{ id: string; email: string; password: string }> {
  const email = `${label}-${randomBytes(2).toString('hex')}@${c.slug}.test`;
  const password = pw(label);
  const res = await auth.call('POST', '/v1/users', { principal: admin(c), body: { email, password, role } });
  expect(res.status).toBe(201);
  return { id: res.json<{ id: string }>().id, email, password };
}

function login(body: { tenant: string; email: string; password: string }): Promise<HttpsResponse> {
  return auth.call('POST', '/v1/auth/login', { body, headers: { 'x-flow8-client-ip': CLIENT_IP } });
}

async function loginOk(c: Company, email: string, password: string): Promise<Login> {
  const res = await login({ tenant: c.slug, email, password });
  expect(res.status).toBe(200);
  return res.json<Login>();
}

function resolve(sessionToken: string, csrfToken?: string): Promise<HttpsResponse> {
  return auth.call('POST', '/internal/v1/sessions/resolve', { body: { sessionToken, csrfToken } });
}

/** The principal the gateway would forward for a resolved session. */
async function sessionPrincipal(s: Login): Promise<Principal> {
  const res = await resolve(s.sessionToken);
  expect(res.status).toBe(200);
  const p = res.json<{ principal: Principal }>().principal;
  return { ...p, ip: CLIENT_IP };
}

async function outboxMark(): Promise<number> {
  const { rows } = await auth.db.admin.query<{ n: string | null }>('SELECT max(id)::text AS n FROM outbox');
  return Number(rows[0]!.n ?? 0);
}

async function eventsSince(mark: number): Promise<Event[]> {
  const { rows } = await auth.db.admin.query<{ value: Buffer }>('SELECT value FROM outbox WHERE id > $1 ORDER BY id', [
    mark,
  ]);
  return rows.map((r) => JSON.parse(r.value.toString('utf8')) as Event);
}

describe('login', () => {
  let c: Company;
  let user: { id: string; email: string; password: string };

  beforeAll(async () => {
    c = await newCompany('login');
    user = await addUser(c, 'executor');
  });

  test('the right password opens a session: tokens, expiry in 1 h, the user, and a login.succeeded event', async () => {
    const mark = await outboxMark();
    const s = await loginOk(c, user.email.toUpperCase(), user.password);
    expect(s.sessionToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.csrfToken).not.toBe(s.sessionToken);
    expect(new Date(s.expiresAt).getTime() - auth.clock.now().getTime()).toBe(60 * MINUTE);
    expect(s.user).toEqual({ id: user.id, email: user.email, role: 'executor', tenantId: c.tenantId });

    // Only hashes are stored.
    const { rows } = await auth.db.admin.query<{ token_hash: Buffer; csrf_hash: Buffer }>(
      'SELECT token_hash, csrf_hash FROM sessions WHERE user_id = $1',
      [user.id],
    );
    const dump = JSON.stringify(rows.map((r) => [r.token_hash.toString('base64url'), r.csrf_hash.toString('hex')]));
    expect(dump).not.toContain(s.sessionToken);
    expect(dump).not.toContain(s.csrfToken);

    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.login.succeeded',
      tenantId: c.tenantId,
      actor: { type: 'user', id: user.id, ip: CLIENT_IP },
      resource: { type: 'session', id: expect.stringMatching(/^ses_/) },
      payload: { userId: user.id, expiresAt: s.expiresAt },
    });
    expect(JSON.stringify(events)).not.toContain(user.email);
  });

  test('unknown company, unknown address and wrong password get the same 401 and message', async () => {
    const mark = await outboxMark();
    const answers = await Promise.all([
      login({ tenant: `nope-${tag}`, email: user.email, password: user.password }),
      login({ tenant: c.slug, email: `ghost@${c.slug}.test`, password: user.password }),
      login({ tenant: c.slug, email: user.email, password: `${user.password}x` }),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({
        code: 'UNAUTHENTICATED',
        message: LOGIN_REFUSED,
      });
    }
    const events = await eventsSince(mark);
    // No event for the unknown company (there is no tenant to file it under).
    expect(events.map((e) => [e.type, e.payload.reason]).sort()).toEqual([
      ['identity.login.failed', 'bad_password'],
      ['identity.login.failed', 'unknown_user'],
    ]);
    const unknown = events.find((e) => e.payload.reason === 'unknown_user')!;
    expect(unknown.actor).toEqual({ type: 'system', id: 'anonymous', ip: CLIENT_IP });
    expect(unknown.payload.userId).toBeNull();
    const bad = events.find((e) => e.payload.reason === 'bad_password')!;
    expect(bad.actor).toEqual({ type: 'user', id: user.id, ip: CLIENT_IP });
    const text = JSON.stringify(events);
    expect(text).not.toContain('ghost@');
    expect(text).not.toContain(user.password);
  });

  test('login is for the gateway certificate only, and needs no identity token', async () => {
    const body = { tenant: c.slug, email: user.email, password: user.password };
    const asOperator = await auth.call('POST', '/v1/auth/login', { body, cert: 'operator' });
    expect(asOperator.status).toBe(403);
    await expect(auth.call('POST', '/v1/auth/login', { body, cert: null })).rejects.toThrow();
    const asAuthCert = await auth.call('POST', '/internal/v1/sessions/resolve', {
      body: { sessionToken: 'x' },
      cert: 'auth',
    });
    expect(asAuthCert.status).toBe(403);
  });
});

describe('lockout', () => {
  test('5 wrong passwords in 15 min lock the account for 15 min, even against the right password; then it opens and the count restarts', async () => {
    const c = await newCompany('lockout');
    const u = await addUser(c, 'viewer');
    const wrong = { tenant: c.slug, email: u.email, password: `${u.password}-wrong` };
    const right = { tenant: c.slug, email: u.email, password: u.password };

    // Four failures, then a success, reset the count: four more failures do not lock.
    for (let i = 0; i < 4; i += 1) expect((await login(wrong)).status).toBe(401);
    expect((await login(right)).status).toBe(200);
    for (let i = 0; i < 4; i += 1) expect((await login(wrong)).status).toBe(401);
    expect((await login(right)).status).toBe(200);

    const mark = await outboxMark();
    for (let i = 0; i < 5; i += 1) expect((await login(wrong)).status).toBe(401);
    const locked = await login(right);
    expect(locked.status).toBe(401);
    expect(locked.json<{ error: { message: string } }>().error.message).toBe(LOGIN_REFUSED);
    const events = await eventsSince(mark);
    expect(events.map((e) => e.payload.reason)).toEqual([
      'bad_password',
      'bad_password',
      'bad_password',
      'bad_password',
      'bad_password',
      'locked',
    ]);
    expect(events[4]!.payload.lockedUntil).toEqual(expect.any(String));
    expect(events.slice(0, 4).every((e) => e.payload.lockedUntil === null)).toBe(true);

    auth.clock.advance(14 * MINUTE);
    expect((await login(right)).status).toBe(401);
    auth.clock.advance(1 * MINUTE + 1000);
    expect((await login(right)).status).toBe(200);
  });

  test('failures spread over more than 15 min do not lock', async () => {
    const c = await newCompany('spread');
    const u = await addUser(c, 'viewer');
    const wrong = { tenant: c.slug, email: u.email, password: `${u.password}-wrong` };
    for (let i = 0; i < 4; i += 1) expect((await login(wrong)).status).toBe(401);
    auth.clock.advance(16 * MINUTE);
    for (let i = 0; i < 4; i += 1) expect((await login(wrong)).status).toBe(401);
    expect((await login({ ...wrong, password: u.password })).status).toBe(200);
  });

  test('a burst of parallel guesses cannot get more than 5 past the lock', async () => {
    const c = await newCompany('burst');
    const u = await addUser(c, 'viewer');
    const mark = await outboxMark();
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login({ tenant: c.slug, email: u.email, password: `${u.password}-${i}` })),
    );
    expect(guesses.every((r) => r.status === 401)).toBe(true);
    const reasons = (await eventsSince(mark)).map((e) => e.payload.reason);
    expect(reasons.filter((r) => r === 'bad_password').length).toBeLessThanOrEqual(5);
    expect((await login({ tenant: c.slug, email: u.email, password: u.password })).status).toBe(401);
  });
});

describe('sessions', () => {
  let c: Company;
  let u: { id: string; email: string; password: string };

  beforeAll(async () => {
    c = await newCompany('sessions');
    u = await addUser(c, 'flow_designer');
  });

  test('resolve returns the principal; the CSRF flag is true only for the session’s own token', async () => {
    const s = await loginOk(c, u.email, u.password);
    const other = await loginOk(c, u.email, u.password);
    const good = await resolve(s.sessionToken, s.csrfToken);
    expect(good.status).toBe(200);
    expect(good.json()).toEqual({
      principal: {
        tenantId: c.tenantId,
        type: 'user',
        id: u.id,
        role: 'flow_designer',
        sessionId: expect.stringMatching(/^ses_/),
      },
      csrfValid: true,
    });
    expect((await resolve(s.sessionToken)).json<{ csrfValid: boolean }>().csrfValid).toBe(false);
    expect((await resolve(s.sessionToken, 'x'.repeat(43))).json<{ csrfValid: boolean }>().csrfValid).toBe(false);
    // Another session's CSRF token does not fit this one.
    expect((await resolve(s.sessionToken, other.csrfToken)).json<{ csrfValid: boolean }>().csrfValid).toBe(false);
  });

  test('session fixation: a token login did not issue is 401, and every login issues a new token', async () => {
    expect((await resolve(randomBytes(32).toString('base64url'))).status).toBe(401);
    const a = await loginOk(c, u.email, u.password);
    const b = await loginOk(c, u.email, u.password);
    expect(a.sessionToken).not.toBe(b.sessionToken);
    expect(a.csrfToken).not.toBe(b.csrfToken);
    // The CSRF token is not a session token.
    expect((await resolve(a.csrfToken)).status).toBe(401);
  });

  test('a session ends 1 h after login (absolute)', async () => {
    const s = await loginOk(c, u.email, u.password);
    auth.clock.advance(59 * MINUTE);
    expect((await resolve(s.sessionToken)).status).toBe(200);
    auth.clock.advance(1 * MINUTE);
    const res = await resolve(s.sessionToken);
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  test('logout ends the session server-side, with one session.ended event', async () => {
    const s = await loginOk(c, u.email, u.password);
    const keep = await loginOk(c, u.email, u.password);
    const p = await sessionPrincipal(s);
    const mark = await outboxMark();
    const res = await auth.call('POST', '/v1/auth/logout', { principal: p });
    expect(res.status).toBe(204);
    expect((await resolve(s.sessionToken)).status).toBe(401);
    expect((await resolve(keep.sessionToken)).status).toBe(200); // other devices stay signed in
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.session.ended',
      actor: { type: 'user', id: u.id, ip: CLIENT_IP },
      resource: { type: 'session', id: p.sessionId },
      payload: { userId: u.id, sessionId: p.sessionId, reason: 'logout' },
    });
  });

  test('an API key cannot log out (it has no session)', async () => {
    const res = await auth.call('POST', '/v1/auth/logout', {
      principal: { tenantId: c.tenantId, type: 'api_key', id: `key_${'0'.repeat(26)}`, role: 'admin' },
    });
    expect(res.status).toBe(403);
  });

  test('changing the password ends every session of the user and needs the current password', async () => {
    const v = await addUser(c, 'viewer', 'changer');
    const s1 = await loginOk(c, v.email, v.password);
    const s2 = await loginOk(c, v.email, v.password);
    const p = await sessionPrincipal(s1);
    const newPassword = pw('brand-new');

    const wrong = await auth.call('POST', '/v1/me/password', {
      principal: p,
      body: { currentPassword: `${v.password}-no`, newPassword },
    });
    expect(wrong.status).toBe(403);
    const weak = await auth.call('POST', '/v1/me/password', {
      principal: p,
      body: { currentPassword: v.password, newPassword: 'Password1234' },
    });
    expect(weak.status).toBe(400);
    expect(weak.body).not.toContain('Password1234');
    expect((await resolve(s2.sessionToken)).status).toBe(200);

    const mark = await outboxMark();
    const ok = await auth.call('POST', '/v1/me/password', {
      principal: p,
      body: { currentPassword: v.password, newPassword },
    });
    expect(ok.status).toBe(204);
    expect((await resolve(s1.sessionToken)).status).toBe(401);
    expect((await resolve(s2.sessionToken)).status).toBe(401);
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.user.password_changed',
      actor: { type: 'user', id: v.id },
      resource: { type: 'user', id: v.id },
      payload: { userId: v.id, sessionsEnded: 2 },
    });
    expect(JSON.stringify(events)).not.toContain(newPassword);
    expect((await login({ tenant: c.slug, email: v.email, password: v.password })).status).toBe(401);
    expect((await login({ tenant: c.slug, email: v.email, password: newPassword })).status).toBe(200);
  });

  test('GET /v1/me shows the user, the company, the role and the permissions from the one matrix', async () => {
    const s = await loginOk(c, u.email, u.password);
    const res = await auth.call('GET', '/v1/me', { principal: await sessionPrincipal(s) });
    expect(res.status).toBe(200);
    const me = res.json<{ permissions: string[] } & Record<string, unknown>>();
    expect(me).toMatchObject({
      type: 'user',
      user: { id: u.id, email: u.email, role: 'flow_designer' },
      apiKey: null,
      tenant: { id: c.tenantId, slug: c.slug },
      role: 'flow_designer',
    });
    expect(me.permissions).toEqual(expect.arrayContaining(['flows:write', 'credentials:write']));
    expect(me.permissions).not.toContain('users:read');
  });
});

describe('internal identity', () => {
  let c: Company;
  beforeAll(async () => {
    c = await newCompany('ident');
  });

  const sign = (seed: Uint8Array, p: Partial<InternalPrincipal>, audience = 'auth', now?: () => number) =>
    createIdentitySigner({ seed, now }).sign(
      { tenantId: c.tenantId, type: 'user', id: c.adminId, role: 'admin', scopes: [], ip: null, sessionId: null, ...p },
      audience,
    );

  test('a valid token works (control)', async () => {
    const res = await auth.call('GET', '/v1/users', { headers: { 'x-flow8-identity': sign(auth.seed, {}) } });
    expect(res.status).toBe(200);
  });

  test.each([
    ['no token at all', () => ({})],
    ['a token signed by another key', () => ({ 'x-flow8-identity': sign(randomBytes(32), {}) })],
    ['an expired token', () => ({ 'x-flow8-identity': sign(auth.seed, {}, 'auth', () => Date.now() - 5 * MINUTE) })],
    ['a token for another service', () => ({ 'x-flow8-identity': sign(auth.seed, {}, 'audit-ingest') })],
    [
      'a token whose claims were edited',
      () => {
        const [h, p, s] = sign(auth.seed, { role: 'viewer' }).split('.');
        const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
        const edited = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url');
        return { 'x-flow8-identity': `${h}.${edited}.${s}` };
      },
    ],
  ])('%s is 401 and changes nothing', async (_label, headers) => {
    const mark = await outboxMark();
    for (const [method, path, body] of [
      ['GET', '/v1/users', undefined],
      ['POST', '/v1/partitions', { name: `p-${tag}` }],
      ['PUT', '/v1/settings/ip-allowlist', { cidrs: ['10.0.0.0/8'] }],
      ['GET', '/v1/me', undefined],
    ] as const) {
      const res = await auth.call(method, path, { headers: headers(), body });
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    }
    expect(await eventsSince(mark)).toEqual([]);
  });

  test('a valid token over another certificate than the allowed callers is refused', async () => {
    const res = await auth.call('GET', '/v1/users', {
      cert: 'auth',
      headers: { 'x-flow8-identity': sign(auth.seed, {}) },
    });
    expect(res.status).toBe(403);
  });
});

describe('users: change and removal', () => {
  let c: Company;
  beforeAll(async () => {
    c = await newCompany('people');
  });

  test('a role change is one role_changed event with the old and new role, actor, IP and resource', async () => {
    const u = await addUser(c, 'viewer');
    const mark = await outboxMark();
    const res = await auth.call('PATCH', `/v1/users/${u.id}`, { principal: admin(c), body: { role: 'executor' } });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ id: u.id, role: 'executor' });
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.user.role_changed',
      tenantId: c.tenantId,
      actor: { type: 'user', id: c.adminId, ip: '203.0.113.50' },
      resource: { type: 'user', id: u.id },
      payload: { userId: u.id, oldRole: 'viewer', newRole: 'executor', emailChanged: false },
    });
    // The new role is what the next session resolve reports.
    const s = await loginOk(c, u.email, u.password);
    expect((await resolve(s.sessionToken)).json<{ principal: { role: string } }>().principal.role).toBe('executor');
  });

  test('an e-mail change is one email_changed event without the address; a taken address is 409', async () => {
    const u = await addUser(c, 'viewer');
    const other = await addUser(c, 'viewer');
    const newEmail = `renamed-${tag}@${c.slug}.test`;
    const mark = await outboxMark();
    const res = await auth.call('PATCH', `/v1/users/${u.id}`, { principal: admin(c), body: { email: newEmail } });
    expect(res.status).toBe(200);
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'identity.user.email_changed', payload: { userId: u.id } });
    expect(JSON.stringify(events)).not.toContain(newEmail);
    const taken = await auth.call('PATCH', `/v1/users/${other.id}`, { principal: admin(c), body: { email: newEmail } });
    expect(taken.status).toBe(409);
  });

  test('removal soft-deletes, ends the sessions, refuses later logins, and is one user.removed event', async () => {
    const u = await addUser(c, 'executor');
    const s = await loginOk(c, u.email, u.password);
    const mark = await outboxMark();
    const res = await auth.call('DELETE', `/v1/users/${u.id}`, { principal: admin(c) });
    expect(res.status).toBe(204);
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.user.removed',
      actor: { type: 'user', id: c.adminId, ip: '203.0.113.50' },
      resource: { type: 'user', id: u.id },
      payload: { userId: u.id, role: 'executor', sessionsEnded: 1 },
    });
    expect((await resolve(s.sessionToken)).status).toBe(401);
    expect((await login({ tenant: c.slug, email: u.email, password: u.password })).status).toBe(401);
    expect((await auth.call('GET', `/v1/users/${u.id}`, { principal: admin(c) })).status).toBe(404);
    expect((await auth.call('DELETE', `/v1/users/${u.id}`, { principal: admin(c) })).status).toBe(404);
    const { rows } = await auth.db.admin.query('SELECT deleted_at FROM users WHERE id = $1', [u.id]);
    expect(rows).toHaveLength(1); // still on record for the audit trail
    // The address is free again.
    const again = await auth.call('POST', '/v1/users', {
      principal: admin(c),
      body: { email: u.email, password: pw('again'), role: 'viewer' },
    });
    expect(again.status).toBe(201);
  });

  test('the last Admin can neither demote nor remove themselves (409); with a second Admin they can', async () => {
    const solo = await newCompany('solo');
    const mark = await outboxMark();
    const demote = await auth.call('PATCH', `/v1/users/${solo.adminId}`, {
      principal: admin(solo),
      body: { role: 'viewer' },
    });
    expect(demote.status).toBe(409);
    expect((await auth.call('DELETE', `/v1/users/${solo.adminId}`, { principal: admin(solo) })).status).toBe(409);
    expect(await eventsSince(mark)).toEqual([]);

    const second = await addUser(solo, 'admin', 'second');
    // Two Admins demoting each other at once: one wins, the company keeps an Admin.
    const [a, b] = await Promise.all([
      auth.call('PATCH', `/v1/users/${second.id}`, { principal: admin(solo), body: { role: 'viewer' } }),
      auth.call('PATCH', `/v1/users/${solo.adminId}`, {
        principal: { tenantId: solo.tenantId, id: second.id, role: 'admin' },
        body: { role: 'viewer' },
      }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const { rows } = await auth.db.admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM users WHERE tenant_id = $1 AND role = 'admin' AND deleted_at IS NULL",
      [solo.tenantId],
    );
    expect(rows[0]!.n).toBe(1);
  });

  describe.each(['flow_designer', 'executor', 'viewer'] as const)('role %s', (role) => {
    test('may not change or remove users, nor touch grants, partitions or the allowlist (403)', async () => {
      const target = await addUser(c, 'viewer');
      const p: Principal = { tenantId: c.tenantId, id: `usr_${'1'.repeat(26)}`, role };
      const mark = await outboxMark();
      for (const [method, path, body] of [
        ['PATCH', `/v1/users/${target.id}`, { role: 'admin' }],
        ['DELETE', `/v1/users/${target.id}`, undefined],
        ['GET', '/v1/grants', undefined],
        [
          'POST',
          '/v1/grants',
          {
            principal: { type: 'user', id: target.id },
            resource: { type: 'flow', id: `flw_${'2'.repeat(26)}` },
            actions: ['read'],
          },
        ],
        ['GET', '/v1/partitions', undefined],
        ['POST', '/v1/partitions', { name: 'nope' }],
        ['GET', '/v1/settings/ip-allowlist', undefined],
        ['PUT', '/v1/settings/ip-allowlist', { cidrs: [] }],
      ] as const) {
        const res = await auth.call(method, path, { principal: p, body });
        expect([method, path, res.status]).toEqual([method, path, 403]);
      }
      expect(await eventsSince(mark)).toEqual([]);
    });
  });
});

describe('partitions and grants', () => {
  let a: Company;
  let b: Company;
  let aUser: { id: string };
  let bUser: { id: string };
  let aPartition: string;
  let bPartition: string;
  let bGrant: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([newCompany('grants-a'), newCompany('grants-b')]);
    aUser = await addUser(a, 'executor');
    bUser = await addUser(b, 'executor');
    const pb = await auth.call('POST', '/v1/partitions', { principal: admin(b), body: { name: 'Client B1' } });
    bPartition = pb.json<{ id: string }>().id;
    const gb = await auth.call('POST', '/v1/grants', {
      principal: admin(b),
      body: {
        principal: { type: 'user', id: bUser.id },
        resource: { type: 'partition', id: bPartition },
        actions: ['read'],
      },
    });
    expect(gb.status).toBe(201);
    bGrant = gb.json<{ id: string }>().id;
  });

  test('an Admin creates and lists partitions; one event; a duplicate name is 409', async () => {
    const mark = await outboxMark();
    const res = await auth.call('POST', '/v1/partitions', { principal: admin(a), body: { name: 'Litigation' } });
    expect(res.status).toBe(201);
    aPartition = res.json<{ id: string }>().id;
    expect(aPartition).toMatch(/^prt_[0-9a-z]{26}$/);
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.partition.created',
      actor: { type: 'user', id: a.adminId, ip: '203.0.113.50' },
      resource: { type: 'partition', id: aPartition },
      payload: { partitionId: aPartition, name: 'Litigation' },
    });
    expect(
      (await auth.call('POST', '/v1/partitions', { principal: admin(a), body: { name: 'Litigation' } })).status,
    ).toBe(409);
    const list = await auth.call('GET', '/v1/partitions', { principal: admin(a) });
    expect(list.json<{ items: { id: string }[] }>().items.map((p) => p.id)).toEqual([aPartition]);
  });

  test('grants: give, list, remove — one event each, ids only', async () => {
    const flow = `flw_${'3'.repeat(26)}`;
    let mark = await outboxMark();
    const give = await auth.call('POST', '/v1/grants', {
      principal: admin(a),
      body: {
        principal: { type: 'user', id: aUser.id },
        resource: { type: 'flow', id: flow },
        actions: ['execute', 'read'],
      },
    });
    expect(give.status).toBe(201);
    const grant = give.json<{ id: string; actions: string[] }>();
    expect(grant.id).toMatch(/^grt_/);
    expect(grant.actions).toEqual(['read', 'execute']);
    let events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.grant.given',
      actor: { type: 'user', id: a.adminId, ip: '203.0.113.50' },
      resource: { type: 'grant', id: grant.id },
      payload: {
        grantId: grant.id,
        principal: { type: 'user', id: aUser.id },
        resource: { type: 'flow', id: flow },
        actions: ['read', 'execute'],
      },
    });

    const onPartition = await auth.call('POST', '/v1/grants', {
      principal: admin(a),
      body: {
        principal: { type: 'user', id: aUser.id },
        resource: { type: 'partition', id: aPartition },
        actions: ['read'],
      },
    });
    expect(onPartition.status).toBe(201);
    const dup = await auth.call('POST', '/v1/grants', {
      principal: admin(a),
      body: { principal: { type: 'user', id: aUser.id }, resource: { type: 'flow', id: flow }, actions: ['read'] },
    });
    expect(dup.status).toBe(409);
    const badAction = await auth.call('POST', '/v1/grants', {
      principal: admin(a),
      body: {
        principal: { type: 'user', id: aUser.id },
        resource: { type: 'partition', id: aPartition },
        actions: ['approve'],
      },
    });
    expect(badAction.status).toBe(400);

    const list = await auth.call('GET', `/v1/grants?principalId=${aUser.id}`, { principal: admin(a) });
    expect(list.status).toBe(200);
    expect(list.json<{ items: { id: string }[] }>().items.map((g) => g.id)).toEqual([
      grant.id,
      onPartition.json<{ id: string }>().id,
    ]);

    mark = await outboxMark();
    expect((await auth.call('DELETE', `/v1/grants/${grant.id}`, { principal: admin(a) })).status).toBe(204);
    events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.grant.removed',
      resource: { type: 'grant', id: grant.id },
      payload: { grantId: grant.id, principal: { type: 'user', id: aUser.id }, actions: ['read', 'execute'] },
    });
    expect((await auth.call('DELETE', `/v1/grants/${grant.id}`, { principal: admin(a) })).status).toBe(404);
  });

  test("another company's user, partition and grant ids are 404, exactly like missing ones, and nothing changes", async () => {
    const mark = await outboxMark();
    const missingUser = `usr_${'0'.repeat(26)}`;
    const missingPartition = `prt_${'0'.repeat(26)}`;
    const pairs: [HttpsResponse, HttpsResponse][] = [
      [
        await auth.call('POST', '/v1/grants', {
          principal: admin(a),
          body: {
            principal: { type: 'user', id: bUser.id },
            resource: { type: 'flow', id: `flw_${'4'.repeat(26)}` },
            actions: ['read'],
          },
        }),
        await auth.call('POST', '/v1/grants', {
          principal: admin(a),
          body: {
            principal: { type: 'user', id: missingUser },
            resource: { type: 'flow', id: `flw_${'4'.repeat(26)}` },
            actions: ['read'],
          },
        }),
      ],
      [
        await auth.call('POST', '/v1/grants', {
          principal: admin(a),
          body: {
            principal: { type: 'user', id: aUser.id },
            resource: { type: 'partition', id: bPartition },
            actions: ['read'],
          },
        }),
        await auth.call('POST', '/v1/grants', {
          principal: admin(a),
          body: {
            principal: { type: 'user', id: aUser.id },
            resource: { type: 'partition', id: missingPartition },
            actions: ['read'],
          },
        }),
      ],
      [
        await auth.call('DELETE', `/v1/grants/${bGrant}`, { principal: admin(a) }),
        await auth.call('DELETE', `/v1/grants/grt_${'0'.repeat(26)}`, { principal: admin(a) }),
      ],
      [
        await auth.call('PATCH', `/v1/users/${bUser.id}`, { principal: admin(a), body: { role: 'admin' } }),
        await auth.call('PATCH', `/v1/users/${missingUser}`, { principal: admin(a), body: { role: 'admin' } }),
      ],
      [
        await auth.call('DELETE', `/v1/users/${bUser.id}`, { principal: admin(a) }),
        await auth.call('DELETE', `/v1/users/${missingUser}`, { principal: admin(a) }),
      ],
    ];
    for (const [other, missing] of pairs) {
      expect(other.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(other.json<{ error: { message: string } }>().error.message).toBe(
        missing.json<{ error: { message: string } }>().error.message,
      );
    }
    expect(await eventsSince(mark)).toEqual([]);
    // B's things are untouched, and A's lists never show them.
    const { rows } = await auth.db.admin.query<{ role: string; deleted_at: Date | null }>(
      'SELECT role, deleted_at FROM users WHERE id = $1',
      [bUser.id],
    );
    expect(rows[0]).toEqual({ role: 'executor', deleted_at: null });
    expect((await auth.db.admin.query('SELECT 1 FROM grants WHERE id = $1', [bGrant])).rowCount).toBe(1);
    const aGrants = await auth.call('GET', '/v1/grants', { principal: admin(a) });
    expect(aGrants.body).not.toContain(bGrant);
    expect((await auth.call('GET', '/v1/partitions', { principal: admin(a) })).body).not.toContain(bPartition);
  });

  test('row-level security: the runtime role sees no other company’s sessions, grants, partitions or allowlists', async () => {
    const { rows } = await auth.db.app.query(
      'SELECT 1 FROM grants UNION ALL SELECT 1 FROM partitions UNION ALL SELECT 1 FROM sessions UNION ALL SELECT 1 FROM ip_allowlists',
    );
    expect(rows).toHaveLength(0); // no tenant in context: nothing at all
  });
});

describe('IP allowlist', () => {
  let c: Company;
  beforeAll(async () => {
    c = await newCompany('allow');
  });
  const key = () => `flow8:tenant:${c.tenantId}:allowlist`;

  test('PUT stores, canonicalises, mirrors to Redis and emits one event; empty clears the Redis key', async () => {
    expect((await auth.call('GET', '/v1/settings/ip-allowlist', { principal: admin(c) })).json()).toEqual({
      cidrs: [],
      updatedAt: null,
    });
    const mark = await outboxMark();
    const res = await auth.call('PUT', '/v1/settings/ip-allowlist', {
      principal: admin(c),
      body: { cidrs: ['203.0.113.0/24', '2001:DB8::/32', '2001:db8:0::/32'] },
    });
    expect(res.status).toBe(200);
    expect(res.json<{ cidrs: string[] }>().cidrs).toEqual(['203.0.113.0/24', '2001:db8::/32']);
    expect(JSON.parse((await redis.get(key())) ?? 'null')).toEqual(['203.0.113.0/24', '2001:db8::/32']);
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.allowlist.changed',
      actor: { type: 'user', id: c.adminId, ip: '203.0.113.50' },
      resource: { type: 'ip_allowlist', id: c.tenantId },
      payload: { count: 2, cidrs: ['203.0.113.0/24', '2001:db8::/32'] },
    });
    expect((await auth.call('GET', '/v1/settings/ip-allowlist', { principal: admin(c) })).json()).toMatchObject({
      cidrs: ['203.0.113.0/24', '2001:db8::/32'],
    });

    const cleared = await auth.call('PUT', '/v1/settings/ip-allowlist', { principal: admin(c), body: { cidrs: [] } });
    expect(cleared.status).toBe(200);
    expect(await redis.exists(key())).toBe(0);
  });

  test.each([
    ['host bits set', ['10.0.0.1/8']],
    ['no prefix', ['10.0.0.1']],
    ['not an address', ['intranet/24']],
    ['over 100 entries', Array.from({ length: 101 }, (_, i) => `10.${i}.0.0/16`)],
  ])('%s is a 400 and changes nothing (neither the table nor Redis)', async (_label, cidrs) => {
    await auth.call('PUT', '/v1/settings/ip-allowlist', { principal: admin(c), body: { cidrs: ['192.0.2.0/24'] } });
    const mark = await outboxMark();
    const res = await auth.call('PUT', '/v1/settings/ip-allowlist', { principal: admin(c), body: { cidrs } });
    expect(res.status).toBe(400);
    expect(await eventsSince(mark)).toEqual([]);
    expect(JSON.parse((await redis.get(key())) ?? 'null')).toEqual(['192.0.2.0/24']);
  });

  test('a restart re-mirrors every company, so a Redis that lost its data heals', async () => {
    await auth.call('PUT', '/v1/settings/ip-allowlist', { principal: admin(c), body: { cidrs: ['198.51.100.0/24'] } });
    await redis.del(key());
    // A stale key of a company with no list is removed too.
    const other = await newCompany('allow-stale');
    await redis.set(`flow8:tenant:${other.tenantId}:allowlist`, JSON.stringify(['0.0.0.0/0']));
    const second = await startAuth({ db: auth.db });
    try {
      expect(JSON.parse((await redis.get(key())) ?? 'null')).toEqual(['198.51.100.0/24']);
      expect(await redis.exists(`flow8:tenant:${other.tenantId}:allowlist`)).toBe(0);
    } finally {
      await second.stop();
    }
  });
});
