// The gateway's front door for every /v1 route, run in `onRequest` (before the body is read):
// global allowlist → authentication → one Redis round trip (rate limits, revocation, tenant
// allowlist) → key CIDRs → authorization from the route table → CSRF for cookie writes.
import type { BlockList } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfRequired, ROUTES as TABLE, routeKey as keyOf, type RouteSpec } from '@flow8/api';
import { authorizeRoute, isRole, type Principal, type RouteDecision } from '@flow8/authz';
import { sameSecret } from '@flow8/crypto';
import { AppError, cidrBlockList, ipIn, type InternalPrincipal } from '@flow8/http';
import { SESSION_COOKIE, SESSION_TOKEN } from '../http/cookies';
import type { Upstreams } from '../upstream/client';
import { createVerifiedTokenCache, verifyApiKey, type ApiKeyClaims, type JwksCache } from './api-keys';
import type { Counter, Gate } from './gate';
import type { Authenticated } from './principal';

export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's address (X-Forwarded-For only from GATEWAY_TRUSTED_PROXIES). */
    clientIp: string;
    /** Set by the guard for authenticated requests. */
    auth: Authenticated | null;
  }
}

/** The session token from the cookies @fastify/cookie parsed: only the `__Host-` one, only a sane token. */
export function sessionTokenOf(cookies: Readonly<Record<string, string | undefined>> | undefined): string | null {
  const value = cookies?.[SESSION_COOKIE];
  return value !== undefined && SESSION_TOKEN.test(value) ? value : null;
}

function bearerOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer ([^\s]+)$/i.exec(header.trim());
  return m?.[1] ?? null;
}

/** The one constant-time compare of @flow8/crypto (re-exported for this module's callers). */
export { sameSecret };

interface ResolvedSession {
  principal?: { tenantId?: unknown; id?: unknown; userId?: unknown; role?: unknown; sessionId?: unknown };
  csrfValid?: unknown;
}

const ROUTES = new Map(TABLE.map((r) => [keyOf(r), r]));

/** The gateway's principal as packages/authz sees it. */
export function toAuthzPrincipal(auth: Authenticated): Principal {
  const p = auth.principal;
  if (p.type === 'operator' || p.role === null) return { type: 'operator', id: p.id };
  if (p.type === 'api_key')
    return { type: 'api_key', id: p.id, role: p.role, scopes: p.scopes, ownerId: auth.ownerId ?? '' };
  return { type: 'user', id: p.id, role: p.role };
}

export interface GuardDeps {
  gate: Gate;
  jwks: JwksCache;
  upstreams: Upstreams;
  operatorToken: string;
  globalAllowlist: BlockList | null;
}

