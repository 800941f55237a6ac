// Hostile input at the public edge, through the real gateway over HTTPS in front of real auth,
// credential-vault and audit-ingest: NUL bytes and bytes that are not UTF-8 in every kind of
// field, a 10,000-deep body, requests Node's HTTP parser refuses; and the contract details the
// edge owns — one rate-limit budget per user, the password route, partition descriptions, the
// OAuth2 start without OAuth2 configured, the session cookie's lifetime.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import {
  bearer,
  call,
  companyWithAdmin,
  createCompany,
  login,
  must,
  randomId,
  randomIpv4,
  resolveBody,
  stackEnv,
  strongPassword,
  type Company,
  type Res,
  type Session,
} from '@flow8/testkit';

import { startGateway, startUpstreams, suiteKeys } from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

const SESSION_TTL_S = 2 * 3600;
const USER_LIMIT = 6;

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let limited: Gw;
let company: Company;
let admin: Session;

const ip = randomIpv4();
const from = { 'x-forwarded-for': ip };
const as = (h: Record<string, string>) => ({ ...h, ...from });
const errorOf = (r: Res) => r.json<{ error: { code: string; message: string; requestId: string } }>().error;

/** A JSON body with `marker` replaced by raw bytes that are not UTF-8 (a lone 0xE9: "café" in Latin-1). */
function latin1Body(body: Record<string, unknown>, marker = '@@'): Buffer {
  const [before = '', after = ''] = JSON.stringify(body).split(marker);
  return Buffer.concat([Buffer.from(before), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from(after)]);
}

async function items<T = Record<string, unknown>>(path: string, headers = admin.headers): Promise<T[]> {
  const r = await call(gw.url, path, { headers: as(headers) });
  expect(r.status).toBe(200);
  return r.json<{ items: T[] }>().items;
}

async function credential(name: string, secret: string): Promise<string> {
  return (
    await must<{ id: string }>(gw.url, '/v1/credentials', {
      method: 'POST',
      headers: as(admin.headers),
      body: { integration: 'slack', name, kind: 'token', scopes: ['chat:write'], secret },
    })
  ).id;
}

beforeAll(async () => {
  // No OAuth2 configured in the vault; auth opens two-hour sessions.
  up = await startUpstreams(keys, { authOverrides: { AUTH_SESSION_TTL: '2h' } });
  const trusted = { GATEWAY_TRUSTED_PROXIES: '127.0.0.1/32,::1/128' };
  [gw, limited] = await Promise.all([
    startGateway(keys, up.urls, trusted),
    // A window of its own (counters are keyed by window length): only this suite's requests count.
    startGateway(keys, up.urls, {
      ...trusted,
      GATEWAY_RATE_LIMIT_USER: String(USER_LIMIT),
      GATEWAY_RATE_LIMIT_IP: '100000',
      GATEWAY_RATE_LIMIT_TENANT: '100000',
      GATEWAY_RATE_LIMIT_WINDOW: '67s',
    }),
  ]);
  ({ company, admin } = await companyWithAdmin(gw.url, keys.operatorToken, { headers: from }));
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([gw?.stop(), limited?.stop()]);
  await up?.stop();
});

describe('a NUL byte in a string field is refused with 400, never a 500', () => {
  it.each([
    [
      'login (unauthenticated), in the company',
      () => ({ path: '/v1/auth/login', headers: {} }),
      () => ({
        tenant: `${company.slug}\u0000`,
        email: company.admin.email,
        password: company.admin.password,
      }),
    ],
    [
      'login, in the password',
      () => ({ path: '/v1/auth/login', headers: {} }),
      () => ({
        tenant: company.slug,
        email: company.admin.email,
        password: 'pass\u0000word',
      }),
    ],
    ['a partition name', () => ({ path: '/v1/partitions', headers: admin.headers }), () => ({ name: 'p\u0000x' })],
    [
      'an API key name',
      () => ({ path: '/v1/api-keys', headers: admin.headers }),
      () => ({
        name: 'k\u0000',
        scopes: ['users:read'],
      }),
    ],
    [
      'a company name (operator)',
      () => ({ path: '/v1/tenants', headers: bearer(keys.operatorToken) }),
      () => ({
        name: 'Evil\u0000 Inc',
        slug: `co-${randomId().slice(0, 10)}`,
        admin: { email: `a-${randomId().slice(0, 6)}@nul.test`, password: strongPassword() },
      }),
    ],
    [
      'a credential name',
      () => ({ path: '/v1/credentials', headers: admin.headers }),
      () => ({
        integration: 'slack',
        name: 'slack\u0000',
        kind: 'token',
        scopes: ['chat:write'],
        secret: 'xoxb-123',
      }),
    ],
  ])('%s', async (_what, target, body) => {
    const t = target();
    const r = await call(gw.url, t.path, { method: 'POST', headers: as(t.headers), body: body() });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(errorOf(r).message).toContain('NUL');
    expect(errorOf(r).requestId).toBe(r.headers['x-request-id']);
  });

  it('an audit query filter', async () => {
    for (const q of ['actorId=usr%00', 'resourceId=a%00b', 'type=identity.user.created%00']) {
      const r = await call(gw.url, `/v1/audit/events?${q}`, { headers: as(admin.headers) });
      expect({ q, status: r.status, code: errorOf(r).code }).toEqual({ q, status: 400, code: 'BAD_REQUEST' });
    }
  });
});

