import { DecryptError } from './aead';
import { toBase64, toHex } from './encoding';
import { generateKey, generateKeyId, keyFingerprint, rootKeyLookup, unwrapKey, wrapKey } from './keys';
import { ready } from './sodium';

describe('key hierarchy', () => {
  beforeAll(async () => {
    await ready();
  });

  it('fingerprints a root key deterministically without revealing it', () => {
    const k = generateKey();
    const fp = keyFingerprint(k);
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(keyFingerprint(Uint8Array.from(k))).toBe(fp);
    expect(keyFingerprint(generateKey())).not.toBe(fp);
    expect(toHex(k)).not.toContain(fp);
    expect(toBase64(k)).not.toContain(fp);
  });

  it('wraps and unwraps a data key under either configured root key', () => {
    const oldRoot = generateKey();
    const newRoot = generateKey();
    const dataKey = generateKey();
    const dataKeyId = toHex(generateKeyId());
    const wrapped = wrapKey({ rootKey: oldRoot, dataKey, dataKeyId, tenantId: 'ten_a', purpose: 'tenant' });
    const got = unwrapKey({
      rootKeys: rootKeyLookup([newRoot, oldRoot]),
      wrapped,
      dataKeyId,
      tenantId: 'ten_a',
      purpose: 'tenant',
    });
    expect(toHex(got)).toBe(toHex(dataKey));
  });

  it.each([
    ['another tenant', { tenantId: 'ten_b' }],
    ['another purpose', { purpose: 'subject:sub_1' as const }],
    ['another data key id', { dataKeyId: 'ff'.repeat(16) }],
  ])('refuses to unwrap a wrapped key moved to %s', (_w, change) => {
    const root = generateKey();
    const dataKeyId = toHex(generateKeyId());
    const base = { tenantId: 'ten_a', purpose: 'tenant' as const, dataKeyId };
    const wrapped = wrapKey({ rootKey: root, dataKey: generateKey(), ...base });
    expect(() => unwrapKey({ rootKeys: rootKeyLookup([root]), wrapped, ...base, ...change })).toThrow(DecryptError);
  });

  it('refuses to unwrap without the root key that wrapped it', () => {
    const dataKeyId = toHex(generateKeyId());
    const wrapped = wrapKey({
      rootKey: generateKey(),
      dataKey: generateKey(),
      dataKeyId,
      tenantId: 't',
      purpose: 'tenant',
    });
    try {
      unwrapKey({ rootKeys: rootKeyLookup([generateKey()]), wrapped, dataKeyId, tenantId: 't', purpose: 'tenant' });
      throw new Error('unwrapped');
    } catch (e) {
      expect(e).toBeInstanceOf(DecryptError);
      expect((e as DecryptError).reason).toBe('UNKNOWN_KEY');
    }
  });
});
