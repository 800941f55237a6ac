// PKCE (RFC 7636) and state values. Only S256: `plain` gives no protection against a stolen code.
import { createHash, randomBytes } from 'node:crypto';

/** RFC 7636 §4.1: 43–128 characters from the unreserved set. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** 32 random bytes → 43 base64url characters (256 bits of entropy). */
export function generateCodeVerifier(): string {
  return randomBytes(32).toString('base64url');
}

/** RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
export function codeChallengeS256(codeVerifier: string): string {
  if (!VERIFIER.test(codeVerifier)) throw new RangeError('code_verifier must be 43-128 unreserved characters');
  return createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
}

/** An unguessable, single-use `state` (256 bits). */
export function generateState(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What the store keys a pending authorization by: SHA-256 of the state, hex. A leaked state
 * table then gives nobody a state value to present at the callback.
 */
export function stateKey(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}
