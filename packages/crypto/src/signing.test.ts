import { toHex } from './encoding';
import { sha256 } from './hash';
import { generateSigningKeyPair, publicKeyId, sign, signingKeyPairFromSeed, verifySignature } from './signing';
import { ready } from './sodium';

const msg = new TextEncoder().encode('checkpoint: tenant ten_1, seq 42');

describe('Ed25519 before ready()', () => {
  it('refuses to run with a clear error instead of a libsodium internal failure', () => {
    // This block runs first; the module-level libsodium has not been initialised yet.
    expect(() => generateSigningKeyPair()).toThrow(/call and await ready\(\) first/);
  });
});

describe('Ed25519', () => {
  beforeAll(async () => {
    await ready();
  });

  it('signs and verifies a detached signature', () => {
    const kp = generateSigningKeyPair();
    expect(kp.publicKey).toHaveLength(32);
    expect(kp.secretKey).toHaveLength(64);
    const sig = sign(msg, kp.secretKey);
    expect(sig).toHaveLength(64);
    expect(verifySignature(sig, msg, kp.publicKey)).toBe(true);
  });

  it('refuses a tampered message, a tampered signature and the wrong key', () => {
    const kp = generateSigningKeyPair();
    const other = generateSigningKeyPair();
    const sig = sign(msg, kp.secretKey);
    const badMsg = msg.slice();
    badMsg[5]! ^= 1;
    const badSig = sig.slice();
    badSig[10]! ^= 0x80;
    expect(verifySignature(sig, badMsg, kp.publicKey)).toBe(false);
    expect(verifySignature(badSig, msg, kp.publicKey)).toBe(false);
    expect(verifySignature(sig, msg, other.publicKey)).toBe(false);
  });

  it('returns false, never throws, for malformed input', () => {
    const kp = generateSigningKeyPair();
    const sig = sign(msg, kp.secretKey);
    expect(verifySignature(sig.subarray(0, 63), msg, kp.publicKey)).toBe(false);
    expect(verifySignature(sig, msg, kp.publicKey.subarray(0, 31))).toBe(false);
    expect(verifySignature(new Uint8Array(64), msg, new Uint8Array(32))).toBe(false);
    expect(verifySignature('x' as unknown as Uint8Array, msg, kp.publicKey)).toBe(false);
  });

  it('derives the same key pair from the same seed (RFC 8032 test 1)', () => {
    const seed = Uint8Array.from(
      Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
    );
    const a = signingKeyPairFromSeed(seed);
    const b = signingKeyPairFromSeed(seed);
    expect(toHex(a.publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(b).toEqual(a);
    // RFC 8032 §7.1 TEST 1: the signature of the empty message.
    expect(toHex(sign(new Uint8Array(0), a.secretKey))).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    expect(() => signingKeyPairFromSeed(seed.subarray(0, 31))).toThrow(/32 bytes/);
  });

  it('names a public key by the first 16 hex characters of its SHA-256', () => {
    const kp = generateSigningKeyPair();
    const id = publicKeyId(kp.publicKey);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(id).toBe(toHex(sha256(kp.publicKey)).slice(0, 16));
    expect(publicKeyId(generateSigningKeyPair().publicKey)).not.toBe(id);
  });
});
