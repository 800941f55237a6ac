import { randomBytes, sign } from 'node:crypto';
import { createIdentitySigner, ed25519PrivateKey, ed25519RawPublicKey } from './internal-identity';
import { createServiceCallSigner, createServiceCallVerifier } from './service-caller';

const T0 = 1_800_000_000_000;
const TENANT = 'ten_01m8nrq3pae00aekwk728ttwm3';
const USER = { type: 'user' as const, id: 'usr_01m8nrq3pae00aekwk728ttwm4' };
const engineSeed = randomBytes(32);
const retentionSeed = randomBytes(32);
const engine = createServiceCallSigner({ service: 'flow-engine', seed: engineSeed, now: () => T0 });
const verify = createServiceCallVerifier({
  audience: 'credential-vault',
  keys: new Map([
    ['flow-engine', [ed25519RawPublicKey(engineSeed)]],
    ['retention', [ed25519RawPublicKey(retentionSeed)]],
  ]),
  now: () => T0,
});

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
function parts(token: string) {
  const [h, p] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}
function forge(seed: Buffer, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), ed25519PrivateKey(seed)).toString('base64url')}`;
}
const reason = (o: ReturnType<typeof verify>) => (o.ok ? 'ok' : o.reason);

describe('service-call tokens', () => {
  const good = engine.sign({ tenantId: TENANT, actingFor: USER }, 'credential-vault');

  test('the calling service, company and principal — nothing else', () => {
    expect(verify(good, 'flow-engine')).toEqual({
      ok: true,
      call: { service: 'flow-engine', tenantId: TENANT, actingFor: USER },
    });
    const own = engine.sign({ tenantId: TENANT, actingFor: null }, 'credential-vault');
    expect(verify(own, 'flow-engine')).toMatchObject({ ok: true, call: { actingFor: null } });
  });

  test('presented by another service (its certificate) → refused', () => {
    expect(reason(verify(good, 'retention'))).toBe('not signed by a key of the calling service');
    expect(reason(verify(good, 'gateway'))).toBe('not signed by a key of the calling service');
  });

  test("another service's trusted key, an unknown key, another audience → refused", () => {
    const withRetentionKey = createServiceCallSigner({ service: 'flow-engine', seed: retentionSeed, now: () => T0 });
    expect(
      reason(verify(withRetentionKey.sign({ tenantId: TENANT, actingFor: USER }, 'credential-vault'), 'flow-engine')),
    ).toBe('not signed by a key of the calling service');
    const stranger = createServiceCallSigner({ service: 'flow-engine', seed: randomBytes(32), now: () => T0 });
    expect(
      reason(verify(stranger.sign({ tenantId: TENANT, actingFor: USER }, 'credential-vault'), 'flow-engine')),
    ).toBe('not signed by a key of the calling service');
    expect(reason(verify(engine.sign({ tenantId: TENANT, actingFor: USER }, 'auth'), 'flow-engine'))).toBe(
      'token is for another service',
    );
  });

  test('an issuer that is not the certificate → refused', () => {
    const { header, claims } = parts(good);
    expect(reason(verify(forge(engineSeed, header, { ...claims, iss: 'retention' }), 'flow-engine'))).toBe(
      'issuer is not the calling service',
    );
  });

  test.each([
    ['a role', { role: 'admin' }],
    ['scopes', { scopes: ['credentials:read'] }],
    ['an owner', { oid: 'usr_01m8nrq3pae00aekwk728ttwm5' }],
  ])('a token carrying %s is refused even with the right key', (_what, extra) => {
    const { header, claims } = parts(good);
    expect(reason(verify(forge(engineSeed, header, { ...claims, ...extra }), 'flow-engine'))).toMatch(
      /unexpected claims/,
    );
  });

  test('a role smuggled into the principal, a malformed principal or company → refused', () => {
    const { header, claims } = parts(good);
    const t = (c: Record<string, unknown>) =>
      reason(verify(forge(engineSeed, header, { ...claims, ...c }), 'flow-engine'));
    expect(t({ act: { ...USER, role: 'admin' } })).toBe('unexpected principal claims');
    expect(t({ act: { type: 'user', id: 'key_01m8nrq3pae00aekwk728ttwm4' } })).toBe('malformed principal');
    expect(t({ act: { type: 'operator', id: 'operator' } })).toBe('malformed principal');
    expect(t({ tid: null })).toBe('no company');
  });

  test("the gateway's kind of token, expired, too long-lived, altered → refused", () => {
    const gatewayKind = createIdentitySigner({ seed: engineSeed, now: () => T0 }).sign(
      { tenantId: TENANT, type: 'user', id: USER.id, role: 'admin', scopes: [], ip: null, sessionId: null },
      'credential-vault',
    );
    expect(reason(verify(gatewayKind, 'flow-engine'))).toBe('unexpected algorithm or type');
    const old = createServiceCallSigner({ service: 'flow-engine', seed: engineSeed, now: () => T0 - 120_000 });
    expect(reason(verify(old.sign({ tenantId: TENANT, actingFor: USER }, 'credential-vault'), 'flow-engine'))).toBe(
      'expired',
    );
    const long = createServiceCallSigner({ service: 'flow-engine', seed: engineSeed, ttlSeconds: 3600, now: () => T0 });
    expect(reason(verify(long.sign({ tenantId: TENANT, actingFor: USER }, 'credential-vault'), 'flow-engine'))).toBe(
      'lifetime too long',
    );
    const [h, , s] = good.split('.');
    const { claims } = parts(good);
    expect(
      reason(verify(`${h}.${b64url({ ...claims, tid: 'ten_01m8nrq3pae00aekwk728ttwm9' })}.${s}`, 'flow-engine')),
    ).toBe('bad signature');
  });
});
