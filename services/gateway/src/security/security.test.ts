import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import Fastify from 'fastify';
import { ed25519PublicKeyOfSeed, jwksFromPublicKeys, signEdDsaJwt } from '@flow8/jwt';
import { createLogger } from '@flow8/telemetry';
import { createJwksCache, createVerifiedTokenCache, verifyApiKey } from './api-keys';
import { createMemoryLimiter, summarise } from './gate';
import { COOKIE_OPTIONS, SESSION_COOKIE, sessionCookie } from '../http/cookies';
import { sameSecret, sessionTokenOf } from './guard';

const logger = createLogger({ service: 'gateway-test', level: 'fatal' });
const limits = { user: 4, ip: 10, tenant: 100, windowMs: 60_000 };

describe('rate-limit summary', () => {
  it('reports the tightest limit and Retry-After of the exceeded one', () => {
    const counters = [
      { kind: 'ip' as const, id: 'a' },
      { kind: 'user' as const, id: 'u' },
      { kind: 'tenant' as const, id: 't' },
    ];
    const under = summarise(limits, counters, [
      { count: 3, ttlMs: 50_000 },
      { count: 2, ttlMs: 20_500 },
      { count: 9, ttlMs: 59_000 },
    ]);
    expect(under).toEqual({ limit: 4, remaining: 2, resetSeconds: 21, retryAfterSeconds: null, exceeded: null });
    const over = summarise(limits, counters, [
      { count: 11, ttlMs: 9_000 },
      { count: 2, ttlMs: 20_000 },
      { count: 9, ttlMs: 59_000 },
    ]);
    expect(over).toMatchObject({ limit: 10, remaining: 0, retryAfterSeconds: 9, exceeded: 'ip' });
  });

  it('the in-memory fallback counts fixed windows and starts over after one', () => {
    const m = createMemoryLimiter();
    expect(m.hit('k', 1000, 0)).toEqual({ count: 1, ttlMs: 1000 });
    expect(m.hit('k', 1000, 400)).toEqual({ count: 2, ttlMs: 600 });
    expect(m.hit('k', 1000, 1000)).toEqual({ count: 1, ttlMs: 1000 });
  });
});

