// EdDSA (Ed25519) JSON Web Tokens, RFC 7519 / RFC 8037, with node:crypto only. Exactly one
// algorithm is accepted, so the classic JWT attacks (`alg: none`, HMAC keyed with the public
// key, a key taken from the token itself via `jwk`/`jku`) have nothing to work with: the key is
// chosen by `kid` from the verifier's own map, never from the token.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export interface JwtHeader {
  alg: 'EdDSA';
  typ: string;
  kid: string;
}

/** Registered claims this module checks; anything else passes through untouched. */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  iat?: number;
  nbf?: number;
  exp?: number;
  jti?: string;
  [claim: string]: unknown;
}

export type JwtVerifyFailure =
  | 'malformed'
  | 'unsupported_algorithm'
  | 'wrong_type'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'missing_lifetime'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long';

export type JwtVerifyResult<C extends JwtClaims = JwtClaims> =
  { ok: true; header: JwtHeader; claims: C } | { ok: false; reason: JwtVerifyFailure };

export interface JwtVerifyOptions {
  /** Trusted keys: kid → raw 32-byte Ed25519 public key. The token's kid picks one; nothing else does. */
  keys: ReadonlyMap<string, Uint8Array>;
  /** Expected `iss`. */
  issuer: string;
  /** Expected `typ` header (RFC 8725 §3.11 explicit typing). Default `JWT`. */
  typ?: string;
  /** Epoch milliseconds (Date.now() by default). */
  now?: number;
  /** Tolerance for clocks that disagree, applied to exp, nbf and iat. Default 30 s. */
  clockSkewSeconds?: number;
  /** Refuse a token whose exp − iat exceeds this, whatever it was signed with. */
  maxLifetimeSeconds?: number;
}

/** A token larger than this is refused before any parsing (no JSON bombs through the header). */
const MAX_TOKEN_LENGTH = 8192;
const B64URL = /^[A-Za-z0-9_-]+$/;
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const HEADER_FIELDS = new Set(['alg', 'typ', 'kid']);

function privateKeyOf(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== 32) throw new Error('Ed25519 seed must be 32 bytes');
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed)]),
    format: 'der',
    type: 'pkcs8',
  });
}

