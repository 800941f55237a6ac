import { toHex } from './encoding';
import { sha256 } from './hash';
import { requireSodium } from './sodium';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SECRET_KEY_BYTES = 64;
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

export type SigningKeyPair = {
  /** 32 raw bytes. */
  publicKey: Uint8Array;
  /** 64 bytes in libsodium's layout: seed ‖ public key. Never log it. */
  secretKey: Uint8Array;
};

function checkBytes(value: unknown, length: number, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength !== length) {
    throw new Error(`${what} must be a Uint8Array of ${length} bytes`);
  }
}

/** A fresh random Ed25519 key pair. Requires `ready()`. */
export function generateSigningKeyPair(): SigningKeyPair {
  const kp = requireSodium('generateSigningKeyPair').crypto_sign_keypair();
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/** The Ed25519 key pair derived from a 32-byte seed (same seed, same keys). Requires `ready()`. */
export function signingKeyPairFromSeed(seed32: Uint8Array): SigningKeyPair {
  const sodium = requireSodium('signingKeyPairFromSeed');
  checkBytes(seed32, ED25519_SEED_BYTES, 'Ed25519 seed');
  const kp = sodium.crypto_sign_seed_keypair(seed32);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/** Detached Ed25519 signature (64 bytes) over `message`. Requires `ready()`. */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const sodium = requireSodium('sign');
  if (!(message instanceof Uint8Array)) throw new Error('message must be a Uint8Array');
  checkBytes(secretKey, ED25519_SECRET_KEY_BYTES, 'Ed25519 secret key');
  return sodium.crypto_sign_detached(message, secretKey);
}

/**
 * True only if `signature` is a valid Ed25519 signature of `message` under `publicKey`.
 * Malformed input (wrong lengths, wrong types, an invalid point) gives false, never an
 * exception, so a verifier can treat every refusal the same way. Requires `ready()` (that
 * misuse does throw: it is a programming error, not a bad signature).
 */
export function verifySignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const sodium = requireSodium('verifySignature');
  if (
    !(signature instanceof Uint8Array) ||
    signature.byteLength !== ED25519_SIGNATURE_BYTES ||
    !(message instanceof Uint8Array) ||
    !(publicKey instanceof Uint8Array) ||
    publicKey.byteLength !== ED25519_PUBLIC_KEY_BYTES
  ) {
    return false;
  }
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** First 16 hex characters of SHA-256 of the raw 32-byte public key. */
export function publicKeyId(publicKey: Uint8Array): string {
  checkBytes(publicKey, ED25519_PUBLIC_KEY_BYTES, 'Ed25519 public key');
  return toHex(sha256(publicKey)).slice(0, 16);
}
