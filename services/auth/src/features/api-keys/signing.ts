// The signing keys for API keys. The first seed of AUTH_API_KEY_SIGNING_KEYS signs new keys; the
// others only verify — so a signing-key change is: put the new seed first, keep the old one until
// the last key it signed has expired, then drop it. The JWKS publishes the public half of each.
import { ed25519PublicKeyOfSeed, jwksFromPublicKeys, keyIdOf, signEdDsaJwt, type Jwks } from '@flow8/jwt';
import type { ApiKeyClaims } from './verify';

export interface SigningKeyring {
  /** kid of the active (first) key. */
  activeKid: string;
  sign(claims: ApiKeyClaims): string;
  jwks(): Jwks;
  /** kid → raw public key, for verifying in-process. */
  publicKeys(): Map<string, Uint8Array>;
}

export function createSigningKeyring(seeds: readonly Uint8Array[]): SigningKeyring {
  const active = seeds[0];
  if (!active) throw new Error('at least one API-key signing key is required');
  const pubs = seeds.map((s) => ed25519PublicKeyOfSeed(s));
  const kids = pubs.map((p) => keyIdOf(p));
  if (new Set(kids).size !== kids.length) throw new Error('API-key signing keys must not repeat');
  const jwks = jwksFromPublicKeys(pubs);
  return {
    activeKid: kids[0]!,
    sign: (claims) => signEdDsaJwt({ typ: 'JWT', kid: kids[0]! }, { ...claims }, active),
    jwks: () => jwks,
    publicKeys: () => new Map(kids.map((k, i) => [k, pubs[i]!])),
  };
}
