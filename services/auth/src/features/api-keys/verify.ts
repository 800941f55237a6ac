// Verifying an API key, as the gateway does it: pure, no I/O. Signature, algorithm, kid, issuer
// and lifetime come from @flow8/jwt; this adds the shape of an API key's claims. Revocation is the
// caller's second step: the jti must not be in Redis under revokedJtiKey(jti).
import { parseCidr } from '@flow8/http';
import { publicKeysFromJwks, verifyEdDsaJwt, type JwtVerifyFailure } from '@flow8/jwt';
import { ROLES, type Role } from '../../principal';
import { isApiKeyScope, type ApiKeyScope } from './scopes';

export const API_KEY_ISSUER = 'flow8-auth';
/** Longest lifetime auth issues (365 days); anything longer was not signed by the rules. */
export const MAX_API_KEY_LIFETIME_SECONDS = 365 * 86_400;

export interface ApiKeyClaims {
  iss: string;
  /** key_… */
  sub: string;
  /** ten_… */
  tid: string;
  /** usr_… of the owner. */
  uid: string;
  /** The owner's role when the key was issued. */
  role: Role;
  scopes: ApiKeyScope[];
  /** Client networks the key may be used from; empty: anywhere. */
  cidrs: string[];
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

/** Redis key whose presence means the token with this jti is revoked. */
export function revokedJtiKey(jti: string): string {
  return `flow8:apikey:revoked:${jti}`;
}

export type ApiKeyVerifyResult =
  { ok: true; claims: ApiKeyClaims } | { ok: false; reason: JwtVerifyFailure | 'bad_claims' };

export interface ApiKeyVerifyOptions {
  /** Either auth's JWKS document or kid → raw public key. */
  jwks?: unknown;
  publicKeys?: ReadonlyMap<string, Uint8Array>;
  /** Epoch milliseconds; Date.now() by default. */
  now?: number;
  expectedIssuer?: string;
  clockSkewSeconds?: number;
}

const KEY_ID = /^key_[0-9a-z]{26}$/;
const TENANT_ID = /^ten_[0-9a-z]{26}$/;
const USER_ID = /^usr_[0-9a-z]{26}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

function claimsShapeOk(c: Record<string, unknown>): c is Record<string, unknown> & ApiKeyClaims {
  return (
    typeof c.sub === 'string' &&
    KEY_ID.test(c.sub) &&
    typeof c.tid === 'string' &&
    TENANT_ID.test(c.tid) &&
    typeof c.uid === 'string' &&
    USER_ID.test(c.uid) &&
    typeof c.role === 'string' &&
    ROLE_SET.has(c.role) &&
    Array.isArray(c.scopes) &&
    c.scopes.length > 0 &&
    c.scopes.every(isApiKeyScope) &&
    Array.isArray(c.cidrs) &&
    c.cidrs.every((x) => typeof x === 'string' && parseCidr(x).ok) &&
    typeof c.nbf === 'number' &&
    typeof c.jti === 'string' &&
    UUID.test(c.jti)
  );
}

export function verifyApiKeyToken(token: string, opts: ApiKeyVerifyOptions): ApiKeyVerifyResult {
  let keys: ReadonlyMap<string, Uint8Array>;
  if (opts.publicKeys) keys = opts.publicKeys;
  else {
    try {
      keys = publicKeysFromJwks(opts.jwks);
    } catch {
      return { ok: false, reason: 'unknown_key' };
    }
  }
  const r = verifyEdDsaJwt(token, {
    keys,
    issuer: opts.expectedIssuer ?? API_KEY_ISSUER,
    typ: 'JWT',
    now: opts.now,
    clockSkewSeconds: opts.clockSkewSeconds ?? 30,
    maxLifetimeSeconds: MAX_API_KEY_LIFETIME_SECONDS,
  });
  if (!r.ok) return r;
  if (!claimsShapeOk(r.claims)) return { ok: false, reason: 'bad_claims' };
  const c = r.claims;
  return {
    ok: true,
    claims: {
      iss: c.iss,
      sub: c.sub,
      tid: c.tid,
      uid: c.uid,
      role: c.role,
      scopes: [...c.scopes],
      cidrs: [...c.cidrs],
      iat: c.iat,
      nbf: c.nbf,
      exp: c.exp,
      jti: c.jti,
    },
  };
}
