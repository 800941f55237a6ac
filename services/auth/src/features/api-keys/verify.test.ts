import { randomBytes, randomUUID } from 'node:crypto';
import { newId } from '@flow8/contracts';
import { ed25519PublicKeyOfSeed, keyIdOf, signEdDsaJwt, type JwtClaims } from '@flow8/jwt';
import { createSigningKeyring } from './signing';
import { revokedJtiKey, verifyApiKeyToken, type ApiKeyClaims } from './verify';

const seed = randomBytes(32);
const ring = createSigningKeyring([seed]);
const NOW = 1_800_000_000_000;
const t = NOW / 1000;
const claims: ApiKeyClaims = {
  iss: 'flow8-auth',
  sub: newId('key'),
  tid: newId('ten'),
  uid: newId('usr'),
  role: 'executor',
  scopes: ['flows:execute'],
  cidrs: ['203.0.113.0/24'],
  iat: t,
  nbf: t,
  exp: t + 86_400,
  jti: randomUUID(),
};

describe('verifyApiKeyToken', () => {
  test('a key signed by the keyring verifies against its JWKS and against its key map', () => {
    const token = ring.sign(claims);
    expect(verifyApiKeyToken(token, { jwks: ring.jwks(), now: NOW })).toEqual({ ok: true, claims });
    expect(verifyApiKeyToken(token, { publicKeys: ring.publicKeys(), now: NOW })).toEqual({ ok: true, claims });
  });

  test.each([
    ['another issuer', { iss: 'gateway' }, 'wrong_issuer'],
    ['an expired key', { exp: t - 3600, iat: t - 7200, nbf: t - 7200 }, 'expired'],
    ['a lifetime over 365 days', { exp: t + 366 * 86_400 }, 'lifetime_too_long'],
    ['a scope outside the vocabulary', { scopes: ['api_keys:write'] }, 'bad_claims'],
    ['an unknown role', { role: 'root' }, 'bad_claims'],
    ['a malformed CIDR', { cidrs: ['10.0.0.1/8'] }, 'bad_claims'],
    ['no nbf', { nbf: undefined }, 'bad_claims'],
    ['a subject that is not a key', { sub: 'usr_01jabcdefghjkmnpqrstvwxyz0' }, 'bad_claims'],
  ])('%s is refused', (_label, over, reason) => {
    const token = signEdDsaJwt({ typ: 'JWT' }, { ...claims, ...over } as unknown as JwtClaims, seed);
    expect(verifyApiKeyToken(token, { jwks: ring.jwks(), now: NOW })).toEqual({ ok: false, reason });
  });

  test("a token signed by a key not in the JWKS is refused, and so is a JWKS that isn't one", () => {
    const other = randomBytes(32);
    const token = signEdDsaJwt({ typ: 'JWT' }, { ...claims }, other);
    expect(verifyApiKeyToken(token, { jwks: ring.jwks(), now: NOW })).toEqual({ ok: false, reason: 'unknown_key' });
    expect(keyIdOf(ed25519PublicKeyOfSeed(other))).not.toBe(ring.activeKid);
    expect(verifyApiKeyToken(ring.sign(claims), { jwks: { nope: 1 }, now: NOW })).toEqual({
      ok: false,
      reason: 'unknown_key',
    });
  });

  test('the Redis key of a revoked jti', () => {
    expect(revokedJtiKey('abc')).toBe('flow8:apikey:revoked:abc');
  });

  test('the keyring signs with the first seed only, lists all, refuses duplicates', () => {
    const next = randomBytes(32);
    const both = createSigningKeyring([next, seed]);
    expect(both.activeKid).toBe(keyIdOf(ed25519PublicKeyOfSeed(next)));
    expect(both.jwks().keys.map((k) => k.kid)).toEqual([both.activeKid, ring.activeKid]);
    expect(verifyApiKeyToken(ring.sign(claims), { jwks: both.jwks(), now: NOW }).ok).toBe(true);
    expect(() => createSigningKeyring([seed, seed])).toThrow(/repeat/);
    expect(() => createSigningKeyring([])).toThrow();
  });
});