describe('bytes that are not UTF-8 are refused with 400, and nothing is stored rewritten', () => {
  it('a partition name', async () => {
    const r = await call(gw.url, '/v1/partitions', {
      method: 'POST',
      headers: as(admin.headers),
      rawBody: latin1Body({ name: 'p-@@' }),
    });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(errorOf(r).message).toContain('UTF-8');
    const names = (await items<{ name: string }>('/v1/partitions?limit=100')).map((p) => p.name);
    expect(names.filter((n) => n.startsWith('p-caf'))).toEqual([]);
  });

  it('an API key name', async () => {
    const before = (await items('/v1/api-keys?limit=100')).length;
    const r = await call(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: as(admin.headers),
      rawBody: latin1Body({ name: 'key-@@', scopes: ['users:read'] }),
    });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect((await items('/v1/api-keys?limit=100')).length).toBe(before);
  });

  it('a company name: the slug stays free', async () => {
    const slug = `co-${randomId().slice(0, 10)}`;
    const r = await call(gw.url, '/v1/tenants', {
      method: 'POST',
      headers: as(bearer(keys.operatorToken)),
      rawBody: latin1Body({ name: '@@ Ltd', slug, admin: { email: `a@${slug}.test`, password: strongPassword() } }),
    });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    await expect(createCompany(gw.url, keys.operatorToken, { slug, headers: from })).resolves.toMatchObject({ slug });
  });

  it('a credential name', async () => {
    const before = (await items('/v1/credentials?limit=100')).length;
    const r = await call(gw.url, '/v1/credentials', {
      method: 'POST',
      headers: as(admin.headers),
      rawBody: latin1Body({
        integration: 'slack',
        name: '@@',
        kind: 'token',
        scopes: ['chat:write'],
        secret: 'xoxb-1',
      }),
    });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect((await items('/v1/credentials?limit=100')).length).toBe(before);
  });

  it('a rotated secret: refused, no new version sealed, the old secret still resolves', async () => {
    const secret = `xoxb-old-${randomId()}`;
    const id = await credential(`rotate ${randomId().slice(0, 6)}`, secret);
    const r = await call(gw.url, `/v1/credentials/${id}/rotate`, {
      method: 'POST',
      headers: as(admin.headers),
      rawBody: latin1Body({ secret: 'xoxb-@@-new' }),
    });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    const view = await call(gw.url, `/v1/credentials/${id}`, { headers: as(admin.headers) });
    expect(view.json<{ version: number }>().version).toBe(1);
    const versions = await up.vault.db.admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM credential_versions WHERE credential_id = $1',
      [id],
    );
    expect(versions.rows[0]?.n).toBe(1);
    const used = await up.vault.resolve(id, { tenantId: company.tenantId }, resolveBody('chat:write'));
    expect(used.status).toBe(200);
    expect(used.json<{ secret: string }>().secret).toBe(secret);

    // Real non-ASCII text is welcome, byte for byte.
    const unicode = `xoxb-café-東京-${randomId()}`;
    await must(gw.url, `/v1/credentials/${id}/rotate`, {
      method: 'POST',
      headers: as(admin.headers),
      body: { secret: unicode },
      status: 200,
    });
    const after = await up.vault.resolve(id, { tenantId: company.tenantId }, resolveBody('chat:write'));
    expect(after.json<{ secret: string }>().secret).toBe(unicode);
  });
});

