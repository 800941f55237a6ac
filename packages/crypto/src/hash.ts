import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 over the concatenation of `parts` (no copy is made to concatenate them). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
}

/**
 * Compares two byte strings without a data-dependent early exit. The length is not treated as
 * secret: different lengths return false immediately.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return timingSafeEqual(a, b);
}

/**
 * Compares two secrets of any length in constant time: both are hashed (SHA-256) first, so
 * neither the content nor the length of the expected secret leaks through timing. The one way to
 * compare a presented secret (a bearer token, a CSRF token) with the expected one.
 */
export function sameSecret(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
