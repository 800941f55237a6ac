import type { FastifyInstance } from 'fastify';
import { AppError } from '@flow8/http';
import { effectivePermissions } from '@flow8/authz';
import { SESSION_COOKIE, toAuthzPrincipal } from '../../security/guard';
import type { Upstreams } from '../../upstream/client';
import { forwardTo, upstreamRequest } from '../forward';
import * as s from './identity.schemas';

const COOKIE_ATTRS = 'Path=/; Secure; HttpOnly; SameSite=Strict';

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
const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

interface LoginAnswer {
  sessionToken?: unknown;
  csrfToken?: unknown;
  expiresAt?: unknown;
  user?: unknown;
}

export function identityRoutes(app: FastifyInstance, deps: { upstreams: Upstreams }): void {
  const { upstreams } = deps;
  const toAuth = forwardTo(upstreams, 'auth');

  app.post('/v1/auth/login', { schema: s.loginSchema }, async (request, reply) => {
    // Not yet anyone: auth gets the request over mTLS without an identity, plus the client IP.
    const { body } = await upstreams.json<LoginAnswer>('auth', upstreamRequest(request, { principal: null }), {
      passUnauthenticated: true,
    });
    if (typeof body.sessionToken !== 'string' || !TOKEN.test(body.sessionToken) || typeof body.csrfToken !== 'string') {
      throw new AppError('INTERNAL', 'auth answered a login without session or CSRF token');
    }
    const maxAge = sessionMaxAge(body.expiresAt);
    if (maxAge === null) throw new AppError('INTERNAL', 'auth answered a login without a valid expiresAt');
    void reply.header('set-cookie', `${SESSION_COOKIE}=${body.sessionToken}; ${COOKIE_ATTRS}; Max-Age=${maxAge}`);
    // The session token lives only in the HttpOnly cookie, never where script can read it.
    return { user: body.user, csrfToken: body.csrfToken, expiresAt: body.expiresAt };
  });

  app.post('/v1/auth/logout', { schema: s.logoutSchema }, async (request, reply) => {
    if (request.auth?.via !== 'session') throw new AppError('BAD_REQUEST', 'Only a browser session can sign out');
    void reply.header('set-cookie', `${SESSION_COOKIE}=; ${COOKIE_ATTRS}; Max-Age=0`);
    await upstreams.json('auth', upstreamRequest(request, { body: undefined }));
    return reply.code(204).send();
  });

  app.get('/v1/me', { schema: s.meSchema }, async (request) => {
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
  });

  app.post('/v1/me/password', { schema: s.changePasswordSchema }, async (request, reply) => {
    if (request.auth?.via !== 'session') throw new AppError('FORBIDDEN', 'Only a signed-in user can change a password');
    await upstreams.json('auth', upstreamRequest(request));
    // auth ended every session of the user, this one included: the cookie is now worthless.
    void reply.header('set-cookie', `${SESSION_COOKIE}=; ${COOKIE_ATTRS}; Max-Age=0`);
    return reply.code(204).send();
  });

  app.get('/v1/users', { schema: s.listUsersSchema }, toAuth);
  app.post('/v1/users', { schema: s.createUserSchema }, toAuth);
  app.get('/v1/users/:id', { schema: s.getUserSchema }, toAuth);
  app.patch('/v1/users/:id', { schema: s.patchUserSchema }, toAuth);
  app.delete('/v1/users/:id', { schema: s.deleteUserSchema }, toAuth);

  app.get('/v1/grants', { schema: s.listGrantsSchema }, toAuth);
  app.post('/v1/grants', { schema: s.createGrantSchema }, toAuth);
  app.delete('/v1/grants/:id', { schema: s.deleteGrantSchema }, toAuth);

  app.get('/v1/partitions', { schema: s.listPartitionsSchema }, toAuth);
  app.post('/v1/partitions', { schema: s.createPartitionSchema }, toAuth);

  app.get('/v1/api-keys', { schema: s.listApiKeysSchema }, toAuth);
  app.post('/v1/api-keys', { schema: s.createApiKeySchema }, toAuth);
  app.post('/v1/api-keys/:id/rotate', { schema: s.rotateApiKeySchema }, toAuth);
  app.delete('/v1/api-keys/:id', { schema: s.deleteApiKeySchema }, toAuth);

  app.get('/v1/settings/ip-allowlist', { schema: s.getAllowlistSchema }, toAuth);
  app.put('/v1/settings/ip-allowlist', { schema: s.putAllowlistSchema }, toAuth);

  app.post('/v1/tenants', { schema: s.createTenantSchema }, toAuth);
}