export function createGuard(deps: GuardDeps) {
  // Parsed tenant allowlists by their raw JSON: one parse per change, not per request.
  const parsedAllowlists = new Map<string, BlockList | 'invalid'>();
  const verifiedTokens = createVerifiedTokenCache();
  // An API key's route decisions, per verified token. The key's principal is fixed by its signed
  // claims and the gateway decides without grants, so a route's decision cannot change while the
  // token stays cached; the WeakMap entry goes when the token cache drops the claims. Revocation,
  // allowlists and limits are not decisions: they are checked on every request regardless.
  const keyDecisions = new WeakMap<ApiKeyClaims, Map<RouteSpec, RouteDecision>>();
  // Parsed key CIDRs, per verified token, for the same reason.
  const keyCidrs = new WeakMap<ApiKeyClaims, ReturnType<typeof cidrBlockList>>();

  function decideRoute(auth: Authenticated, route: RouteSpec): RouteDecision {
    const key = auth.apiKey;
    if (!key) return authorizeRoute(toAuthzPrincipal(auth), route);
    let perRoute = keyDecisions.get(key);
    if (!perRoute) {
      perRoute = new Map();
      keyDecisions.set(key, perRoute);
    }
    let decision = perRoute.get(route);
    if (!decision) {
      decision = authorizeRoute(toAuthzPrincipal(auth), route);
      perRoute.set(route, decision);
    }
    return decision;
  }

  function cidrsOf(auth: Authenticated): ReturnType<typeof cidrBlockList> {
    const key = auth.apiKey;
    if (!key) return cidrBlockList(auth.cidrs);
    let parsed = keyCidrs.get(key);
    if (!parsed) {
      parsed = cidrBlockList(auth.cidrs);
      keyCidrs.set(key, parsed);
    }
    return parsed;
  }

  function tenantAllowlist(raw: string): BlockList | null | 'invalid' {
    const cached = parsedAllowlists.get(raw);
    if (cached) return cached;
    let value: BlockList | null | 'invalid';
    try {
      const list: unknown = JSON.parse(raw);
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) value = 'invalid';
      else if (list.length === 0) value = null;
      else {
        const r = cidrBlockList(list);
        value = r.ok ? r.list : 'invalid';
      }
    } catch {
      value = 'invalid';
    }
    if (value === null) return null;
    if (parsedAllowlists.size > 10_000) parsedAllowlists.clear();
    parsedAllowlists.set(raw, value);
    return value;
  }

  async function authenticate(request: FastifyRequest, route: RouteSpec): Promise<Authenticated> {
    const bearer = bearerOf(request.headers.authorization);
    if (route.permission === 'operator') {
      if (bearer && sameSecret(bearer, deps.operatorToken)) {
        return {
          principal: {
            tenantId: null,
            type: 'operator',
            id: 'operator',
            role: null,
            scopes: [],
            ip: request.clientIp,
            sessionId: null,
          },
          via: 'operator',
          csrfValid: true,
          jti: null,
          ownerId: null,
          cidrs: [],
        };
      }
      throw new AppError('UNAUTHENTICATED', 'The platform operator token is required');
    }
    if (request.headers.authorization !== undefined) {
      if (!bearer) throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <api key>"');
      const outcome = await verifyApiKey(bearer, deps.jwks, verifiedTokens);
      if (!outcome.ok) {
        request.log.info({ reason: outcome.reason }, 'API key refused');
        throw new AppError('UNAUTHENTICATED', 'The API key is not valid');
      }
      const k = outcome.key;
      return {
        principal: {
          tenantId: k.tenantId,
          type: 'api_key',
          id: k.keyId,
          role: k.role,
          scopes: k.scopes,
          ip: request.clientIp,
          sessionId: null,
          // The key's owner travels with it: services apply the owner's grants to the key.
          ownerId: k.ownerId,
        },
        via: 'api_key',
        csrfValid: true,
        jti: k.jti,
        ownerId: k.ownerId,
        cidrs: k.cidrs,
        apiKey: k,
      };
    }
    const sessionToken = sessionTokenOf(request.cookies);
    if (!sessionToken) throw new AppError('UNAUTHENTICATED', 'Sign in or send an API key');
    const csrf = request.headers[CSRF_HEADER];
    const res = await deps.upstreams.send('auth', {
      method: 'POST',
      path: '/internal/v1/sessions/resolve',
      body: { sessionToken, ...(typeof csrf === 'string' && csrf.length > 0 ? { csrfToken: csrf } : {}) },
      principal: null,
      clientIp: request.clientIp,
      requestId: request.id,
    });
    if (res.status === 401 || res.status === 404) {
      await res.body.dump();
      throw new AppError('UNAUTHENTICATED', 'The session has ended; sign in again');
    }
    if (res.status !== 200) throw await deps.upstreams.errorFrom('auth', res, { passUnauthenticated: false });
    const resolved = (await res.body.json()) as ResolvedSession;
    const p = resolved.principal;
    const userId = typeof p?.id === 'string' ? p.id : typeof p?.userId === 'string' ? p.userId : null;
    if (!p || typeof p.tenantId !== 'string' || !userId || !isRole(p.role)) {
      throw new AppError('INTERNAL', 'auth resolved a session without a usable principal');
    }
    const principal: InternalPrincipal = {
      tenantId: p.tenantId,
      type: 'user',
      id: userId,
      role: p.role,
      scopes: [],
      ip: request.clientIp,
      sessionId: typeof p.sessionId === 'string' ? p.sessionId : null,
    };
    return { principal, via: 'session', csrfValid: resolved.csrfValid === true, jti: null, ownerId: null, cidrs: [] };
  }

  function deny(
    request: FastifyRequest,
    code: 'FORBIDDEN' | 'IP_NOT_ALLOWED' | 'UNAUTHENTICATED',
    reason: string,
    message: string,
  ): never {
    request.log.warn(
      {
        reason,
        route: request.routeOptions.url,
        principal: request.auth?.principal.id ?? null,
        clientIp: request.clientIp,
      },
      'request denied',
    );
    throw new AppError(code, message);
  }

  return async function guard(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    request.auth = null;
    const routeKey = `${request.method} ${request.routeOptions.url ?? ''}`;
    const route = ROUTES.get(routeKey);
    // A route missing from the table is refused, never let through.
    if (route === undefined) throw new AppError('INTERNAL', `route ${routeKey} has no permission entry`);
    const permission = route.permission;
    const ip = request.clientIp;

    if (deps.globalAllowlist && !ipIn(deps.globalAllowlist, ip)) {
      deny(request, 'IP_NOT_ALLOWED', 'client IP outside GATEWAY_GLOBAL_ALLOWLIST', 'Your IP address is not allowed');
    }

    let auth: Authenticated | null = null;
    let authError: unknown = null;
    if (permission !== 'public') {
      try {
        auth = await authenticate(request, route);
      } catch (err) {
        // Counted against the IP limit first: failed attempts are what a limit is for.
        authError = err;
      }
    }

    const counters: Counter[] = [{ kind: 'ip', id: ip }];
    const p = auth?.principal;
    if (p && p.type !== 'operator') {
      // One budget per user: an API key counts against the user who owns it, so the user's keys
      // and sessions share it (a second key or a fresh session does not start a new one).
      counters.push({ kind: 'user', id: p.type === 'api_key' ? (auth?.ownerId ?? p.id) : p.id });
      if (p.tenantId) counters.push({ kind: 'tenant', id: p.tenantId });
    }
    const gate = await deps.gate.check({ counters, jti: auth?.jti ?? null, tenantId: p?.tenantId ?? null });
    const rate = gate.rate;
    void reply.header('ratelimit-limit', String(rate.limit));
    void reply.header('ratelimit-remaining', String(rate.remaining));
    void reply.header('ratelimit-reset', String(rate.resetSeconds));
    if (rate.retryAfterSeconds !== null) {
      void reply.header('retry-after', String(rate.retryAfterSeconds));
      request.log.warn({ limit: rate.exceeded, clientIp: ip }, 'rate limit exceeded');
      throw new AppError('RATE_LIMITED', 'Too many requests; retry later');
    }
    if (authError) throw authError;
    if (!auth || !p || permission === 'public') return;

    request.auth = auth;
    if (auth.jti) {
      if (gate.revoked === 'unavailable')
        throw new AppError(
          'UNAVAILABLE',
          'cannot check API-key revocation: redis down or not yet re-synchronised by auth',
        );
      if (gate.revoked === true)
        deny(request, 'UNAUTHENTICATED', 'API key revoked or rotated', 'The API key is not valid');
    }
    if (p.tenantId) {
      if (gate.allowlist === 'unavailable')
        throw new AppError(
          'UNAVAILABLE',
          'cannot check the tenant allowlist: redis down or not yet re-synchronised by auth',
        );
      if (gate.allowlist !== null) {
        const list = tenantAllowlist(gate.allowlist);
        // An unreadable list is not "no list": refuse rather than open up.
        if (list === 'invalid')
          throw new AppError('UNAVAILABLE', `allowlist of ${p.tenantId} is not a JSON array of CIDRs`);
        if (list && !ipIn(list, ip))
          deny(request, 'IP_NOT_ALLOWED', 'client IP outside the tenant allowlist', 'Your IP address is not allowed');
      }
    }
    if (auth.cidrs.length > 0) {
      const r = cidrsOf(auth);
      if (!r.ok || !ipIn(r.list, ip))
        deny(
          request,
          'IP_NOT_ALLOWED',
          'client IP outside the API key cidrs',
          'This API key may not be used from your IP address',
        );
    }
    const decision = decideRoute(auth, route);
    if (!decision.allow) deny(request, 'FORBIDDEN', decision.reason, 'You are not allowed to do this');
    if (auth.via === 'session' && csrfRequired(route) && !auth.csrfValid) {
      deny(request, 'FORBIDDEN', 'missing or invalid CSRF token', 'A valid x-csrf-token header is required');
    }
    request.log.debug({ reason: decision.reason, principal: p.id }, 'request authorized');
  };
}
