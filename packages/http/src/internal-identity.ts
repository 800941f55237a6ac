// The internal identity: who is acting, as the gateway authenticated them, carried to a service
// in a short-lived token the service verifies itself. A compact JWS (EdDSA / Ed25519) that the
// gateway signs per forwarded request; services accept it only over mTLS from an allowed caller.
// A service reached directly, without a fresh token signed by a key it trusts, refuses.
import { randomUUID } from 'node:crypto';
import {
  createEdDsaSigner,
  createEdDsaVerifier,
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519PublicKeyOfSeed,
  keyIdOf,
  type JwtVerifyFailure,
} from '@flow8/jwt';
import { isRole, type Role } from '@flow8/authz';
import type { FastifyRequest } from 'fastify';
import { AppError } from './errors';
import { serviceIdentity } from './identity';

export const INTERNAL_IDENTITY_HEADER = 'x-flow8-identity';
const TYP = 'flow8-identity+jwt';

export type PrincipalType = 'user' | 'api_key' | 'operator';
/** The roles are @flow8/authz's ROLES; nothing else names them. */
export type PrincipalRole = Role;

export interface InternalPrincipal {
  /** Tenant the principal acts in; null only for the platform operator. */
  tenantId: string | null;
  type: PrincipalType;
  /** usr_…, key_… or 'operator'. */
  id: string;
  role: PrincipalRole | null;
  /** API-key scopes (e.g. `flows:execute`, `audit:read`); empty for sessions. */
  scopes: string[];
  /** The client IP as the gateway determined it. */
  ip: string | null;
  /** Session id for cookie sessions. */
  sessionId: string | null;
  /** For an API key: the user who owns it (their grants bound the key). */
  ownerId?: string | null;
}

interface Claims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  tid: string | null;
  pty: PrincipalType;
  sub: string;
  role: PrincipalRole | null;
  scopes: string[];
  ip: string | null;
  sid: string | null;
  oid?: string | null;
}

// The Ed25519 key helpers live in @flow8/jwt (the one JWT stack); re-exported for existing callers.
export { ed25519PrivateKey, ed25519PublicKey, keyIdOf };
/** Raw 32-byte public key of a seed. */
export const ed25519RawPublicKey = ed25519PublicKeyOfSeed;

export interface IdentitySigner {
  kid: string;
  sign(principal: InternalPrincipal, audience: string): string;
}

export function createIdentitySigner(opts: {
  seed: Uint8Array;
  issuer?: string;
  ttlSeconds?: number;
  now?: () => number;
}): IdentitySigner {
  const sign = createEdDsaSigner(opts.seed);
  const kid = keyIdOf(ed25519PublicKeyOfSeed(opts.seed));
  const ttl = opts.ttlSeconds ?? 60;
  const now = opts.now ?? Date.now;
  return {
    kid,
    sign(p, audience) {
      const iat = Math.floor(now() / 1000);
      const claims: Claims = {
        iss: opts.issuer ?? 'gateway',
        aud: audience,
        iat,
        exp: iat + ttl,
        jti: randomUUID(),
        tid: p.tenantId,
        pty: p.type,
        sub: p.id,
        role: p.role,
        scopes: p.scopes,
        ip: p.ip,
        sid: p.sessionId,
        oid: p.ownerId ?? null,
      };
      return sign({ typ: TYP }, { ...claims });
    },
  };
}

export type VerifyOutcome = { ok: true; principal: InternalPrincipal; claims: Claims } | { ok: false; reason: string };

export interface IdentityVerifierOptions {
  /** Trusted public keys (raw 32 bytes); several during a key change. */
  publicKeys: Uint8Array[];
  /** This service's name: tokens minted for another service are refused. */
  audience: string;
  issuer?: string;
  /** Longest lifetime accepted, whatever the token claims. */
  maxTtlSeconds?: number;
  clockSkewSeconds?: number;
  now?: () => number;
}

const PRINCIPAL_TYPES = new Set(['user', 'api_key', 'operator']);

/** The verifier's reasons as they are logged (never the token). */
export const REFUSAL_TEXT: Record<JwtVerifyFailure, string> = {
  malformed: 'malformed token',
  unsupported_algorithm: 'unexpected algorithm or type',
  wrong_type: 'unexpected algorithm or type',
  unknown_key: 'unknown key id',
  bad_signature: 'bad signature',
  wrong_issuer: 'wrong issuer',
  wrong_audience: 'token is for another service',
  missing_claim: 'missing claims',
  unexpected_claim: 'unexpected claims',
  missing_lifetime: 'no lifetime',
  expired: 'expired',
  not_yet_valid: 'not yet valid',
  issued_in_future: 'issued in the future',
  lifetime_too_long: 'lifetime too long',
  too_old: 'too old',
};

