import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@flow8/http';
import { effectivePermissions } from '@flow8/authz';
import { SESSION_COOKIE, SESSION_TOKEN, sessionCookie } from '../../http/cookies';
import { toAuthzPrincipal } from '../../security/guard';
import type { Upstreams } from '../../upstream/client';
import { upstreamRequest } from '../forward';
import type { Handlers } from '../public-routes';

/**
 * The cookie lives exactly as long as the session auth opened (AUTH_SESSION_TTL, absolute):
 * seconds from now until auth's `expiresAt`. A cookie outliving its session would only be
 * refused later; one dying first would sign users out early.
 */
export function sessionMaxAge(expiresAt: unknown, now = Date.now()): number | null {
  if (typeof expiresAt !== 'string') return null;
  const end = Date.parse(expiresAt);
  if (!Number.isFinite(end)) return null;
  return Math.max(0, Math.round((end - now) / 1000));
}

interface LoginAnswer {
  sessionToken?: unknown;
  csrfToken?: unknown;
  expiresAt?: unknown;
  user?: unknown;
}

/**
 * The identity routes the gateway answers itself (GET /v1/me) or does more than forward (the
 * session cookie of login, logout and a password change). The others of § Identity and access
 * are forwarded to auth as they are: see the route table.
 */
export function identityHandlers(deps: { upstreams: Upstreams }): Handlers {
  const { upstreams } = deps;
  return {
    'POST /v1/auth/login': async (request: FastifyRequest, reply: FastifyReply) => {
      // Not yet anyone: auth gets the request over mTLS without an identity, plus the client IP.
      const { body } = await upstreams.json<LoginAnswer>('auth', upstreamRequest(request, { principal: null }), {
        passUnauthenticated: true,
      });
      if (
        typeof body.sessionToken !== 'string' ||
        !SESSION_TOKEN.test(body.sessionToken) ||
        typeof body.csrfToken !== 'string'
      ) {
        throw new AppError('INTERNAL', 'auth answered a login without session or CSRF token');
      }
      const maxAge = sessionMaxAge(body.expiresAt);
      if (maxAge === null) throw new AppError('INTERNAL', 'auth answered a login without a valid expiresAt');
      void reply.setCookie(SESSION_COOKIE, body.sessionToken, sessionCookie(maxAge));
      // The session token lives only in the HttpOnly cookie, never where script can read it.
      return { user: body.user, csrfToken: body.csrfToken, expiresAt: body.expiresAt };
    },

    'POST /v1/auth/logout': async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.auth?.via !== 'session') throw new AppError('BAD_REQUEST', 'Only a browser session can sign out');
      void reply.setCookie(SESSION_COOKIE, '', sessionCookie(0));
      await upstreams.json('auth', upstreamRequest(request, { body: undefined }));
      return reply.code(204).send();
    },

    'GET /v1/me': async (request: FastifyRequest) => {
      const auth = request.auth;
      if (!auth || auth.principal.type === 'operator') throw new AppError('UNAUTHENTICATED', 'Authentication required');
      const p = auth.principal;
      return {
        type: p.type,
        id: p.id,
        tenantId: p.tenantId,
        role: p.role,
        scopes: p.scopes,
        permissions: effectivePermissions(toAuthzPrincipal(auth)),
        clientIp: request.clientIp,
      };
    },

    'POST /v1/me/password': async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.auth?.via !== 'session')
        throw new AppError('FORBIDDEN', 'Only a signed-in user can change a password');
      await upstreams.json('auth', upstreamRequest(request));
      // auth ended every session of the user, this one included: the cookie is now worthless.
      void reply.setCookie(SESSION_COOKIE, '', sessionCookie(0));
      return reply.code(204).send();
    },
  };
}
