import { createHmac, randomBytes } from 'node:crypto';
import {
  createIdentitySigner,
  createIdentityVerifier,
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
