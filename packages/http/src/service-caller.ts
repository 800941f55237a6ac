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
import { randomUUID } from 'node:crypto';
import {
  createEdDsaSigner,
  createEdDsaVerifier,
  ed25519PublicKeyOfSeed,
  keyIdOf,
  type JwtVerifyResult,
} from '@flow8/jwt';
import type { FastifyRequest } from 'fastify';
import { AppError } from './errors';
import { certifiedCallerGuard, REFUSAL_TEXT } from './internal-identity';

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
  const sign = createEdDsaSigner(opts.seed);
  const kid = keyIdOf(ed25519PublicKeyOfSeed(opts.seed));
  const ttl = opts.ttlSeconds ?? 60;
  const now = opts.now ?? Date.now;
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
      return sign({ typ: TYP }, { ...claims });
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

type CallClaims = Claims & { [claim: string]: unknown };

export function createServiceCallVerifier(opts: ServiceCallVerifierOptions) {
  // One verifier per calling service, holding only THAT service's keys and expecting it as `iss`:
  // the one policy of @flow8/jwt, with a closed claim set (authority is never the caller's to state).
  const byService = new Map<string, (token: string) => JwtVerifyResult<CallClaims>>();
  for (const [service, raws] of opts.keys) {
    byService.set(
      service,
      createEdDsaVerifier<CallClaims>({
        keys: new Map(raws.map((k) => [keyIdOf(k), k])),
        issuer: service,
        audience: opts.audience,
        typ: TYP,
        clockSkewSeconds: opts.clockSkewSeconds ?? 5,
        maxLifetimeSeconds: opts.maxTtlSeconds ?? 120,
        requiredClaims: ['jti', 'tid', 'act'],
        allowedClaims: CLAIMS,
        ...(opts.now ? { now: opts.now } : {}),
      }),
    );
  }

  /** Verifies `token` as presented by the service whose certificate CN is `caller`. */
  return function verifyServiceCall(token: string, caller: string): ServiceCallOutcome {
    const verify = byService.get(caller);
    // Only the keys of the service that presented the certificate: another service's key is refused.
    if (!verify) return { ok: false, reason: 'not signed by a key of the calling service' };
    const r = verify(token);
    if (!r.ok) {
      switch (r.reason) {
        case 'unknown_key':
          return { ok: false, reason: 'not signed by a key of the calling service' };
        case 'wrong_issuer':
          return { ok: false, reason: 'issuer is not the calling service' };
        default: {
          const text = REFUSAL_TEXT[r.reason];
          return { ok: false, reason: r.claims ? `${text}: ${r.claims.join(', ')}` : text };
        }
      }
    }
    const c = r.claims;
    if (typeof c.jti !== 'string' || c.jti.length === 0) return { ok: false, reason: 'no token id' };
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
