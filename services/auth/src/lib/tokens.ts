import { createHash, randomBytes } from 'node:crypto';

/** An opaque bearer secret: 32 random bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored instead of a token: SHA-256 of its exact bytes as sent. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
