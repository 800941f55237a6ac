import { createHash, createHmac, createPrivateKey, randomBytes, sign } from 'node:crypto';
import {
  createEdDsaVerifier,
  ed25519PublicKeyOfSeed,
  jwksFromPublicKeys,
  keyIdOf,
  publicKeysFromJwks,
  signEdDsaJwt,
  verifyEdDsaJwt,
  type JwtClaims,
  type JwtVerifyOptions,
} from './jwt';

const seed = randomBytes(32);
const pub = ed25519PublicKeyOfSeed(seed);
const kid = keyIdOf(pub);
const otherSeed = randomBytes(32);
const NOW = 1_800_000_000_000;
const t = NOW / 1000;
const claims = { iss: 'flow8-auth', sub: 'key_x', iat: t, nbf: t, exp: t + 3600, jti: 'j1', role: 'viewer' };
const opts = (over: Partial<JwtVerifyOptions> = {}): JwtVerifyOptions => ({
  keys: new Map([[kid, pub]]),
  issuer: 'flow8-auth',
  now: NOW,
  clockSkewSeconds: 30,
  ...over,
});
const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const split = (token: string) => token.split('.') as [string, string, string];

describe('signEdDsaJwt / verifyEdDsaJwt', () => {
  test('a token signed with the seed verifies, with its header and claims', () => {
    const token = signEdDsaJwt({ typ: 'JWT' }, claims, seed);
    const r = verifyEdDsaJwt(token, opts());
    expect(r).toEqual({ ok: true, header: { alg: 'EdDSA', typ: 'JWT', kid }, claims });
  });

  test('kid is the first 16 hex of SHA-256 of the raw public key', () => {
    expect(kid).toBe(createHash('sha256').update(pub).digest('hex').slice(0, 16));
    expect(() => signEdDsaJwt({ kid: '0000000000000000' }, claims, seed)).toThrow(/kid/);
  });

  test('alg none (empty signature) is refused', () => {
    const [, p] = split(signEdDsaJwt({}, claims, seed));
    expect(verifyEdDsaJwt(`${enc({ alg: 'none', typ: 'JWT', kid })}.${p}.`, opts())).toEqual({
      ok: false,
      reason: 'malformed',
    });
    // Even with something in the signature slot.
    expect(verifyEdDsaJwt(`${enc({ alg: 'none', typ: 'JWT', kid })}.${p}.AAAA`, opts())).toEqual({
      ok: false,
      reason: 'unsupported_algorithm',
    });
  });

  test('HS256 keyed with the public key (algorithm confusion) is refused', () => {
    const [, p] = split(signEdDsaJwt({}, { ...claims, role: 'admin' }, seed));
    const input = `${enc({ alg: 'HS256', typ: 'JWT', kid })}.${p}`;
    for (const secret of [Buffer.from(pub), Buffer.from(Buffer.from(pub).toString('base64url'))]) {
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      expect(verifyEdDsaJwt(`${input}.${mac}`, opts())).toEqual({ ok: false, reason: 'unsupported_algorithm' });
    }
  });

  test('an unknown or missing kid is refused, even when the signature is good', () => {
    const token = signEdDsaJwt({}, claims, seed);
    expect(verifyEdDsaJwt(token, opts({ keys: new Map([['ffffffffffffffff', pub]]) }))).toEqual({
      ok: false,
      reason: 'unknown_key',
    });
    const [, p, s] = split(token);
    expect(verifyEdDsaJwt(`${enc({ alg: 'EdDSA', typ: 'JWT' })}.${p}.${s}`, opts())).toMatchObject({ ok: false });
  });

  test('a kid pointing at a key other than the signer is a bad signature', () => {
    const otherPub = ed25519PublicKeyOfSeed(otherSeed);
    const token = signEdDsaJwt({}, claims, otherSeed);
    // The verifier trusts only `pub`, but under the other key's kid.
    expect(verifyEdDsaJwt(token, opts({ keys: new Map([[keyIdOf(otherPub), pub]]) }))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  test('a token signed by another key under our kid is refused', () => {
    const input = `${enc({ alg: 'EdDSA', typ: 'JWT', kid })}.${enc({ ...claims, role: 'admin' })}`;
    const otherKey = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), otherSeed]),
      format: 'der',
      type: 'pkcs8',
    });
    const forged = sign(null, Buffer.from(input), otherKey).toString('base64url');
    expect(verifyEdDsaJwt(`${input}.${forged}`, opts())).toEqual({ ok: false, reason: 'bad_signature' });
  });

  test('a tampered payload (role raised to admin) is refused', () => {
    const [h, , s] = split(signEdDsaJwt({}, claims, seed));
    expect(verifyEdDsaJwt(`${h}.${enc({ ...claims, role: 'admin' })}.${s}`, opts())).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  test('a tampered header (typ changed) is refused', () => {
    const [, p, s] = split(signEdDsaJwt({ typ: 'JWT' }, claims, seed));
    expect(verifyEdDsaJwt(`${enc({ alg: 'EdDSA', kid, typ: 'JWT' })}.${p}.${s}`, opts())).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyEdDsaJwt(signEdDsaJwt({ typ: 'at+jwt' }, claims, seed), opts())).toEqual({
      ok: false,
      reason: 'wrong_type',
    });
  });

  test('header extensions (jwk, crit) are refused rather than ignored', () => {
    const [, p] = split(signEdDsaJwt({}, claims, seed));
    for (const extra of [{ jwk: { kty: 'OKP' } }, { crit: ['exp'] }, { jku: 'https://evil.test' }]) {
      const token = `${enc({ alg: 'EdDSA', typ: 'JWT', kid, ...extra })}.${p}.${'A'.repeat(86)}`;
      expect(verifyEdDsaJwt(token, opts())).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  test('expired, beyond the clock skew, is refused; within it is accepted', () => {
    const token = signEdDsaJwt({}, { ...claims, iat: t - 7200, nbf: t - 7200, exp: t - 31 }, seed);
    expect(verifyEdDsaJwt(token, opts())).toEqual({ ok: false, reason: 'expired' });
    const edge = signEdDsaJwt({}, { ...claims, iat: t - 7200, nbf: t - 7200, exp: t - 29 }, seed);
    expect(verifyEdDsaJwt(edge, opts())).toMatchObject({ ok: true });
    expect(verifyEdDsaJwt(edge, opts({ clockSkewSeconds: 0 }))).toEqual({ ok: false, reason: 'expired' });
  });

  test('not yet valid (nbf in the future) is refused', () => {
    const token = signEdDsaJwt({}, { ...claims, nbf: t + 600 }, seed);
    expect(verifyEdDsaJwt(token, opts())).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect(verifyEdDsaJwt(token, opts({ now: NOW + 600_000 }))).toMatchObject({ ok: true });
  });

  test('issued in the future is refused', () => {
    const token = signEdDsaJwt({}, { ...claims, iat: t + 600, nbf: undefined, exp: t + 7200 }, seed);
    expect(verifyEdDsaJwt(token, opts())).toEqual({ ok: false, reason: 'issued_in_future' });
  });

  test('missing or non-numeric exp / iat is refused', () => {
    for (const bad of [{ exp: undefined }, { iat: undefined }, { exp: '9999999999' }, { nbf: 1.5 }]) {
      const token = signEdDsaJwt({}, { ...claims, ...bad } as unknown as JwtClaims, seed);
      expect(verifyEdDsaJwt(token, opts())).toEqual({ ok: false, reason: 'missing_lifetime' });
    }
  });

  test('wrong issuer and an over-long lifetime are refused', () => {
    expect(verifyEdDsaJwt(signEdDsaJwt({}, { ...claims, iss: 'gateway' }, seed), opts())).toEqual({
      ok: false,
      reason: 'wrong_issuer',
    });
    expect(verifyEdDsaJwt(signEdDsaJwt({}, claims, seed), opts({ maxLifetimeSeconds: 60 }))).toEqual({
      ok: false,
      reason: 'lifetime_too_long',
    });
  });

  test('garbage is malformed, never a crash', () => {
    for (const junk of ['', 'a.b', 'a.b.c.d', '...', 'e30.e30.e30', `${enc([1])}.${enc({})}.AA`, 'x'.repeat(10_000)]) {
      expect(verifyEdDsaJwt(junk, opts())).toMatchObject({ ok: false });
    }
  });

  test('a non-canonical signature encoding (second spelling of the same token) is refused', () => {
    const token = signEdDsaJwt({}, claims, seed);
    const [h, p, s] = split(token);
    // 64 bytes → 86 chars; the last char carries 2 unused bits. Flip one of them.
    const last = s[s.length - 1]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(s.slice(0, -1) + twin, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    expect(verifyEdDsaJwt(`${h}.${p}.${s.slice(0, -1)}${twin}`, opts())).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });
});

describe('createEdDsaVerifier: the one policy', () => {
  const verifier = (over: Partial<Parameters<typeof createEdDsaVerifier>[0]> = {}) =>
    createEdDsaVerifier({ keys: new Map([[kid, pub]]), issuer: 'flow8-auth', now: () => NOW, ...over });

  test('audience: required when set, exactly this one (an array naming it too is refused)', () => {
    const v = verifier({ audience: 'auth' });
    expect(v(signEdDsaJwt({}, { ...claims, aud: 'auth' }, seed))).toMatchObject({ ok: true });
    expect(v(signEdDsaJwt({}, { ...claims, aud: 'vault' }, seed))).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(v(signEdDsaJwt({}, claims, seed))).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(v(signEdDsaJwt({}, { ...claims, aud: ['auth', 'vault'] }, seed))).toEqual({
      ok: false,
      reason: 'wrong_audience',
    });
  });

  test('required and allowed claims are enforced, naming the claims', () => {
    const { jti: _jti, ...noJti } = claims;
    expect(verifier({ requiredClaims: ['jti'] })(signEdDsaJwt({}, noJti, seed))).toEqual({
      ok: false,
      reason: 'missing_claim',
      claims: ['jti'],
    });
    const allowed = new Set(['iss', 'sub', 'iat', 'nbf', 'exp', 'jti']);
    expect(verifier({ allowedClaims: allowed })(signEdDsaJwt({}, claims, seed))).toEqual({
      ok: false,
      reason: 'unexpected_claim',
      claims: ['role'],
    });
  });

  test('max token age counts from iat, whatever exp says', () => {
    const token = signEdDsaJwt({}, { ...claims, iat: t - 600, nbf: t - 600 }, seed);
    expect(verifier({ maxAgeSeconds: 300 })(token)).toEqual({ ok: false, reason: 'too_old' });
    expect(verifier({ maxAgeSeconds: 900 })(token)).toMatchObject({ ok: true });
  });

  test('the clock skew is bounded: a verifier cannot be built to tolerate hours', () => {
    expect(() => verifier({ clockSkewSeconds: 3600 })).toThrow(/clockSkewSeconds/);
    expect(() => verifier({ clockSkewSeconds: -1 })).toThrow(/clockSkewSeconds/);
  });

  test('the injected clock is read per token', () => {
    let now = NOW;
    const v = createEdDsaVerifier({ keys: new Map([[kid, pub]]), issuer: 'flow8-auth', now: () => now });
    const token = signEdDsaJwt({}, claims, seed);
    expect(v(token)).toMatchObject({ ok: true });
    now = NOW + 3600_000 + 31_000;
    expect(v(token)).toEqual({ ok: false, reason: 'expired' });
  });
});

describe('JWKS', () => {
  test('round-trips keys with their kids in RFC 8037 form', () => {
    const other = ed25519PublicKeyOfSeed(otherSeed);
    const jwks = jwksFromPublicKeys([pub, other]);
    expect(jwks.keys[0]).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(pub).toString('base64url'),
      kid,
      use: 'sig',
      alg: 'EdDSA',
    });
    const back = publicKeysFromJwks(JSON.parse(JSON.stringify(jwks)));
    expect([...back.keys()]).toEqual([kid, keyIdOf(other)]);
    expect(Buffer.from(back.get(kid)!).equals(Buffer.from(pub))).toBe(true);
    // A token verifies against keys read back from the document.
    expect(verifyEdDsaJwt(signEdDsaJwt({}, claims, otherSeed), opts({ keys: back }))).toMatchObject({ ok: true });
  });

  test('a key whose kid does not match its bytes, or a short key, makes the document invalid', () => {
    const [k] = jwksFromPublicKeys([pub]).keys;
    expect(() => publicKeysFromJwks({ keys: [{ ...k, kid: '0123456789abcdef' }] })).toThrow(/does not match/);
    expect(() => publicKeysFromJwks({ keys: [{ ...k, x: 'AAAA' }] })).toThrow(/32 bytes/);
    expect(() => publicKeysFromJwks({ nope: [] })).toThrow(/JWKS/);
  });

  test('keys of other types or uses are skipped, not trusted', () => {
    const [k] = jwksFromPublicKeys([pub]).keys;
    const m = publicKeysFromJwks({
      keys: [
        { kty: 'RSA', n: 'x', e: 'AQAB', kid: 'r1' },
        { ...k, use: 'enc' },
        { kty: 'oct', k: 'c2VjcmV0', kid },
      ],
    });
    expect(m.size).toBe(0);
  });
});