function publicKeyOf(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new Error('Ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(raw)]), format: 'der', type: 'spki' });
}

/** The raw 32-byte public key of a seed. */
export function ed25519PublicKeyOfSeed(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyOf(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Key id: first 16 hex characters of SHA-256 of the raw public key (same rule as @flow8/http). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * Signs a compact JWS. `alg` is always EdDSA; `kid` defaults to the seed's key id and, if given,
 * must be it (a token naming a key that cannot verify it is a bug worth failing loudly on).
 */
export function signEdDsaJwt(header: { typ?: string; kid?: string }, claims: JwtClaims, seed: Uint8Array): string {
  const kid = keyIdOf(ed25519PublicKeyOfSeed(seed));
  if (header.kid !== undefined && header.kid !== kid) throw new Error('header kid does not belong to this seed');
  const h: JwtHeader = { alg: 'EdDSA', typ: header.typ ?? 'JWT', kid };
  const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign(null, Buffer.from(input), privateKeyOf(seed)))}`;
}

function decodeJsonObject(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function verifyEdDsaJwt<C extends JwtClaims = JwtClaims>(
  token: string,
  opts: JwtVerifyOptions,
): JwtVerifyResult<C> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return { ok: false, reason: 'malformed' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonObject(h);
  const claims = decodeJsonObject(p);
  if (!header || !claims) return { ok: false, reason: 'malformed' };

  // Exactly one algorithm, decided here, never by the token.
  if (header.alg !== 'EdDSA') return { ok: false, reason: 'unsupported_algorithm' };
  if (header.typ !== (opts.typ ?? 'JWT')) return { ok: false, reason: 'wrong_type' };
  // `crit`, `jwk`, `jku`, `x5u`, `b64` …: extensions we do not implement are refused, not ignored.
  if (Object.keys(header).some((k) => !HEADER_FIELDS.has(k))) return { ok: false, reason: 'malformed' };
  const raw = typeof header.kid === 'string' ? opts.keys.get(header.kid) : undefined;
  if (!raw) return { ok: false, reason: 'unknown_key' };

  const signature = Buffer.from(s, 'base64url');
  // Canonical encoding only: a signature with trailing bits set would be a second spelling of the same token.
  if (signature.length !== 64 || signature.toString('base64url') !== s) return { ok: false, reason: 'bad_signature' };
  let valid = false;
  try {
    valid = verify(null, Buffer.from(`${h}.${p}`), publicKeyOf(raw), signature);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'bad_signature' };

  if (claims.iss !== opts.issuer) return { ok: false, reason: 'wrong_issuer' };
  if (!isTime(claims.exp) || !isTime(claims.iat) || (claims.nbf !== undefined && !isTime(claims.nbf))) {
    return { ok: false, reason: 'missing_lifetime' };
  }
  const skew = opts.clockSkewSeconds ?? 30;
  const t = Math.floor((opts.now ?? Date.now()) / 1000);
  if (claims.exp <= t - skew) return { ok: false, reason: 'expired' };
  if (claims.nbf !== undefined && claims.nbf > t + skew) return { ok: false, reason: 'not_yet_valid' };
  if (claims.iat > t + skew) return { ok: false, reason: 'issued_in_future' };
  if (claims.exp < claims.iat) return { ok: false, reason: 'missing_lifetime' };
  if (opts.maxLifetimeSeconds !== undefined && claims.exp - claims.iat > opts.maxLifetimeSeconds) {
    return { ok: false, reason: 'lifetime_too_long' };
  }
  return { ok: true, header: { alg: 'EdDSA', typ: header.typ, kid: header.kid as string }, claims: claims as C };
}

export interface Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  use: 'sig';
  alg: 'EdDSA';
}

export interface Jwks {
  keys: Jwk[];
}

export function jwksFromPublicKeys(keys: readonly Uint8Array[]): Jwks {
  return {
    keys: keys.map((raw) => {
      if (raw.byteLength !== 32) throw new Error('Ed25519 public key must be 32 bytes');
      return { kty: 'OKP', crv: 'Ed25519', x: b64url(Buffer.from(raw)), kid: keyIdOf(raw), use: 'sig', alg: 'EdDSA' };
    }),
  };
}

/**
 * kid → raw public key from a JWKS document (RFC 7517). Keys of other types are skipped (a
 * future key type must not break today's verifiers); an Ed25519 key that is malformed or whose
 * kid is not the hash of its own bytes throws: someone is feeding us a wrong document.
 */
export function publicKeysFromJwks(jwks: unknown): Map<string, Uint8Array> {
  const list =
    typeof jwks === 'object' && jwks !== null && Array.isArray((jwks as { keys?: unknown }).keys)
      ? ((jwks as { keys: unknown[] }).keys as unknown[])
      : null;
  if (!list) throw new Error('not a JWKS document');
  const out = new Map<string, Uint8Array>();
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) throw new Error('JWKS entry is not an object');
    const k = entry as Record<string, unknown>;
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519') continue;
    if ((k.use !== undefined && k.use !== 'sig') || (k.alg !== undefined && k.alg !== 'EdDSA')) continue;
    if (typeof k.x !== 'string' || !B64URL.test(k.x)) throw new Error('JWKS Ed25519 key has no valid x');
    const raw = Buffer.from(k.x, 'base64url');
    if (raw.length !== 32 || raw.toString('base64url') !== k.x) throw new Error('JWKS Ed25519 key is not 32 bytes');
    const kid = keyIdOf(raw);
    if (k.kid !== kid) throw new Error('JWKS key id does not match its key');
    out.set(kid, new Uint8Array(raw));
  }
  return out;
}
