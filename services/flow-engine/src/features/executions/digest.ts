// What the ledger gets instead of data: SHA-256 over the execution's salt and the canonical JSON
// of the value. The salt stays with the execution (so whoever holds the data can prove it matches
// the ledger) and dies with it (so the ledger's digests cannot be tested against guesses of
// small inputs once the execution is forgotten).
import { randomBytes } from 'node:crypto';
import { canonicalBytes, sha256, toHex } from '@flow8/crypto';

export function newDigestSalt(): Buffer {
  return randomBytes(32);
}

export function saltedDigest(salt: Uint8Array, value: unknown): string {
  return toHex(sha256(salt, canonicalBytes(value ?? null)));
}
