export { ready, isReady } from './sodium';
export { canonicalize, canonicalBytes, CanonicalizationError, iJsonProblem } from './canonical';
export { toHex, fromHex, toBase64, fromBase64 } from './encoding';
export { sha256, constantTimeEqual, sameSecret } from './hash';
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
export {
  seal,
  open,
  sealedKeyId,
  sealedVersion,
  associatedData,
  encodeFields,
  DecryptError,
  SEALED_FORMAT,
  AEAD_KEY_BYTES,
  AEAD_KEY_ID_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
} from './aead';
export type { DecryptFailure, KeyLookup, SealedFormatVersion } from './aead';
export {
  generateKey,
  generateKeyId,
  keyFingerprint,
  wrapKey,
  unwrapKey,
  rootKeyLookup,
  KEY_FINGERPRINT_BYTES,
} from './keys';
export type { WrapPurpose } from './keys';