export function createIdentityVerifier(opts: IdentityVerifierOptions) {
  // The one policy of @flow8/jwt: EdDSA only, kid from our keys, iss, aud, lifetime, skew, jti.
  const verify = createEdDsaVerifier<Claims & { [claim: string]: unknown }>({
    keys: new Map(opts.publicKeys.map((k) => [keyIdOf(k), k])),
    issuer: opts.issuer ?? 'gateway',
    audience: opts.audience,
    typ: TYP,
    clockSkewSeconds: opts.clockSkewSeconds ?? 5,
    maxLifetimeSeconds: opts.maxTtlSeconds ?? 120,
    requiredClaims: ['jti', 'pty', 'sub', 'tid', 'role'],
    ...(opts.now ? { now: opts.now } : {}),
  });

  return function verifyToken(token: string): VerifyOutcome {
    const r = verify(token);
    if (!r.ok) {
      const text = REFUSAL_TEXT[r.reason];
      return { ok: false, reason: r.claims ? `${text}: ${r.claims.join(', ')}` : text };
    }
    const claims = r.claims;
    if (typeof claims.jti !== 'string' || claims.jti.length === 0) return { ok: false, reason: 'no token id' };
    if (!PRINCIPAL_TYPES.has(claims.pty) || typeof claims.sub !== 'string' || claims.sub.length === 0) {
      return { ok: false, reason: 'no principal' };
    }
    if (claims.role !== null && !isRole(claims.role)) return { ok: false, reason: 'unknown role' };
    if (claims.pty !== 'operator' && typeof claims.tid !== 'string') return { ok: false, reason: 'no tenant' };
    return {
      ok: true,
      claims,
      principal: {
        tenantId: claims.tid,
        type: claims.pty,
        id: claims.sub,
        role: claims.role,
        scopes: Array.isArray(claims.scopes) ? claims.scopes.filter((x) => typeof x === 'string') : [],
        ip: typeof claims.ip === 'string' ? claims.ip : null,
        sessionId: typeof claims.sid === 'string' ? claims.sid : null,
        ownerId: typeof claims.oid === 'string' ? claims.oid : null,
      },
    };
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by requireInternalIdentity: who is acting. */
    principal?: InternalPrincipal;
  }
}

/**
 * preHandler for every route a service serves to the gateway: a verified client certificate
 * from an allowed caller AND a valid identity token for this service. Both, always.
 */
export function requireInternalIdentity(opts: IdentityVerifierOptions & { callers: readonly string[] }) {
  const verifyToken = createIdentityVerifier(opts);
  return certifiedCallerGuard('requireInternalIdentity', opts.callers, {
    missing: 'An internal identity is required',
    invalid: 'The internal identity is not valid',
    refused: 'internal identity refused',
    check: (token) => {
      const outcome = verifyToken(token);
      return outcome.ok ? { ok: true, value: outcome.principal } : outcome;
    },
    accept: (request, principal) => {
      request.principal = principal;
    },
  });
}

/**
 * What every internal-token guard shares: a verified client certificate whose CN is an allowed
 * caller, then the token in INTERNAL_IDENTITY_HEADER checked for that caller. Refusals are logged
 * with the reason (never the token) and answer 401/403.
 */
export function certifiedCallerGuard<T>(
  name: string,
  allowed: readonly string[],
  opts: {
    missing: string;
    invalid: string;
    refused: string;
    check: (token: string, caller: string) => { ok: true; value: T } | { ok: false; reason: string };
    accept: (request: FastifyRequest, value: T) => void;
  },
) {
  const callers = new Set(allowed);
  if (callers.size === 0) throw new Error(`${name} needs at least one allowed caller`);
  return async function certifiedCaller(request: FastifyRequest): Promise<void> {
    const caller = serviceIdentity(request);
    if (caller === null) throw new AppError('UNAUTHENTICATED', 'A verified client certificate is required');
    if (!callers.has(caller)) throw new AppError('FORBIDDEN', 'This service is not allowed to call this endpoint');
    const token = request.headers[INTERNAL_IDENTITY_HEADER];
    if (typeof token !== 'string') throw new AppError('UNAUTHENTICATED', opts.missing);
    const outcome = opts.check(token, caller);
    if (!outcome.ok) {
      request.log.warn({ reason: outcome.reason, caller }, opts.refused);
      throw new AppError('UNAUTHENTICATED', opts.invalid);
    }
    opts.accept(request, outcome.value);
  };
}

/** The principal set by requireInternalIdentity; throws if the route forgot the guard. */
export function principalOf(request: FastifyRequest): InternalPrincipal {
  if (!request.principal) throw new AppError('UNAUTHENTICATED', 'No authenticated principal');
  return request.principal;
}
