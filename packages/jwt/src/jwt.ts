// EdDSA (Ed25519) JSON Web Tokens, RFC 7519 / RFC 8037: the one JWT stack of flow8 (API keys, the
// gateway's internal identity, service calls). fast-jwt verifies; this module fixes the policy. Exactly one
// algorithm is accepted, so the classic JWT attacks (`alg: none`, HMAC keyed with the public
// key, a key taken from the token itself via `jwk`/`jku`) have nothing to work with: the key is
// chosen by `kid` from the verifier's own map, never from the token.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';

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
  | 'wrong_audience'
  | 'missing_claim'
  | 'unexpected_claim'
  | 'missing_lifetime'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'too_old';

export type JwtVerifyResult<C extends JwtClaims = JwtClaims> =
  | { ok: true; header: JwtHeader; claims: C }
  | {
      ok: false;
      reason: JwtVerifyFailure;
      /** Claim names, for missing_claim / unexpected_claim. */ claims?: string[];
    };

/**
 * The one verification policy for every EdDSA token flow8 accepts (API keys, the gateway's
 * internal identity, service calls). Everything a caller can tune is here; everything else is fixed.
 */
export interface JwtPolicy {
  /** Trusted keys: kid → raw 32-byte Ed25519 public key. The token's kid picks one; nothing else does. */
  keys: ReadonlyMap<string, Uint8Array>;
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (a single string; an array is refused). Unset: the token must not need one. */
  audience?: string;
  /** Expected `typ` header (RFC 8725 §3.11 explicit typing). Default `JWT`. */
  typ?: string;
  /** Tolerance for clocks that disagree, applied to exp, nbf and iat. Default 30 s, at most 300 s. */
  clockSkewSeconds?: number;
  /** Refuse a token whose exp − iat exceeds this, whatever it was signed with. */
  maxLifetimeSeconds?: number;
  /** Refuse a token issued longer ago than this (now − iat). Default: maxLifetimeSeconds + skew when that is set. */
  maxAgeSeconds?: number;
  /** Claims that must be present besides iss, iat, exp (and aud when `audience` is set). */
  requiredClaims?: readonly string[];
  /** When set, a claim outside this set is refused (authority a signer must never state). */
  allowedClaims?: ReadonlySet<string>;
  /** Epoch milliseconds (Date.now() by default). */
  now?: () => number;
}

/** The policy of verifyEdDsaJwt: as JwtPolicy, with a fixed `now` in epoch milliseconds. */
export interface JwtVerifyOptions extends Omit<JwtPolicy, 'now'> {
  now?: number;
}

/** A token larger than this is refused before any parsing (no JSON bombs through the header). */
const MAX_TOKEN_LENGTH = 8192;
const MAX_CLOCK_SKEW_SECONDS = 300;
const B64URL = /^[A-Za-z0-9_-]+$/;
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const HEADER_FIELDS = new Set(['alg', 'typ', 'kid']);

/** Ed25519 private key from a raw 32-byte seed (PKCS#8 wrapping of RFC 8410). */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== 32) throw new Error('Ed25519 seed must be 32 bytes');
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed)]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** Ed25519 public key from its raw 32 bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new Error('Ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(raw)]), format: 'der', type: 'spki' });
}

