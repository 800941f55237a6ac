// The gateway against the real stack: real auth and audit-ingest in-process, several gateway
// instances sharing the stack's Redis. Every security claim here is attacked, not just used.
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { ROUTES } from '@flow8/api';
import { ed25519PublicKeyOfSeed, keyIdOf } from '@flow8/jwt';
import { createRedis, SECURITY_SYNC_KEY, type Redis } from '@flow8/runtime';
import { bearer, call, eventually, randomId, randomIpv4, stackEnv, type Res } from '@flow8/testkit';
import { mintApiKey, startGateway, startUpstreams, suiteKeys } from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

const keys = suiteKeys();
let up: Up;
let main: Gw; // trusts 127.0.0.1 as a proxy: tests choose the client IP with X-Forwarded-For
let untrusted: Gw; // trusts nobody
let limitedA: Gw; // two replicas with tiny limits and a 3 s window
let limitedB: Gw;
let fenced: Gw; // global allowlist
let redis: Redis;
const ORIGIN = 'https://app.flow8.test';

const errorCode = (r: Res) => r.json<{ error: { code: string; requestId: string } }>().error.code;
const from = (ip: string) => ({ 'x-forwarded-for': ip });

beforeAll(async () => {
  up = await startUpstreams(keys);
  const urls = up.urls;
  const trusted = { GATEWAY_TRUSTED_PROXIES: '127.0.0.1/32' };
  const limits = {
    ...trusted,
    GATEWAY_RATE_LIMIT_USER: '4',
    GATEWAY_RATE_LIMIT_IP: '6',
    GATEWAY_RATE_LIMIT_WINDOW: '3s',
  };
  [main, untrusted, limitedA, limitedB, fenced] = await Promise.all([
    startGateway(keys, urls, { ...trusted, GATEWAY_CORS_ORIGINS: ORIGIN, GATEWAY_BODY_LIMIT: '2048' }),
    startGateway(keys, urls),
    startGateway(keys, urls, limits),
    startGateway(keys, urls, limits),
    startGateway(keys, urls, { ...trusted, GATEWAY_GLOBAL_ALLOWLIST: '198.51.100.0/24, 2001:db8:1::/48' }),
  ]);
  redis = createRedis({ url: stackEnv().redisUrl, caFile: stackEnv().caFile, name: 'gateway-test' });
  redis.on('error', () => undefined);
});

afterAll(async () => {
  redis?.disconnect();
  await Promise.allSettled([main, untrusted, limitedA, limitedB, fenced].map((g) => g?.stop()));
  await up?.stop();
});

