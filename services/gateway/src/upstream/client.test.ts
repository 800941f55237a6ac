import { randomBytes } from 'node:crypto';
import {
  createIdentitySigner,
  createIdentityVerifier,
  ed25519RawPublicKey,
  type IdentitySigner,
  type InternalPrincipal,
} from '@flow8/http';
import { createIdentityTokenCache, IDENTITY_REUSE_MS } from './client';

const seed = randomBytes(32);
const T0 = 1_800_000_000_000;
let clock = T0;
const signer = createIdentitySigner({ seed, now: () => clock });
const verifyFor = (audience: string) =>
  createIdentityVerifier({ publicKeys: [ed25519RawPublicKey(seed)], audience, now: () => clock });

const alice: InternalPrincipal = {
  tenantId: 'ten_01aaaaaaaaaaaaaaaaaaaaaaaa',
  type: 'api_key',
  id: 'key_01aaaaaaaaaaaaaaaaaaaaaaaa',
  role: 'viewer',
  scopes: ['audit:read'],
  ip: '203.0.113.5',
  sessionId: null,
  ownerId: 'usr_01aaaaaaaaaaaaaaaaaaaaaaaa',
};

/** A signer that counts its signatures. */
function counting(inner: IdentitySigner) {
  let n = 0;
  return {
    signer: { kid: inner.kid, sign: (p: InternalPrincipal, aud: string) => ((n += 1), inner.sign(p, aud)) },
    count: () => n,
  };
}

describe('identity token reuse', () => {
  beforeEach(() => {
    clock = T0;
  });

  test('the same statement within the reuse window gets the same token, signed once', () => {
    const c = counting(signer);
    const cache = createIdentityTokenCache(c.signer, { now: () => clock });
    const first = cache.sign(alice, 'auth');
    clock += IDENTITY_REUSE_MS - 1;
    expect(cache.sign({ ...alice, scopes: [...alice.scopes] }, 'auth')).toBe(first);
    expect(c.count()).toBe(1);
    // Still well inside its lifetime at the service when reused last.
    expect(verifyFor('auth')(first)).toMatchObject({ ok: true, principal: alice });
  });

  test('after the window a fresh token is minted, with a fresh iat', () => {
    const cache = createIdentityTokenCache(signer, { now: () => clock });
    const first = cache.sign(alice, 'auth');
    clock += IDENTITY_REUSE_MS;
    const second = cache.sign(alice, 'auth');
    expect(second).not.toBe(first);
    const v = verifyFor('auth')(second);
    expect(v.ok && v.claims.iat).toBe(Math.floor(clock / 1000));
  });

  // Every claim that says who is acting and from where is part of the key: a token handed out for
  // one request never states anything another request did not establish.
  test.each<[string, Partial<InternalPrincipal>]>([
    ['another client IP', { ip: '198.51.100.7' }],
    ['another role', { role: 'admin' }],
    ['more scopes', { scopes: ['audit:read', 'users:read'] }],
    ['another tenant', { tenantId: 'ten_01bbbbbbbbbbbbbbbbbbbbbbbb' }],
    ['another principal', { id: 'key_01bbbbbbbbbbbbbbbbbbbbbbbb' }],
    ['another owner', { ownerId: 'usr_01bbbbbbbbbbbbbbbbbbbbbbbb' }],
    ['a session', { type: 'user', id: 'usr_01aaaaaaaaaaaaaaaaaaaaaaaa', sessionId: 'ses_1', ownerId: null }],
  ])('%s gets its own token, stating exactly that', (_name, change) => {
    const cache = createIdentityTokenCache(signer, { now: () => clock });
    const mine = cache.sign(alice, 'auth');
    const other = { ...alice, ...change };
    const theirs = cache.sign(other, 'auth');
    expect(theirs).not.toBe(mine);
    expect(verifyFor('auth')(theirs)).toMatchObject({
      ok: true,
      principal: { ...other, ownerId: other.ownerId ?? null },
    });
    expect(cache.sign(alice, 'auth')).toBe(mine);
  });

  test('a token for one service is never reused for another (audience)', () => {
    const cache = createIdentityTokenCache(signer, { now: () => clock });
    const forAuth = cache.sign(alice, 'auth');
    const forVault = cache.sign(alice, 'credential-vault');
    expect(forVault).not.toBe(forAuth);
    expect(verifyFor('credential-vault')(forVault).ok).toBe(true);
    expect(verifyFor('credential-vault')(forAuth)).toMatchObject({ ok: false, reason: 'token is for another service' });
  });

  test('a clock that went backwards mints instead of reusing', () => {
    const cache = createIdentityTokenCache(signer, { now: () => clock });
    const first = cache.sign(alice, 'auth');
    clock -= 1000;
    expect(cache.sign(alice, 'auth')).not.toBe(first);
  });

  test('reuse 0 mints one token per request; the cache stays bounded', () => {
    const c = counting(signer);
    const none = createIdentityTokenCache(c.signer, { reuseMs: 0, now: () => clock });
    none.sign(alice, 'auth');
    none.sign(alice, 'auth');
    expect(c.count()).toBe(2);

    const small = counting(signer);
    const cache = createIdentityTokenCache(small.signer, { max: 2, now: () => clock });
    const a = cache.sign(alice, 'auth');
    cache.sign({ ...alice, ip: '198.51.100.1' }, 'auth');
    cache.sign({ ...alice, ip: '198.51.100.2' }, 'auth');
    // alice's entry was the oldest: dropped, so she is signed again.
    expect(cache.sign(alice, 'auth')).not.toBe(a);
    expect(small.count()).toBe(4);
  });
});
