// A service calling another service on its own initiative (the flow engine resolving a credential
// for a flow step, a service sealing fields), not forwarding a request the gateway authenticated.
//
// Such a call carries a short-lived token signed with the CALLING service's own Ed25519 key. It
// names only facts the caller is accountable for: which company the call is for and, when it acts
// for somebody, which principal (a user or an API key). It never carries a role, scopes or an
// owner: the callee looks those up in its own replicated copy of auth's state, so a compromised
// or buggy caller cannot raise anybody's authority — the most it can do is name a principal of the
// company, and the callee applies that principal's real role and grants.
//
// The callee trusts a configured set of (service name → public keys). A token is accepted only
// when: the TLS layer verified the caller's client certificate, its CN is an allowed caller, the
// token's `kid` is one of THAT service's keys (a key of another service is refused even if it is
// trusted for that other service), `iss` equals the CN, `aud` is the callee, the lifetime is short
// and current, and nothing beyond the known claims is present.
import { randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from './errors';
import {
  certifiedCallerGuard,
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519RawPublicKey,
  keyIdOf,
} from './internal-identity';

/** A different `typ` from the gateway's tokens: neither kind is ever accepted as the other. */
const TYP = 'flow8-service-call+jwt';

/** Whom a service call acts for: a user or an API key of the token's company. Ids only. */
export interface ActingPrincipal {
  type: 'user' | 'api_key';
  id: string;
}

export interface ServiceCall {
  /** The calling service: its certificate's CN, which the token's issuer matched. */
  service: string;
  /** The company the call is for. */
  tenantId: string;
  /** The principal the call acts for, or null when the service acts on its own (maintenance). */
  actingFor: ActingPrincipal | null;
}

interface Claims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  tid: string;
  act: ActingPrincipal | null;
}

const CLAIMS: ReadonlySet<string> = new Set(['iss', 'aud', 'iat', 'exp', 'jti', 'tid', 'act']);
const TENANT = /^ten_[0-9a-z]{26}$/;
const PRINCIPAL_ID = { user: /^usr_[0-9a-z]{26}$/, api_key: /^key_[0-9a-z]{26}$/ } as const;

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export interface ServiceCallSigner {
  service: string;
  kid: string;
  /** The header value for one call to `audience`. */
  sign(call: { tenantId: string; actingFor: ActingPrincipal | null }, audience: string): string;
}

/** For a calling service: signs with its own identity key (SERVICE_IDENTITY_KEY of that service). */
export function createServiceCallSigner(opts: {
  service: string;
  seed: Uint8Array;
  ttlSeconds?: number;
  now?: () => number;
}): ServiceCallSigner {
  const key = ed25519PrivateKey(opts.seed);
  const kid = keyIdOf(ed25519RawPublicKey(opts.seed));
  const ttl = opts.ttlSeconds ?? 60;
  const now = opts.now ?? Date.now;
  const header = b64url(JSON.stringify({ alg: 'EdDSA', typ: TYP, kid }));
  return {
    service: opts.service,
    kid,
    sign(call, audience) {
      const iat = Math.floor(now() / 1000);
      const claims: Claims = {
        iss: opts.service,
        aud: audience,
        iat,
        exp: iat + ttl,
        jti: randomUUID(),
        tid: call.tenantId,
        act: call.actingFor ? { type: call.actingFor.type, id: call.actingFor.id } : null,
      };
      const input = `${header}.${b64url(JSON.stringify(claims))}`;
      return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
    },
  };
}

export type ServiceCallOutcome = { ok: true; call: ServiceCall } | { ok: false; reason: string };

export interface ServiceCallVerifierOptions {
  /** This service's name: tokens minted for another service are refused. */
  audience: string;
  /** Raw 32-byte Ed25519 public keys per calling service (several during a key change). */
  keys: ReadonlyMap<string, readonly Uint8Array[]>;
  maxTtlSeconds?: number;
  clockSkewSeconds?: number;
  now?: () => number;
}