describe('transport', () => {
  it('speaks HTTPS only: a plain HTTP request on the port gets no HTTP answer', async () => {
    const port = new URL(main.url).port;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', timeout: 3000 }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      req.on('timeout', () => {
        req.destroy();
        resolve('error timeout');
      });
      req.end();
    });
    expect(outcome).toMatch(/^error /);
  });

  it('refuses TLS below 1.2 (the server answers a TLS 1.1 offer with a protocol-version alert)', async () => {
    const port = Number(new URL(main.url).port);
    // SECLEVEL=0 lets *this client* offer TLS 1.1 under OpenSSL 3, so the refusal seen is the server's.
    const outcome = await new Promise<string>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
        rejectUnauthorized: false,
      });
      s.on('secureConnect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: Error) => resolve(`refused: ${e.message}`));
    });
    // alert 70 (protocol_version) comes from the server; a client that could not offer
    // TLS 1.1 would fail with "no protocols available" instead.
    expect(outcome).toMatch(/^refused: .*alert protocol version/);
  });

  it('sends HSTS and the security headers, and does not need a client certificate', async () => {
    const r = await call(main.url, '/healthz');
    expect(r.status).toBe(200);
    expect(r.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('answers CORS for allowed origins only, with credentials, and preflights', async () => {
    const ok = await call(main.url, '/v1/me', { headers: { origin: ORIGIN, ...from(randomIpv4()) } });
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    const evil = await call(main.url, '/v1/me', { headers: { origin: 'https://evil.test', ...from(randomIpv4()) } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['access-control-allow-credentials']).toBeUndefined();
    expect(evil.headers['access-control-expose-headers']).toBeUndefined();
    // Answers differ by Origin: shared caches must not hand one origin's answer to another.
    for (const r of [ok, evil]) expect(String(r.headers['vary'])).toMatch(/\borigin\b/i);

    const pre = await call(main.url, '/v1/users', {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-csrf-token',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(pre.headers['access-control-allow-headers'])).toContain('x-csrf-token');
    expect(pre.headers['access-control-max-age']).toBe('600');
    const preEvil = await call(main.url, '/v1/users', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.test', 'access-control-request-method': 'POST' },
    });
    expect(preEvil.status).toBe(204);
    expect(preEvil.headers['access-control-allow-origin']).toBeUndefined();
    expect(preEvil.headers['access-control-allow-methods']).toBeUndefined();
  });

  it.each([['content-length'], ['chunked']])(
    'refuses a body over GATEWAY_BODY_LIMIT with 413 in the error model (%s)',
    async (mode) => {
      const r = await call(main.url, '/v1/auth/login', {
        method: 'POST',
        rawBody: JSON.stringify({ tenant: 'x', email: 'a@b.test', password: 'p'.repeat(4000) }),
        headers: from(randomIpv4()),
        chunked: mode === 'chunked',
      });
      expect(r.status).toBe(413);
      const body = r.json<{ error: { code: string; message: string; requestId: string } }>();
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.message).toContain('2048');
      expect(body.error.requestId).toBe(r.headers['x-request-id']);
    },
  );
});

describe('OpenAPI', () => {
  it('serves a document with every route of the table, each with summary, tags, security and errors', async () => {
    const r = await call(main.url, '/v1/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.json<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { summary?: string; tags?: string[]; security?: unknown[]; responses?: Record<string, unknown> }>
      >;
      components: { securitySchemes: Record<string, unknown> };
    }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearerAuth', 'cookieAuth']);
    for (const route of ROUTES) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()];
      expect({ route: `${route.method} ${route.path}`, present: op !== undefined }).toEqual({
        route: `${route.method} ${route.path}`,
        present: true,
      });
      expect(op?.summary).toEqual(expect.any(String));
      expect(op?.tags?.length).toBeGreaterThan(0);
      expect(Array.isArray(op?.security)).toBe(true);
      expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['400', '429', '500', '503']));
      if (route.permission !== 'public') {
        expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
    // …and nothing the table does not know about.
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const table = ROUTES.map((rt) => `${rt.method} ${rt.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual(table.sort());
  });
});

describe('client IP', () => {
  it('ignores X-Forwarded-For from an untrusted peer and honours it from a trusted one', async () => {
    const token = mintApiKey(keys.apiKeySeed);
    const spoofed = await call(untrusted.url, '/v1/me', { headers: { ...bearer(token), ...from('203.0.113.50') } });
    expect(spoofed.status).toBe(200);
    expect(spoofed.json().clientIp).toBe('127.0.0.1');

    const ip = randomIpv4();
    const honoured = await call(main.url, '/v1/me', { headers: { ...bearer(token), ...from(`6.6.6.6, ${ip}`) } });
    expect(honoured.status).toBe(200);
    // Right-most untrusted hop: the left one was written by the client and proves nothing.
    expect(honoured.json().clientIp).toBe(ip);
  });
});

describe('IP allowlists', () => {
  it('global: admits IPv4 and IPv6 inside the CIDRs and refuses the rest with IP_NOT_ALLOWED', async () => {
    const token = mintApiKey(keys.apiKeySeed);
    for (const [ip, status] of [
      ['198.51.100.7', 200],
      ['203.0.113.7', 403],
      ['2001:db8:1::42', 200],
      ['2001:db8:2::42', 403],
    ] as const) {
      const r = await call(fenced.url, '/v1/me', { headers: { ...bearer(token), ...from(ip) } });
      expect({ ip, status: r.status }).toEqual({ ip, status });
      if (status === 403) expect(errorCode(r)).toBe('IP_NOT_ALLOWED');
    }
  });

  it('per tenant from Redis: admits and refuses, IPv4 and IPv6; other tenants unaffected', async () => {
    const tid = `ten_${randomId()}`;
    await redis.set(`flow8:tenant:${tid}:allowlist`, JSON.stringify(['192.0.2.0/24', '2001:db8:a::/48']), 'EX', 120);
    const token = mintApiKey(keys.apiKeySeed, { tid });
    const other = mintApiKey(keys.apiKeySeed);
    for (const [ip, status] of [
      ['192.0.2.9', 200],
      ['198.51.100.9', 403],
      ['2001:db8:a:1::9', 200],
      ['2001:db8:b::9', 403],
    ] as const) {
      const r = await call(main.url, '/v1/me', { headers: { ...bearer(token), ...from(ip) } });
      expect({ ip, status: r.status }).toEqual({ ip, status });
      if (status === 403) expect(errorCode(r)).toBe('IP_NOT_ALLOWED');
      const o = await call(main.url, '/v1/me', { headers: { ...bearer(other), ...from(ip) } });
      expect(o.status).toBe(200);
    }
    expect(main.logText()).toContain('client IP outside the tenant allowlist');
  });

  it("an API key's cidrs bind it to those addresses", async () => {
    const token = mintApiKey(keys.apiKeySeed, { cidrs: ['192.0.2.128/25'] });
    expect((await call(main.url, '/v1/me', { headers: { ...bearer(token), ...from('192.0.2.200') } })).status).toBe(
      200,
    );
    const r = await call(main.url, '/v1/me', { headers: { ...bearer(token), ...from('192.0.2.1') } });
    expect(r.status).toBe(403);
    expect(errorCode(r)).toBe('IP_NOT_ALLOWED');
  });
});

describe('rate limits shared by two replicas', () => {
  const limitHeaders = (r: Res) => ({
    status: r.status,
    limit: r.headers['ratelimit-limit'],
    remaining: r.headers['ratelimit-remaining'],
  });

  it('per key: counted across both instances, 429 with Retry-After, recovered after the window', async () => {
    const token = mintApiKey(keys.apiKeySeed);
    const ip = randomIpv4();
    const seen: Array<ReturnType<typeof limitHeaders>> = [];
    let last: Res | undefined;
    for (let i = 0; i < 5; i += 1) {
      last = await call(i % 2 === 0 ? limitedA.url : limitedB.url, '/v1/me', {
        headers: { ...bearer(token), ...from(ip) },
      });
      seen.push(limitHeaders(last));
    }
    // The tightest limit is the key's (4), not the IP's (6).
    expect(seen).toEqual([
      { status: 200, limit: '4', remaining: '3' },
      { status: 200, limit: '4', remaining: '2' },
      { status: 200, limit: '4', remaining: '1' },
      { status: 200, limit: '4', remaining: '0' },
      { status: 429, limit: '4', remaining: '0' },
    ]);
    expect(errorCode(last!)).toBe('RATE_LIMITED');
    const retryAfter = Number(last!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3);
    expect(Number(last!.headers['ratelimit-reset'])).toBeLessThanOrEqual(3);

    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 200));
    const again = await call(limitedB.url, '/v1/me', { headers: { ...bearer(token), ...from(ip) } });
    expect(limitHeaders(again)).toEqual({ status: 200, limit: '4', remaining: '3' });
  });

  it('per IP: failed authentications count too', async () => {
    const ip = randomIpv4();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const r = await call(i % 2 === 0 ? limitedA.url : limitedB.url, '/v1/me', {
        headers: { ...bearer('nope.nope.nope'), ...from(ip) },
      });
      statuses.push(r.status);
      expect(r.headers['ratelimit-limit']).toBe('6');
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });
});

describe('API-key attacks: each is 401 UNAUTHENTICATED', () => {
  const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const kid = keyIdOf(ed25519PublicKeyOfSeed(keys.apiKeySeed));
  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({
    iss: 'flow8-auth',
    sub: `key_${randomId()}`,
    tid: `ten_${randomId()}`,
    uid: `usr_${randomId()}`,
    role: 'admin',
    scopes: ['audit:read'],
    cidrs: [],
    iat: now(),
    nbf: now(),
    exp: now() + 600,
    jti: randomBytes(8).toString('hex'),
  });

  it('a well-formed key works (so the refusals below are real)', async () => {
    const r = await call(main.url, '/v1/me', {
      headers: { ...bearer(mintApiKey(keys.apiKeySeed)), ...from(randomIpv4()) },
    });
    expect(r.status).toBe(200);
  });

  const attacks: Array<[string, () => string | Promise<string>]> = [
    ['alg none', () => `${encode({ alg: 'none', typ: 'JWT', kid })}.${encode(claims())}.`],
    [
      'HS256 keyed with the public key (alg confusion)',
      () => {
        const input = `${encode({ alg: 'HS256', typ: 'JWT', kid })}.${encode(claims())}`;
        const pub = Buffer.from(ed25519PublicKeyOfSeed(keys.apiKeySeed));
        return `${input}.${createHmac('sha256', pub).update(input).digest('base64url')}`;
      },
    ],
    ['EdDSA signed by a key auth never had (unknown kid)', () => mintApiKey(randomBytes(32))],
    [
      "EdDSA signed by another key, claiming auth's kid",
      () => {
        const forged = mintApiKey(randomBytes(32)).split('.');
        return `${encode({ alg: 'EdDSA', typ: 'JWT', kid })}.${forged[1]}.${forged[2]}`;
      },
    ],
    ['expired', () => mintApiKey(keys.apiKeySeed, { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })],
    ['nbf in the future', () => mintApiKey(keys.apiKeySeed, { nbf: now() + 3600, exp: now() + 7200 })],
    [
      'tampered payload (tenant swapped)',
      () => {
        const [h, p, s] = mintApiKey(keys.apiKeySeed).split('.') as [string, string, string];
        const c = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
        return `${h}.${encode({ ...c, tid: `ten_${randomId()}` })}.${s}`;
      },
    ],
    ['wrong issuer', () => mintApiKey(keys.apiKeySeed, { iss: 'flow8-gateway' })],
    [
      'revoked (jti in Redis)',
      async () => {
        const jti = randomBytes(8).toString('hex');
        await redis.set(`flow8:apikey:revoked:${jti}`, '1', 'EX', 120);
        return mintApiKey(keys.apiKeySeed, { jti });
      },
    ],
    ['garbage', () => 'not-a-jwt'],
  ];

  it.each(attacks)('%s', async (_name, make) => {
    const r = await call(main.url, '/v1/me', { headers: { ...bearer(await make()), ...from(randomIpv4()) } });
    expect(r.status).toBe(401);
    expect(errorCode(r)).toBe('UNAUTHENTICATED');
  });
});

describe('authorization at the gateway', () => {
  it('audit routes: Admin/Viewer keys with audit:read pass; no scope or wrong role is 403 with the reason logged', async () => {
    const tid = `ten_${randomId()}`;
    const ip = randomIpv4();
    const viewer = mintApiKey(keys.apiKeySeed, { tid, role: 'viewer', scopes: ['audit:read'] });
    const ok = await call(main.url, '/v1/audit/verify', { headers: { ...bearer(viewer), ...from(ip) } });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true });

    const noScope = mintApiKey(keys.apiKeySeed, { tid, role: 'admin', scopes: ['users:read'] });
    const executor = mintApiKey(keys.apiKeySeed, { tid, role: 'executor', scopes: ['audit:read'] });
    for (const token of [noScope, executor]) {
      const r = await call(main.url, '/v1/audit/events', { headers: { ...bearer(token), ...from(ip) } });
      expect(r.status).toBe(403);
      expect(errorCode(r)).toBe('FORBIDDEN');
    }
    expect(main.logText()).toMatch(/"reason":"[^"]*audit:read[^"]*".*request denied|request denied.*audit:read/);
  });

  it('unauthenticated is 401; the operator token opens POST /v1/tenants only', async () => {
    const ip = randomIpv4();
    expect((await call(main.url, '/v1/users', { headers: from(ip) })).status).toBe(401);
    const op = bearer(keys.operatorToken);
    expect((await call(main.url, '/v1/users', { headers: { ...op, ...from(ip) } })).status).toBe(401);
    const wrong = await call(main.url, '/v1/tenants', {
      method: 'POST',
      headers: { ...bearer(`${keys.operatorToken}x`), ...from(ip) },
      body: { name: 'X', slug: 'x', admin: { email: 'a@x.test', password: 'x' } },
    });
    expect(wrong.status).toBe(401);
  });
});

describe('audit through the gateway', () => {
  it('forwards the query with the real client IP, which lands in the data-access event', async () => {
    const tid = `ten_${randomId()}`;
    const ip = randomIpv4();
    const token = mintApiKey(keys.apiKeySeed, { tid, role: 'viewer', scopes: ['audit:read'] });
    const first = await call(main.url, '/v1/audit/events', { headers: { ...bearer(token), ...from(ip) } });
    expect(first.status).toBe(200);
    // The read is audited by audit-ingest; its event comes back into the ledger with our IP.
    const event = await eventually(
      async () => {
        const r = await call(main.url, '/v1/audit/events?type=audit.log.queried', {
          headers: { ...bearer(token), ...from(ip) },
        });
        const items = r.json<{ items: Array<{ actor: { id: string; ip: string | null } }> }>().items;
        if (items.length === 0) throw new Error('not yet in the ledger');
        return items[0]!;
      },
      { timeoutMs: 60_000 },
    );
    expect(event.actor.ip).toBe(ip);
    expect(event.actor.id).toMatch(/^key_/);

    const exp = await call(main.url, '/v1/audit/export?format=ndjson', { headers: { ...bearer(token), ...from(ip) } });
    expect(exp.status).toBe(200);
    expect(exp.headers['content-type']).toContain('ndjson');
    expect(exp.body.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(2);
  });
});

describe('sessions, CSRF and the API-key lifecycle through real auth', () => {
  it('operator → company → login cookie → CSRF → key issued, rotated, revoked → logout', async () => {
    const ip = randomIpv4();
    const slug = `gw-${randomId().slice(0, 10)}`;
    const password = `Gw-${randomBytes(12).toString('base64url')}!`;
    const created = await call(main.url, '/v1/tenants', {
      method: 'POST',
      headers: { ...bearer(keys.operatorToken), ...from(ip) },
      body: { name: 'Gateway Test Co', slug, admin: { email: 'admin@gw.test', password } },
    });
    expect(created.status).toBe(201);

    const login = await call(main.url, '/v1/auth/login', {
      method: 'POST',
      headers: from(ip),
      body: { tenant: slug, email: 'admin@gw.test', password },
    });
    expect(login.status).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    // Max-Age: the seconds left of auth's session (AUTH_SESSION_TTL, 1 h by default), whose end
    // auth reports as expiresAt.
    // Exactly these attributes (in any order: RFC 6265 gives the order no meaning).
    const [pair = '', ...attrs] = setCookie.split('; ');
    expect(pair).toMatch(/^__Host-flow8_session=[^;]+$/);
    expect(attrs.map((a) => a.replace(/^Max-Age=\d+$/, 'Max-Age=N')).sort()).toEqual([
      'HttpOnly',
      'Max-Age=N',
      'Path=/',
      'SameSite=Strict',
      'Secure',
    ]);
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]);
    expect(maxAge).toBeLessThanOrEqual(3600);
    const expiresAt = Date.parse(login.json<{ expiresAt: string }>().expiresAt);
    expect(Math.abs(Date.now() + maxAge * 1000 - expiresAt)).toBeLessThan(5_000);
    const session = /^__Host-flow8_session=([^;]+)/.exec(setCookie)![1]!;
    const body = login.json<{ csrfToken: string; user: { email: string }; sessionToken?: string }>();
    expect(body.user.email).toBe('admin@gw.test');
    expect(body.sessionToken).toBeUndefined();
    expect(login.body).not.toContain(session);
    const cookie = { cookie: `__Host-flow8_session=${session}`, ...from(ip) };
    const csrf = { 'x-csrf-token': body.csrfToken };

    expect((await call(main.url, '/v1/users', { headers: cookie })).status).toBe(200);
    const newUser = {
      email: 'viewer@gw.test',
      password: `Vw-${randomBytes(12).toString('base64url')}!`,
      role: 'viewer',
    };
    const noCsrf = await call(main.url, '/v1/users', { method: 'POST', headers: cookie, body: newUser });
    expect(noCsrf.status).toBe(403);
    const badCsrf = await call(main.url, '/v1/users', {
      method: 'POST',
      headers: { ...cookie, 'x-csrf-token': 'x'.repeat(43) },
      body: newUser,
    });
    expect(badCsrf.status).toBe(403);
    const withCsrf = await call(main.url, '/v1/users', {
      method: 'POST',
      headers: { ...cookie, ...csrf },
      body: newUser,
    });
    expect(withCsrf.status).toBe(201);

    const issued = await call(main.url, '/v1/api-keys', {
      method: 'POST',
      headers: { ...cookie, ...csrf },
      body: { name: 'ci', scopes: ['audit:read', 'users:read'] },
    });
    expect(issued.status).toBe(201);
    const key = issued.json<{ id: string; token: string }>();
    const me = await call(main.url, '/v1/me', { headers: { ...bearer(key.token), ...from(ip) } });
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ type: 'api_key', id: key.id, role: 'admin' });
    // A bearer request is not subject to CSRF.
    expect((await call(main.url, '/v1/users', { headers: { ...bearer(key.token), ...from(ip) } })).status).toBe(200);

    const rotated = await call(main.url, `/v1/api-keys/${key.id}/rotate`, {
      method: 'POST',
      headers: { ...cookie, ...csrf },
    });
    expect(rotated.status).toBe(201);
    const next = rotated.json<{ id: string; token: string }>();
    // Rotated away: refused at every replica at once.
    for (const gw of [main, limitedA]) {
      const old = await call(gw.url, '/v1/me', { headers: { ...bearer(key.token), ...from(randomIpv4()) } });
      expect(old.status).toBe(401);
    }
    expect((await call(main.url, '/v1/me', { headers: { ...bearer(next.token), ...from(ip) } })).status).toBe(200);
    const revoked = await call(main.url, `/v1/api-keys/${next.id}`, {
      method: 'DELETE',
      headers: { ...cookie, ...csrf },
    });
    expect(revoked.status).toBe(204);
    expect((await call(main.url, '/v1/me', { headers: { ...bearer(next.token), ...from(ip) } })).status).toBe(401);

    const out = await call(main.url, '/v1/auth/logout', { method: 'POST', headers: { ...cookie, ...csrf } });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await call(main.url, '/v1/users', { headers: cookie })).status).toBe(401);
  });
});

describe('Redis unreachable', () => {
  it('readiness fails, API keys are refused with 503, public routes still rate-limited in memory', async () => {
    const u = new URL(stackEnv().redisUrl);
    u.port = '1';
    const down = await startGateway(keys, up.urls, { REDIS_URL: u.toString() });
    try {
      const ready = await call(down.url, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json<{ checks: Record<string, string> }>().checks.redis).toBe('fail');
      const keyed = await call(down.url, '/v1/me', { headers: bearer(mintApiKey(keys.apiKeySeed)) });
      expect(keyed.status).toBe(503);
      expect(errorCode(keyed)).toBe('UNAVAILABLE');
      expect(keyed.body).not.toMatch(/redis|ECONNREFUSED/i);
      const pub = await call(down.url, '/v1/auth/login', {
        method: 'POST',
        body: { tenant: 'nope', email: 'a@b.test', password: 'x' },
      });
      expect(pub.headers['ratelimit-limit']).toBe('3000');
    } finally {
      await down.stop();
    }
  });
});

describe('Redis without the security sync marker', () => {
  it('readiness says not ready while API keys are refused for want of the marker, and ready once it is there', async () => {
    // A database of the stack's Redis that nothing else uses: it holds no marker until we write it.
    const u = new URL(stackEnv().redisUrl);
    u.pathname = '/13';
    const db = createRedis({ url: u.toString(), caFile: stackEnv().caFile, name: 'gateway-test-unsynced' });
    db.on('error', () => undefined);
    const gw = await startGateway(keys, up.urls, { REDIS_URL: u.toString() });
    try {
      await eventually(async () => db.status === 'ready', { what: 'the test client connected' });
      await db.del(SECURITY_SYNC_KEY);
      const token = mintApiKey(keys.apiKeySeed);

      const unsynced = await call(gw.url, '/readyz');
      expect(unsynced.status).toBe(503);
      expect(unsynced.json<{ checks: Record<string, string> }>().checks).toMatchObject({
        redis: 'ok',
        securitySync: 'fail',
      });
      const refused = await call(gw.url, '/v1/me', { headers: bearer(token) });
      expect(refused.status).toBe(503);
      expect(errorCode(refused)).toBe('UNAVAILABLE');

      await db.set(SECURITY_SYNC_KEY, 'test');
      const ready = await call(gw.url, '/readyz');
      expect(ready.status).toBe(200);
      expect((await call(gw.url, '/v1/me', { headers: bearer(token) })).status).toBe(200);

      // Redis loses the marker again (restarted empty): not ready again, at once.
      await db.del(SECURITY_SYNC_KEY);
      expect((await call(gw.url, '/readyz')).status).toBe(503);
      expect((await call(gw.url, '/v1/me', { headers: bearer(token) })).status).toBe(503);
    } finally {
      await gw.stop();
      await db.flushdb().catch(() => undefined);
      db.disconnect();
    }
  });
});