describe('JWKS cache and API-key verification', () => {
  const seed = randomBytes(32);
  const now = Math.floor(Date.now() / 1000);
  const token = (claims: Record<string, unknown> = {}, s: Uint8Array = seed) =>
    signEdDsaJwt(
      {},
      {
        iss: 'flow8-auth',
        sub: 'key_01aaaaaaaaaaaaaaaaaaaaaaaa',
        tid: 'ten_01aaaaaaaaaaaaaaaaaaaaaaaa',
        uid: 'usr_01aaaaaaaaaaaaaaaaaaaaaaaa',
        role: 'viewer',
        scopes: ['audit:read'],
        cidrs: [],
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: 'j1',
        ...claims,
      },
      s,
    );

  it('refetches on an unknown kid at most once per interval', async () => {
    let fetches = 0;
    let clock = 1_000_000;
    const keys = [ed25519PublicKeyOfSeed(seed)];
    const jwks = createJwksCache({
      fetchJwks: async () => {
        fetches += 1;
        return jwksFromPublicKeys(keys);
      },
      refreshMs: 3_600_000,
      logger,
      now: () => clock,
    });
    await jwks.start();
    await jwks.stop();
    expect(fetches).toBe(1);
    const other = randomBytes(32);
    clock += 31_000;
    expect((await verifyApiKey(token({}, other), jwks)).ok).toBe(false);
    expect(fetches).toBe(2);
    for (let i = 0; i < 5; i += 1) expect((await verifyApiKey(token({}, randomBytes(32)), jwks)).ok).toBe(false);
    expect(fetches).toBe(2);
    // A key auth added since is picked up by the next allowed refetch.
    keys.push(ed25519PublicKeyOfSeed(other));
    clock += 31_000;
    expect((await verifyApiKey(token({}, other), jwks)).ok).toBe(true);
    expect(fetches).toBe(3);
  });

  it('the verified-token cache never admits a changed token, an expired one, or one from an old key set', async () => {
    let keys = [ed25519PublicKeyOfSeed(seed)];
    let clock = 0;
    const jwks = createJwksCache({
      fetchJwks: async () => jwksFromPublicKeys(keys),
      refreshMs: 3_600_000,
      logger,
      minRefetchMs: 0,
      now: () => clock,
    });
    await jwks.start();
    await jwks.stop();
    const cache = createVerifiedTokenCache();
    const t = token();
    expect((await verifyApiKey(t, jwks, cache)).ok).toBe(true);
    expect((await verifyApiKey(t, jwks, cache)).ok).toBe(true);
    const [h, p, s] = t.split('.') as [string, string, string];
    // Changes the second-to-last character (six signature bits): it must differ from the original.
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.slice(-1)}`;
    expect(flipped).not.toBe(t);
    expect((await verifyApiKey(flipped, jwks, cache)).ok).toBe(false);
    const shortLived = token({ exp: now - 40, iat: now - 100, nbf: now - 100 });
    expect((await verifyApiKey(shortLived, jwks, cache)).ok).toBe(false);
    // auth drops the key: after the refresh, the cached verification no longer counts.
    keys = [ed25519PublicKeyOfSeed(randomBytes(32))];
    clock += 1;
    await jwks.refreshForUnknownKid();
    expect((await verifyApiKey(t, jwks, cache)).ok).toBe(false);
  });
});

describe('credentials from headers', () => {
  // The gateway's cookie plugin with the gateway's options, on a loopback listener
  // (light-my-request's inject does not load under jest's ESM runtime).
  async function cookieApp() {
    const app = Fastify();
    await app.register(cookie, COOKIE_OPTIONS);
    app.get('/read', async (req) => ({ token: sessionTokenOf(req.cookies) }));
    app.get('/set', async (req, reply) => {
      const { token, maxAge } = req.query as { token: string; maxAge: string };
      return reply.setCookie(SESSION_COOKIE, token, sessionCookie(Number(maxAge))).send({});
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, base };
  }

  it('reads only the __Host- session cookie, and only a sane token', async () => {
    const { app, base } = await cookieApp();
    const tokenFor = async (cookieHeader?: string) => {
      const res = await fetch(`${base}/read`, { headers: cookieHeader === undefined ? {} : { cookie: cookieHeader } });
      return ((await res.json()) as { token: string | null }).token;
    };
    try {
      const tok = 'A'.repeat(43);
      expect(await tokenFor(`a=b; __Host-flow8_session=${tok}; c=d`)).toBe(tok);
      expect(await tokenFor(`flow8_session=${tok}`)).toBeNull();
      expect(await tokenFor('__Host-flow8_session=<script>')).toBeNull();
      // Read as sent, never percent-decoded into a token.
      expect(await tokenFor(`__Host-flow8_session=${'A'.repeat(20)}%2Fx`)).toBeNull();
      expect(await tokenFor(undefined)).toBeNull();
      expect(sessionTokenOf(undefined)).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('sets the session cookie Secure, HttpOnly, SameSite=Strict on Path=/, the token as it is', async () => {
    const { app, base } = await cookieApp();
    try {
      const tok = 'aB3+/=._~-'.repeat(4);
      const set = await fetch(`${base}/set?${new URLSearchParams({ token: tok, maxAge: '3600' }).toString()}`);
      const [value, ...attrs] = (set.headers.get('set-cookie') ?? '').split('; ');
      expect(value).toBe(`__Host-flow8_session=${tok}`);
      expect(attrs.sort()).toEqual(['HttpOnly', 'Max-Age=3600', 'Path=/', 'SameSite=Strict', 'Secure']);
      const cleared = await fetch(`${base}/set?token=&maxAge=0`);
      const [empty, ...clearAttrs] = (cleared.headers.get('set-cookie') ?? '').split('; ');
      expect(empty).toBe('__Host-flow8_session=');
      expect(clearAttrs.sort()).toEqual(['HttpOnly', 'Max-Age=0', 'Path=/', 'SameSite=Strict', 'Secure']);
    } finally {
      await app.close();
    }
  });

  it('compares secrets of any length', () => {
    expect(sameSecret('a'.repeat(40), 'a'.repeat(40))).toBe(true);
    expect(sameSecret('a'.repeat(40), 'a'.repeat(41))).toBe(false);
    expect(sameSecret('a'.repeat(40), 'b'.repeat(40))).toBe(false);
  });
});