describe('deep JSON', () => {
  it('refuses a 10,000-deep body on POST /v1/keys/rotate with 400 (not 503), and the gateway keeps serving', async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const r = await call(gw.url, '/v1/keys/rotate', { method: 'POST', headers: as(admin.headers), rawBody: deep });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    const arrays = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const r2 = await call(gw.url, '/v1/partitions', { method: 'POST', headers: as(admin.headers), rawBody: arrays });
    expect(r2.status).toBe(400);
    expect((await call(gw.url, '/v1/keys', { headers: as(admin.headers) })).status).toBe(200);
    expect((await call(gw.url, '/readyz')).status).toBe(200);
  });
});

/** Bytes over TLS to the gateway; everything it answered before closing. */
function rawTls(base: string, bytes: string): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = tlsConnect(
      { host: u.hostname, port: Number(u.port), ca: readFileSync(stackEnv().caFile), servername: 'localhost' },
      () => s.write(bytes),
    );
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

describe('requests refused by the HTTP parser answer in the error model, with the security headers', () => {
  const check = (text: string, status: number) => {
    const [head = '', body = ''] = text.split('\r\n\r\n');
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expect(Number(statusLine.split(' ')[1])).toBe(status);
    const error = (JSON.parse(body) as { error: { code: string; message: string; requestId: string } }).error;
    expect(error).toMatchObject({ code: 'BAD_REQUEST', message: expect.any(String), requestId: expect.any(String) });
    expect(headers['x-request-id']).toBe(error.requestId);
    expect(headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['content-security-policy']).toContain("default-src 'none'");
  };

  it('oversized headers: 431', async () => {
    check(await rawTls(gw.url, `GET /v1/me HTTP/1.1\r\nHost: localhost\r\nCookie: ${'a'.repeat(40_000)}\r\n\r\n`), 431);
  });

  it('a malformed request line: 400', async () => {
    check(await rawTls(gw.url, 'GET /v1/me HTTP/1.1 extra\r\nHost: localhost\r\n\r\n'), 400);
  });

  it('a bad chunk in a chunked body: 400', async () => {
    check(
      await rawTls(
        gw.url,
        'POST /v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
          'Transfer-Encoding: chunked\r\n\r\n3\r\n{"t\r\nnope\r\n\r\n',
      ),
      400,
    );
  });
});

describe('one rate-limit budget per user', () => {
  it('the user’s keys and sessions share it; another user of the company keeps theirs', async () => {
    const email = `rl-${randomId().slice(0, 8)}@edge.test`;
    const password = strongPassword();
    await must(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email, password, role: 'viewer' },
    });
    const session = await login(gw.url, { tenant: company.slug, email, password }, from);
    const issue = async () =>
      (
        await must<{ token: string }>(gw.url, '/v1/api-keys', {
          method: 'POST',
          headers: as(session.headers),
          body: { name: `rl ${randomId().slice(0, 6)}`, scopes: ['audit:read'] },
        })
      ).token;
    const [keyA, keyB] = [await issue(), await issue()];
    // Each request from its own address: the IP limit is never what binds.
    const me = (h: Record<string, string>) =>
      call(limited.url, '/v1/me', { headers: { ...h, 'x-forwarded-for': randomIpv4() } });

    const statuses: number[] = [];
    for (const h of [bearer(keyA), bearer(keyB), session.headers]) {
      for (let i = 0; i < USER_LIMIT / 3; i += 1) statuses.push((await me(h)).status);
    }
    expect(statuses).toEqual(new Array(USER_LIMIT).fill(200));
    for (const h of [bearer(keyA), bearer(keyB), session.headers]) {
      const r = await me(h);
      expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    // A fresh key of the same user does not start a new budget either.
    expect((await me(bearer(await issue()))).status).toBe(429);
    // The Admin of the same company is another user.
    expect((await me(admin.headers)).status).toBe(200);
  });
});

