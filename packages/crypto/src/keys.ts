// The key hierarchy's building blocks: the root key-encryption key (ENCRYPTION_KEY) wraps data
// keys; data keys seal secrets (aead.ts). A root key is identified by a keyed-hash fingerprint,
// which is safe to store and print: it proves which key is meant without revealing it.
import { DecryptError, type KeyLookup, AEAD_KEY_BYTES, AEAD_KEY_ID_BYTES, encodeFields, open, seal } from './aead';
import { fromHex, toHex } from './encoding';
import { requireSodium } from './sodium';

const FINGERPRINT_LABEL = new TextEncoder().encode('flow8/root-key-fingerprint/v1');
const WRAP_LABEL = 'flow8/wrap/v1';
/** Fingerprint length in bytes (32 hex characters); also used as the root key's key id. */
export const KEY_FINGERPRINT_BYTES = AEAD_KEY_ID_BYTES;

/** 32 fresh random bytes. Requires `ready()`. */
export function generateKey(): Uint8Array {
  return requireSodium('generateKey').randombytes_buf(AEAD_KEY_BYTES);
}

/** 16 fresh random bytes naming a data key. Requires `ready()`. */
export function generateKeyId(): Uint8Array {
  return requireSodium('generateKeyId').randombytes_buf(AEAD_KEY_ID_BYTES);
}

/**
 * BLAKE2b keyed with the root key over a constant label → 16 bytes, as 32 hex characters.
 * Deterministic, so start-up can compare it with the fingerprint stored beside the data; one-way
 * and keyed, so it reveals nothing about the key. Requires `ready()`.
 */
export function keyFingerprint(rootKey: Uint8Array): string {
  const sodium = requireSodium('keyFingerprint');
  if (!(rootKey instanceof Uint8Array) || rootKey.byteLength !== AEAD_KEY_BYTES) {
    throw new Error(`root key must be a Uint8Array of ${AEAD_KEY_BYTES} bytes`);
  }
  return toHex(sodium.crypto_generichash(KEY_FINGERPRINT_BYTES, FINGERPRINT_LABEL, rootKey));
}

/** Purpose of a wrapped key: a tenant's data key, or (for retention) one data subject's key. */
export type WrapPurpose = `tenant` | `subject:${string}`;

function wrapAd(tenantId: string, purpose: WrapPurpose, dataKeyId: string): Uint8Array {
  if (!tenantId) throw new Error('tenantId must be a non-empty string');
  if (!/^[0-9a-f]{32}$/.test(dataKeyId)) throw new Error('dataKeyId must be 32 lowercase hex characters');
  return encodeFields([WRAP_LABEL, tenantId, purpose, dataKeyId]);
}

/**
 * Seals a data key under the root key. The wrapped bytes are in the AEAD format with the root
 * key's fingerprint as key id, and bind tenant, purpose and the data key's id, so a wrapped key
 * copied to another tenant or purpose does not unwrap. Requires `ready()`.
 */
export function wrapKey(input: {
  rootKey: Uint8Array;
  dataKey: Uint8Array;
  dataKeyId: string;
  tenantId: string;
  purpose: WrapPurpose;
}): Uint8Array {
  if (!(input.dataKey instanceof Uint8Array) || input.dataKey.byteLength !== AEAD_KEY_BYTES) {
    throw new Error(`data key must be a Uint8Array of ${AEAD_KEY_BYTES} bytes`);
  }
  return seal({
    key: input.rootKey,
    keyId: fromHex(keyFingerprint(input.rootKey)),
    plaintext: input.dataKey,
    ad: wrapAd(input.tenantId, input.purpose, input.dataKeyId),
  });
}

/**
 * Opens a wrapped data key with whichever root key its header names (`rootKeys` looks keys up
 * by fingerprint; see `rootKeyLookup`). Throws DecryptError. Requires `ready()`.
 */
export function unwrapKey(input: {
  rootKeys: KeyLookup;
  wrapped: Uint8Array;
  dataKeyId: string;
  tenantId: string;
  purpose: WrapPurpose;
}): Uint8Array {
  const key = open({
    keys: input.rootKeys,
    sealed: input.wrapped,
    ad: wrapAd(input.tenantId, input.purpose, input.dataKeyId),
  });
  if (key.byteLength !== AEAD_KEY_BYTES) throw new DecryptError('MALFORMED');
  return key;
}

/** A KeyLookup over root keys by their fingerprint (the current key, plus the previous one during a change). */
export function rootKeyLookup(rootKeys: readonly Uint8Array[]): KeyLookup {
  const byFingerprint = new Map(rootKeys.map((k) => [keyFingerprint(k), k] as const));
  return (id) => byFingerprint.get(id);
}
