import { associatedData, DecryptError, open, seal, sealedKeyId, SEALED_FORMAT } from './aead';
import { toHex } from './encoding';
import { generateKey, generateKeyId } from './keys';
import { ready } from './sodium';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const AD = { tenantId: 'ten_a', recordId: 'crd_1', version: 1, field: 'secret' };

function failureOf(fn: () => unknown): DecryptError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecryptError) return e;
    throw e;
  }
  throw new Error('expected a DecryptError, the value opened');
}

describe('AEAD (XChaCha20-Poly1305, format v1)', () => {
  let key: Uint8Array;
  let keyId: Uint8Array;
  const lookup = () => (id: string) => (id === toHex(keyId) ? key : undefined);

  beforeAll(async () => {
    await ready();
    key = generateKey();
    keyId = generateKeyId();
  });

  it('round-trips and lays out version ‖ keyId ‖ nonce ‖ ciphertext+tag', () => {
    const sealed = seal({ key, keyId, plaintext: enc('sk_live_canary'), ad: associatedData(AD) });
    expect(sealed[0]).toBe(SEALED_FORMAT.V1);
    expect(toHex(sealed.subarray(1, 17))).toBe(toHex(keyId));
    expect(sealed.byteLength).toBe(1 + 16 + 24 + 'sk_live_canary'.length + 16);
    expect(sealedKeyId(sealed)).toBe(toHex(keyId));
    expect(dec(open({ keys: lookup(), sealed, ad: associatedData(AD) }))).toBe('sk_live_canary');
    // The plaintext does not appear in the sealed bytes.
    expect(Buffer.from(sealed).includes(Buffer.from('sk_live_canary'))).toBe(false);
  });

  it('uses a fresh nonce every time', () => {
    const a = seal({ key, keyId, plaintext: enc('x'), ad: associatedData(AD) });
    const b = seal({ key, keyId, plaintext: enc('x'), ad: associatedData(AD) });
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it.each([
    ['another tenant', { tenantId: 'ten_b' }],
    ['another record', { recordId: 'crd_2' }],
    ['another version', { version: 2 }],
    ['another field', { field: 'password' }],
  ])('refuses to open with the associated data of %s', (_what, change) => {
    const sealed = seal({ key, keyId, plaintext: enc('s3cret'), ad: associatedData(AD) });
    const e = failureOf(() => open({ keys: lookup(), sealed, ad: associatedData({ ...AD, ...change }) }));
    expect(e.reason).toBe('AUTHENTICATION_FAILED');
    expect(e.message).not.toContain('s3cret');
  });

  it.each([
    ['sealed for one service, opened for another', { ...AD, service: 'flow-engine' }, { ...AD, service: 'retention' }],
    ['sealed for a service, opened without one', { ...AD, service: 'flow-engine' }, AD],
    ['sealed without a service, opened for one', AD, { ...AD, service: 'flow-engine' }],
  ])('binds the service: refuses %s', (_what, sealedFor, openedFor) => {
    const sealed = seal({ key, keyId, plaintext: enc('s3cret'), ad: associatedData(sealedFor) });
    expect(failureOf(() => open({ keys: lookup(), sealed, ad: associatedData(openedFor) })).reason).toBe(
      'AUTHENTICATION_FAILED',
    );
    expect(dec(open({ keys: lookup(), sealed, ad: associatedData(sealedFor) }))).toBe('s3cret');
  });

  it('refuses any single flipped bit, header included', () => {
    const sealed = seal({ key, keyId, plaintext: enc('s3cret'), ad: associatedData(AD) });
    for (let i = 1; i < sealed.byteLength; i += 1) {
      const bad = Uint8Array.from(sealed);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      const e = failureOf(() => open({ keys: () => key, sealed: bad, ad: associatedData(AD) }));
      expect(e.reason).toBe('AUTHENTICATION_FAILED');
    }
  });

  it('refuses an unknown key id, naming the id but not the key', () => {
    const sealed = seal({ key, keyId, plaintext: enc('s3cret'), ad: associatedData(AD) });
    const e = failureOf(() => open({ keys: () => undefined, sealed, ad: associatedData(AD) }));
    expect(e.reason).toBe('UNKNOWN_KEY');
    expect(e.keyId).toBe(toHex(keyId));
  });

  it('refuses the wrong key', () => {
    const sealed = seal({ key, keyId, plaintext: enc('s3cret'), ad: associatedData(AD) });
    const e = failureOf(() => open({ keys: () => generateKey(), sealed, ad: associatedData(AD) }));
    expect(e.reason).toBe('AUTHENTICATION_FAILED');
  });

  it('checks the format version byte and the length', () => {
    const sealed = seal({ key, keyId, plaintext: enc('s3cret'), ad: associatedData(AD) });
    for (const v of [0x00, 0x02, 0xff]) {
      const bad = Uint8Array.from(sealed);
      bad[0] = v;
      expect(failureOf(() => open({ keys: lookup(), sealed: bad, ad: associatedData(AD) })).reason).toBe(
        'UNSUPPORTED_VERSION',
      );
    }
    expect(failureOf(() => open({ keys: lookup(), sealed: new Uint8Array(0), ad: associatedData(AD) })).reason).toBe(
      'MALFORMED',
    );
    expect(
      failureOf(() => open({ keys: lookup(), sealed: sealed.subarray(0, 40), ad: associatedData(AD) })).reason,
    ).toBe('MALFORMED');
  });

  it('encodes associated data unambiguously', () => {
    const a = associatedData({ tenantId: 'ten_ab', recordId: 'c', version: 1, field: 'f' });
    const b = associatedData({ tenantId: 'ten_a', recordId: 'bc', version: 1, field: 'f' });
    expect(toHex(a)).not.toBe(toHex(b));
    expect(() => associatedData({ ...AD, tenantId: '' })).toThrow(/tenantId/);
  });

  it('refuses malformed keys when sealing', () => {
    expect(() => seal({ key: new Uint8Array(16), keyId, plaintext: enc('x'), ad: new Uint8Array() })).toThrow(
      /32 bytes/,
    );
    expect(() => seal({ key, keyId: new Uint8Array(8), plaintext: enc('x'), ad: new Uint8Array() })).toThrow(
      /16 bytes/,
    );
  });
});