/** The raw 32-byte public key of a seed. */
export function ed25519PublicKeyOfSeed(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(ed25519PrivateKey(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Key id: first 16 hex characters of SHA-256 of the raw public key (as the audit ledger does). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * Signs a compact JWS. `alg` is always EdDSA; `kid` defaults to the seed's key id and, if given,
 * must be it (a token naming a key that cannot verify it is a bug worth failing loudly on).
 * Claims are signed exactly as given (see README: why signing is not fast-jwt's signer).
 */
export function signEdDsaJwt(header: { typ?: string; kid?: string }, claims: JwtClaims, seed: Uint8Array): string {
  return createEdDsaSigner(seed)(header, claims);
}

/** A signer bound to one seed (the key is parsed once): (header, claims) → compact JWS. */
export function createEdDsaSigner(
  seed: Uint8Array,
): (header: { typ?: string; kid?: string }, claims: JwtClaims) => string {
  const key = ed25519PrivateKey(seed);
  const kid = keyIdOf(ed25519PublicKeyOfSeed(seed));
  return (header, claims) => {
    if (header.kid !== undefined && header.kid !== kid) throw new Error('header kid does not belong to this seed');
    const h: JwtHeader = { alg: 'EdDSA', typ: header.typ ?? 'JWT', kid };
    const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
  };
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

function spkiPem(raw: Uint8Array): string {
  const der = ed25519PublicKey(raw).export({ format: 'der', type: 'spki' });
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
}

type FastVerify = (token: string) => unknown;

/**
 * Builds the one verifier. fast-jwt is the engine (signature, algorithm allow-list, typ, crit,
 * required claims, iss/aud, exp/nbf with the clock tolerance, max age); around it this module adds
 * what fast-jwt leaves open: a size cap, canonical base64url, a closed header (no jwk/jku/x5u),
 * the key chosen only by kid from our own map, integer times, iat not in the future, a lifetime cap
 * and an optional closed claim set. Stricter of the two wins; reasons are one closed enum.
 */
export function createEdDsaVerifier<C extends JwtClaims = JwtClaims>(
  policy: JwtPolicy,
): (token: string) => JwtVerifyResult<C> {
  const skew = policy.clockSkewSeconds ?? 30;
  if (!Number.isInteger(skew) || skew < 0 || skew > MAX_CLOCK_SKEW_SECONDS) {
    throw new Error(`clockSkewSeconds must be an integer 0-${MAX_CLOCK_SKEW_SECONDS}`);
  }
  const typ = policy.typ ?? 'JWT';
  const maxAge =
    policy.maxAgeSeconds ?? (policy.maxLifetimeSeconds !== undefined ? policy.maxLifetimeSeconds + skew : undefined);
  const required = [
    ...new Set([
      'iss',
      'iat',
      'exp',
      ...(policy.audience !== undefined ? ['aud'] : []),
      ...(policy.requiredClaims ?? []),
    ]),
  ];
  const pems = new Map<string, string>();
  for (const [kid, raw] of policy.keys) pems.set(kid, spkiPem(raw));
  // fast-jwt fixes its clock when a verifier is built: one per key for the real clock, built per
  // call (cheap: the PEM's algorithm detection is cached by fast-jwt) when a clock is injected.
  const build = (pem: string, clock: number | undefined): FastVerify =>
    createVerifier({
      key: pem,
      algorithms: ['EdDSA'],
      checkTyp: typ,
      allowedIss: policy.issuer,
      ...(policy.audience !== undefined ? { allowedAud: policy.audience } : {}),
      requiredClaims: required,
      clockTolerance: skew * 1000,
      ...(maxAge !== undefined ? { maxAge: maxAge * 1000 } : {}),
      ...(clock !== undefined ? { clockTimestamp: clock } : {}),
      cache: false,
      complete: false,
    }) as FastVerify;
  const realClock = new Map<string, FastVerify>();

  return (token) => {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return { ok: false, reason: 'malformed' };
    const [h, p, s] = parts as [string, string, string];
    const header = decodeJsonObject(h);
    const claims = decodeJsonObject(p);
    if (!header || !claims) return { ok: false, reason: 'malformed' };

    // Exactly one algorithm, decided here, never by the token (fast-jwt is pinned to it too).
    if (header.alg !== 'EdDSA') return { ok: false, reason: 'unsupported_algorithm' };
    if (header.typ !== typ) return { ok: false, reason: 'wrong_type' };
    // `crit`, `jwk`, `jku`, `x5u`, `b64` …: extensions we do not implement are refused, not ignored.
    if (Object.keys(header).some((k) => !HEADER_FIELDS.has(k))) return { ok: false, reason: 'malformed' };
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const pem = kid !== undefined ? pems.get(kid) : undefined;
    if (kid === undefined || pem === undefined) return { ok: false, reason: 'unknown_key' };
    const signature = Buffer.from(s, 'base64url');
    // Canonical encoding only: a signature with trailing bits set would be a second spelling of the same token.
    if (signature.length !== 64 || signature.toString('base64url') !== s) return { ok: false, reason: 'bad_signature' };

    const nowMs = policy.now?.();
    // Whole seconds, as the claims are: both engines then agree on every boundary.
    const t = Math.floor((nowMs ?? Date.now()) / 1000);
    let fast: FastVerify;
    if (nowMs !== undefined) fast = build(pem, t * 1000);
    else {
      fast = realClock.get(kid) ?? build(pem, undefined);
      realClock.set(kid, fast);
    }
    try {
      fast(token);
    } catch (e) {
      return { ok: false, ...refusal(e, claims, policy, required) };
    }

    if (!isTime(claims.exp) || !isTime(claims.iat) || (claims.nbf !== undefined && !isTime(claims.nbf))) {
      return { ok: false, reason: 'missing_lifetime' };
    }
    if (policy.audience !== undefined && claims.aud !== policy.audience) return { ok: false, reason: 'wrong_audience' };
    if (claims.exp <= t - skew) return { ok: false, reason: 'expired' };
    if (claims.nbf !== undefined && claims.nbf > t + skew) return { ok: false, reason: 'not_yet_valid' };
    if (claims.iat > t + skew) return { ok: false, reason: 'issued_in_future' };
    if (claims.exp < claims.iat) return { ok: false, reason: 'missing_lifetime' };
    if (policy.maxLifetimeSeconds !== undefined && claims.exp - claims.iat > policy.maxLifetimeSeconds) {
      return { ok: false, reason: 'lifetime_too_long' };
    }
    if (maxAge !== undefined && t - claims.iat > maxAge) return { ok: false, reason: 'too_old' };
    if (policy.allowedClaims) {
      const allowed = policy.allowedClaims;
      const extra = Object.keys(claims).filter((k) => !allowed.has(k));
      if (extra.length > 0) return { ok: false, reason: 'unexpected_claim', claims: extra.sort() };
    }
    return { ok: true, header: { alg: 'EdDSA', typ, kid }, claims: claims as C };
  };
}

/** fast-jwt's error → our closed reason. Unknown codes are a bad signature: refuse, never accept. */
function refusal(
  e: unknown,
  claims: Record<string, unknown>,
  policy: JwtPolicy,
  required: readonly string[],
): { reason: JwtVerifyFailure; claims?: string[] } {
  const code = e instanceof TokenError ? e.code : undefined;
  switch (code) {
    case TokenError.codes.invalidAlgorithm:
      return { reason: 'unsupported_algorithm' };
    case TokenError.codes.invalidType:
      return { reason: 'wrong_type' };
    case TokenError.codes.malformed:
    case TokenError.codes.invalidPayload:
    case TokenError.codes.invalidCritHeader:
      return { reason: 'malformed' };
    case TokenError.codes.missingRequiredClaim: {
      const missing = required.filter((c) => !(c in claims));
      if (missing.some((c) => c === 'iat' || c === 'exp')) return { reason: 'missing_lifetime' };
      if (missing.includes('iss')) return { reason: 'wrong_issuer' };
      if (missing.includes('aud')) return { reason: 'wrong_audience' };
      return { reason: 'missing_claim', claims: missing };
    }
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.invalidClaimValue:
      if (claims.iss !== policy.issuer) return { reason: 'wrong_issuer' };
      if (policy.audience !== undefined && claims.aud !== policy.audience) return { reason: 'wrong_audience' };
      return { reason: 'missing_lifetime' };
    case TokenError.codes.expired:
      // fast-jwt reports an over-age iat as "expired" too; tell them apart.
      return isTime(claims.exp) && isTime(claims.iat) && claims.exp < claims.iat
        ? { reason: 'missing_lifetime' }
        : { reason: expiredOrTooOld(claims, policy) };
    case TokenError.codes.inactive:
      return { reason: 'not_yet_valid' };
    default:
      return { reason: 'bad_signature' };
  }
}

function expiredOrTooOld(claims: Record<string, unknown>, policy: JwtPolicy): JwtVerifyFailure {
  const skew = policy.clockSkewSeconds ?? 30;
  const t = Math.floor((policy.now?.() ?? Date.now()) / 1000);
  return isTime(claims.exp) && claims.exp > t - skew ? 'too_old' : 'expired';
}

/** One-shot verification under `opts` (builds the verifier each call; hot paths keep createEdDsaVerifier's). */
export function verifyEdDsaJwt<C extends JwtClaims = JwtClaims>(
  token: string,
  opts: JwtVerifyOptions,
): JwtVerifyResult<C> {
  const { now, ...policy } = opts;
  return createEdDsaVerifier<C>({ ...policy, ...(now !== undefined ? { now: () => now } : {}) })(token);
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
