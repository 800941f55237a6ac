// The internal identity: who is acting, as the gateway authenticated them, carried to a service
// in a short-lived token the service verifies itself. A compact JWS (EdDSA / Ed25519) that the
// gateway signs per forwarded request; services accept it only over mTLS from an allowed caller.
// A service reached directly, without a fresh token signed by a key it trusts, refuses.
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from './errors';
import { serviceIdentity } from './identity';

export const INTERNAL_IDENTITY_HEADER = 'x-flow8-identity';
const TYP = 'flow8-identity+jwt';

export type PrincipalType = 'user' | 'api_key' | 'operator';
export type PrincipalRole = 'admin' | 'flow_designer' | 'executor' | 'viewer';

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

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Ed25519 key from a raw 32-byte seed (PKCS#8 wrapping of RFC 8410). */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== 32) throw new Error('Ed25519 seed must be 32 bytes');
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]),
    format: 'der',
    type: 'pkcs8',
  });
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new Error('Ed25519 public key must be 32 bytes');
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(raw)]),
    format: 'der',
    type: 'spki',
  });
}

/** Raw 32-byte public key of a seed. */
export function ed25519RawPublicKey(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(ed25519PrivateKey(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Key id: first 16 hex characters of SHA-256 of the raw public key (as the audit ledger does). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

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
  const key = ed25519PrivateKey(opts.seed);
  const kid = keyIdOf(ed25519RawPublicKey(opts.seed));
  const ttl = opts.ttlSeconds ?? 60;
  const now = opts.now ?? Date.now;
  const header = b64url(JSON.stringify({ alg: 'EdDSA', typ: TYP, kid }));
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
      const input = `${header}.${b64url(JSON.stringify(claims))}`;
      return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
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
const ROLES = new Set(['admin', 'flow_designer', 'executor', 'viewer']);

export function createIdentityVerifier(opts: IdentityVerifierOptions) {
  const keys = new Map(opts.publicKeys.map((k) => [keyIdOf(k), ed25519PublicKey(k)]));
  const maxTtl = opts.maxTtlSeconds ?? 120;
  const skew = opts.clockSkewSeconds ?? 5;
  const now = opts.now ?? Date.now;
  const issuer = opts.issuer ?? 'gateway';

  return function verifyToken(token: string): VerifyOutcome {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'not a compact JWS' };
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: unknown; typ?: unknown; kid?: unknown };
    let claims: Claims;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Claims;
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    // Exactly one algorithm: no `none`, no HMAC confusion.
    if (header.alg !== 'EdDSA' || header.typ !== TYP) return { ok: false, reason: 'unexpected algorithm or type' };
    const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
    if (!key) return { ok: false, reason: 'unknown key id' };
    let valid = false;
    try {
      valid = verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, reason: 'bad signature' };
    const t = Math.floor(now() / 1000);
    if (claims.iss !== issuer) return { ok: false, reason: 'wrong issuer' };
    if (claims.aud !== opts.audience) return { ok: false, reason: 'token is for another service' };
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return { ok: false, reason: 'no lifetime' };
    if (claims.exp - claims.iat > maxTtl) return { ok: false, reason: 'lifetime too long' };
    if (claims.iat > t + skew) return { ok: false, reason: 'issued in the future' };
    if (claims.exp <= t - skew) return { ok: false, reason: 'expired' };
    if (!PRINCIPAL_TYPES.has(claims.pty) || typeof claims.sub !== 'string' || claims.sub.length === 0) {
      return { ok: false, reason: 'no principal' };
    }
    if (claims.role !== null && !ROLES.has(claims.role)) return { ok: false, reason: 'unknown role' };
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
