import { createHmac, randomBytes, sign } from 'node:crypto';
import {
  createIdentitySigner,
  createIdentityVerifier,
  ed25519PrivateKey,
  ed25519RawPublicKey,
  type InternalPrincipal,
} from './internal-identity';

const seed = randomBytes(32);
const principal: InternalPrincipal = {
  tenantId: 'ten_01m8nrq3pae00aekwk728ttwm3',
  type: 'user',
  id: 'usr_01m8nrq3pae00aekwk728ttwm4',
  role: 'viewer',
  scopes: [],
  ip: '203.0.113.5',
  sessionId: 'ses_x',
  ownerId: null,
};
const T0 = 1_800_000_000_000;
const signer = createIdentitySigner({ seed, now: () => T0 });
const verifier = (over: Partial<Parameters<typeof createIdentityVerifier>[0]> = {}) =>
  createIdentityVerifier({ publicKeys: [ed25519RawPublicKey(seed)], audience: 'auth', now: () => T0, ...over });

function parts(token: string) {
  const [h, p, s] = token.split('.') as [string, string, string];
  return {
    h: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    p: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
    s,
    raw: [h, p, s],
  };
}
const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('internal identity tokens', () => {
  test('a token for this service verifies and carries the principal', () => {
    const r = verifier()(signer.sign(principal, 'auth'));
    expect(r).toMatchObject({ ok: true, principal });
  });

  test('a token minted for another service is refused', () => {
    expect(verifier()(signer.sign(principal, 'audit-ingest'))).toMatchObject({ ok: false });
  });

  test('alg none is refused', () => {
    const { p } = parts(signer.sign(principal, 'auth'));
    const forged = `${enc({ alg: 'none', typ: 'flow8-identity+jwt', kid: signer.kid })}.${enc(p)}.`;
    expect(verifier()(forged)).toMatchObject({ ok: false });
  });

  test('HS256 signed with the public key (algorithm confusion) is refused', () => {
    const { p } = parts(signer.sign(principal, 'auth'));
    const input = `${enc({ alg: 'HS256', typ: 'flow8-identity+jwt', kid: signer.kid })}.${enc(p)}`;
    const mac = createHmac('sha256', Buffer.from(ed25519RawPublicKey(seed)))
      .update(input)
      .digest('base64url');
    expect(verifier()(`${input}.${mac}`)).toMatchObject({ ok: false });
  });

  test('a tampered payload (role raised to admin) is refused', () => {
    const { h, p, s } = parts(signer.sign(principal, 'auth'));
    expect(verifier()(`${enc(h)}.${enc({ ...p, role: 'admin' })}.${s}`)).toMatchObject({
      ok: false,
      reason: 'bad signature',
    });
  });

  test('an unknown key id, or a key that is not trusted, is refused', () => {
    const other = createIdentitySigner({ seed: randomBytes(32), now: () => T0 });
    expect(verifier()(other.sign(principal, 'auth'))).toMatchObject({ ok: false, reason: 'unknown key id' });
  });

  test('expired and not-yet-valid tokens are refused', () => {
    const token = signer.sign(principal, 'auth');
    expect(verifier({ now: () => T0 + 61_000 + 5_000 })(token)).toMatchObject({ ok: false, reason: 'expired' });
    expect(verifier({ now: () => T0 - 60_000 })(token)).toMatchObject({ ok: false, reason: 'issued in the future' });
  });

  test('a long-lived token is refused even when validly signed', () => {
    const long = createIdentitySigner({ seed, ttlSeconds: 3600, now: () => T0 });
    expect(verifier()(long.sign(principal, 'auth'))).toMatchObject({ ok: false, reason: 'lifetime too long' });
  });

  test('during a key change both keys verify', () => {
    const next = randomBytes(32);
    const v = verifier({ publicKeys: [ed25519RawPublicKey(seed), ed25519RawPublicKey(next)] });
    expect(v(signer.sign(principal, 'auth')).ok).toBe(true);
    expect(v(createIdentitySigner({ seed: next, now: () => T0 }).sign(principal, 'auth')).ok).toBe(true);
  });
});

// Before the verifiers were one (@flow8/jwt on fast-jwt), this one was laxer than the API-key
// verifier: each case below was ACCEPTED (or crashed the request) with a token properly signed by
// the gateway's key. A leaked or replayed gateway token must not get a second life through them.
describe('internal identity tokens: the one strict policy', () => {
  const good = signer.sign(principal, 'auth');
  const forge = (header: Record<string, unknown>, claims: unknown) => {
    const input = `${enc(header)}.${enc(claims)}`;
    return `${input}.${sign(null, Buffer.from(input), ed25519PrivateKey(seed)).toString('base64url')}`;
  };
  const t = T0 / 1000;

  test('a second spelling of a valid signature (unused trailing bits, stray characters) is refused', () => {
    const [h, p, s] = parts(good).raw as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(s[s.length - 1]!) ^ 1]!;
    expect(Buffer.from(s.slice(0, -1) + twin, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    expect(verifier()(`${h}.${p}.${s.slice(0, -1)}${twin}`)).toMatchObject({ ok: false, reason: 'bad signature' });
    expect(verifier()(`${h}.${p}.${s}!!`)).toMatchObject({ ok: false, reason: 'malformed token' });
  });

  test('a token not valid yet (nbf in the future) is refused', () => {
    const { h, p } = parts(good);
    const early = forge(h, { ...p, nbf: t + 60 });
    expect(verifier()(early)).toMatchObject({ ok: false, reason: 'not yet valid' });
    expect(verifier({ now: () => T0 + 60_000 })(early)).toMatchObject({ ok: true });
  });

  test('header extensions (jwk, jku, crit) are refused, not ignored', () => {
    const { h, p } = parts(good);
    for (const extra of [{ jwk: { kty: 'OKP' } }, { jku: 'https://evil.test/jwks' }, { crit: ['exp'] }]) {
      expect(verifier()(forge({ ...h, ...extra }, p))).toMatchObject({ ok: false, reason: 'malformed token' });
    }
  });

  test('a lifetime that ends before it starts, or fractional times, are refused', () => {
    const { h, p } = parts(good);
    expect(verifier()(forge(h, { ...p, iat: t, exp: t - 1 }))).toMatchObject({ ok: false });
    expect(verifier()(forge(h, { ...p, iat: t + 0.5, exp: t + 60.5 }))).toMatchObject({
      ok: false,
      reason: 'no lifetime',
    });
  });

  test('a token without a token id (jti) is refused', () => {
    const { h, p } = parts(good);
    const { jti: _jti, ...noJti } = p;
    expect(verifier()(forge(h, noJti))).toMatchObject({ ok: false, reason: 'missing claims: jti' });
  });

  test('a payload that is not an object is refused, never a crash', () => {
    const { h } = parts(good);
    for (const payload of [null, [1], 'x', 42]) {
      expect(verifier()(forge(h, payload))).toMatchObject({ ok: false, reason: 'malformed token' });
    }
  });

  test('an oversized token is refused before any parsing', () => {
    const { h, p } = parts(good);
    expect(verifier()(forge(h, { ...p, pad: 'x'.repeat(9000) }))).toMatchObject({
      ok: false,
      reason: 'malformed token',
    });
  });
});
