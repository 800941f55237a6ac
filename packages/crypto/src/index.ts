export { ready, isReady } from './sodium';
export { canonicalize, canonicalBytes, CanonicalizationError } from './canonical';
export { toHex, fromHex, toBase64, fromBase64 } from './encoding';
export { sha256, constantTimeEqual } from './hash';
export {
  generateSigningKeyPair,
  signingKeyPairFromSeed,
  sign,
  verifySignature,
  publicKeyId,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SECRET_KEY_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
} from './signing';
export type { SigningKeyPair } from './signing';