export function createServiceCallVerifier(opts: ServiceCallVerifierOptions) {
  const byService = new Map<string, Map<string, KeyObject>>();
  for (const [service, raws] of opts.keys) {
    byService.set(service, new Map(raws.map((k) => [keyIdOf(k), ed25519PublicKey(k)])));
  }
  const maxTtl = opts.maxTtlSeconds ?? 120;
  const skew = opts.clockSkewSeconds ?? 5;
  const now = opts.now ?? Date.now;

  /** Verifies `token` as presented by the service whose certificate CN is `caller`. */
  return function verifyServiceCall(token: string, caller: string): ServiceCallOutcome {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'not a compact JWS' };
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: unknown; typ?: unknown; kid?: unknown };
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims))
      return { ok: false, reason: 'malformed token' };
    if (header.alg !== 'EdDSA' || header.typ !== TYP) return { ok: false, reason: 'unexpected algorithm or type' };
    // Only the keys of the service that presented the certificate: another service's key is refused.
    const key = typeof header.kid === 'string' ? byService.get(caller)?.get(header.kid) : undefined;
    if (!key) return { ok: false, reason: 'not signed by a key of the calling service' };
    let valid = false;
    try {
      valid = verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, reason: 'bad signature' };
    // Authority is never the caller's to state: a role, scopes, an owner — any claim we do not know.
    const extra = Object.keys(claims).filter((k) => !CLAIMS.has(k));
    if (extra.length > 0) return { ok: false, reason: `unexpected claims: ${extra.sort().join(', ')}` };
    const c = claims as unknown as Claims;
    if (c.iss !== caller) return { ok: false, reason: 'issuer is not the calling service' };
    if (c.aud !== opts.audience) return { ok: false, reason: 'token is for another service' };
    if (typeof c.iat !== 'number' || typeof c.exp !== 'number') return { ok: false, reason: 'no lifetime' };
    const t = Math.floor(now() / 1000);
    if (c.exp - c.iat > maxTtl) return { ok: false, reason: 'lifetime too long' };
    if (c.iat > t + skew) return { ok: false, reason: 'issued in the future' };
    if (c.exp <= t - skew) return { ok: false, reason: 'expired' };
    if (typeof c.tid !== 'string' || !TENANT.test(c.tid)) return { ok: false, reason: 'no company' };
    let actingFor: ActingPrincipal | null = null;
    if (c.act !== null) {
      const a = c.act as unknown;
      if (a === null || typeof a !== 'object' || Array.isArray(a)) return { ok: false, reason: 'malformed principal' };
      const { type, id, ...rest } = a as Record<string, unknown>;
      if (Object.keys(rest).length > 0) return { ok: false, reason: 'unexpected principal claims' };
      if ((type !== 'user' && type !== 'api_key') || typeof id !== 'string' || !PRINCIPAL_ID[type].test(id))
        return { ok: false, reason: 'malformed principal' };
      actingFor = { type, id };
    }
    return { ok: true, call: { service: caller, tenantId: c.tid, actingFor } };
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by requireServiceCall: which service calls, for which company and principal. */
    serviceCall?: ServiceCall;
  }
}

/**
 * onRequest/preHandler for routes other services call on their own initiative: a verified client
 * certificate whose CN is in `callers`, AND a service-call token signed by that service's own key
 * for this service. Refusals are logged with the reason (never the token) and answer 401/403.
 */
export function requireServiceCall(opts: ServiceCallVerifierOptions & { callers: readonly string[] }) {
  const verifyToken = createServiceCallVerifier(opts);
  return certifiedCallerGuard('requireServiceCall', opts.callers, {
    missing: 'A signed service identity is required',
    invalid: 'The service identity is not valid',
    refused: 'service identity refused',
    check: (token, caller) => {
      const outcome = verifyToken(token, caller);
      return outcome.ok ? { ok: true, value: outcome.call } : outcome;
    },
    accept: (request, call) => {
      request.serviceCall = call;
    },
  });
}

/** The call set by requireServiceCall; throws if the route forgot the guard. */
export function serviceCallOf(request: FastifyRequest): ServiceCall {
  if (!request.serviceCall) throw new AppError('UNAUTHENTICATED', 'No verified service identity');
  return request.serviceCall;
}