describe('contract details at the edge', () => {
  it('POST /v1/me/password through the gateway: changes it, ends the sessions, clears the cookie', async () => {
    const email = `pw-${randomId().slice(0, 8)}@edge.test`;
    const password = strongPassword();
    await must(gw.url, '/v1/users', {
      method: 'POST',
      headers: as(admin.headers),
      body: { email, password, role: 'executor' },
    });
    const s = await login(gw.url, { tenant: company.slug, email, password }, from);
    const key = (
      await must<{ token: string }>(gw.url, '/v1/api-keys', {
        method: 'POST',
        headers: as(s.headers),
        body: { name: 'pw', scopes: ['flows:read'] },
      })
    ).token;
    const newPassword = strongPassword();

    const byKey = await call(gw.url, '/v1/me/password', {
      method: 'POST',
      headers: as(bearer(key)),
      body: { currentPassword: password, newPassword },
    });
    expect({ status: byKey.status, code: errorOf(byKey).code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    const wrong = await call(gw.url, '/v1/me/password', {
      method: 'POST',
      headers: as(s.headers),
      body: { currentPassword: `${password}x`, newPassword },
    });
    expect(wrong.status).toBe(403);
    const noCsrf = await call(gw.url, '/v1/me/password', {
      method: 'POST',
      headers: as({ cookie: s.headers.cookie ?? '' }),
      body: { currentPassword: password, newPassword },
    });
    expect(noCsrf.status).toBe(403);

    const ok = await call(gw.url, '/v1/me/password', {
      method: 'POST',
      headers: as(s.headers),
      body: { currentPassword: password, newPassword },
    });
    expect(ok.status).toBe(204);
    expect(String(ok.headers['set-cookie'])).toMatch(/^__Host-flow8_session=;.*Max-Age=0/);
    expect((await call(gw.url, '/v1/me', { headers: as(s.headers) })).status).toBe(401);
    await expect(login(gw.url, { tenant: company.slug, email, password }, from)).rejects.toThrow(/401/);
    await expect(login(gw.url, { tenant: company.slug, email, password: newPassword }, from)).resolves.toMatchObject({
      role: 'executor',
    });
  });

  it('a partition keeps the description the docs offer', async () => {
    const name = `finance ${randomId().slice(0, 6)}`;
    const description = 'Ledgers and invoices — Zoë’s team';
    const created = await must<{ id: string; description: string }>(gw.url, '/v1/partitions', {
      method: 'POST',
      headers: as(admin.headers),
      body: { name, description },
    });
    expect(created.description).toBe(description);
    const listed = (await items<{ id: string; description: string | null }>('/v1/partitions?limit=100')).find(
      (p) => p.id === created.id,
    );
    expect(listed?.description).toBe(description);
    const plain = await must<{ description: string | null }>(gw.url, '/v1/partitions', {
      method: 'POST',
      headers: as(admin.headers),
      body: { name: `${name} 2` },
    });
    expect(plain.description).toBeNull();
  });

  it('the OAuth2 start answers 400 when the vault has no OAuth2 configured (not 404)', async () => {
    const r = await call(gw.url, '/v1/credentials/oauth/salesforce/start', {
      method: 'POST',
      headers: as(admin.headers),
      body: { name: 'sf', scopes: ['records:read'] },
    });
    expect({ status: r.status, code: errorOf(r).code }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    const cb = await call(gw.url, '/v1/credentials/oauth/callback?state=abc&code=def', { headers: as(admin.headers) });
    expect(cb.status).toBe(400);
  });

  it('the session cookie lives as long as the session (AUTH_SESSION_TTL), not a fixed hour', async () => {
    // Auth runs on the suite's manual clock (frozen since it started); the gateway turns expiresAt
    // into Max-Age with the real one: bring auth's clock to the present so the two agree.
    up.auth.clock.advance(Date.now() - up.auth.clock.now().getTime());
    const r = await call(gw.url, '/v1/auth/login', {
      method: 'POST',
      headers: from,
      body: { tenant: company.slug, email: company.admin.email, password: company.admin.password },
    });
    expect(r.status).toBe(200);
    const maxAge = Number(/Max-Age=(\d+)/.exec(String(r.headers['set-cookie']))?.[1]);
    expect(maxAge).toBeGreaterThan(SESSION_TTL_S - 60);
    expect(maxAge).toBeLessThanOrEqual(SESSION_TTL_S);
    const expiresAt = Date.parse(r.json<{ expiresAt: string }>().expiresAt);
    expect(Math.abs(expiresAt - (Date.now() + maxAge * 1000))).toBeLessThan(5_000);
  });
});
