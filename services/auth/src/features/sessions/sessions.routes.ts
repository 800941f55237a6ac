import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { identity } from '@flow8/api';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import { loginSchema, meSchema, resolveSchema } from './sessions.schemas';
import type { SessionService } from './sessions.service';

/** The client IP as the gateway determined it; anything that is not an IP address is ignored. */
function clientIp(req: FastifyRequest): string | null {
  const v = req.headers['x-flow8-client-ip'];
  return typeof v === 'string' && isIP(v) !== 0 ? v : null;
}

export function sessionRoutes(app: FastifyInstance, deps: { sessions: SessionService; guards: Guards }): void {
  const { sessions, guards } = deps;

  app.post('/v1/auth/login', { schema: loginSchema, onRequest: guards.caller }, async (req) => {
    const body = req.body as { tenant: string; email: string; password: string };
    return sessions.login({ ...body, clientIp: clientIp(req) });
  });

  app.post('/internal/v1/sessions/resolve', { schema: resolveSchema, onRequest: guards.caller }, async (req) =>
    sessions.resolve(req.body as { sessionToken: string; csrfToken?: string }),
  );

  app.post('/v1/auth/logout', { schema: identity.logout, onRequest: guards.identity }, async (req, reply) => {
    await sessions.logout(callerOf(req));
    return reply.code(204).send();
  });

  app.post('/v1/me/password', { schema: identity.changePassword, onRequest: guards.identity }, async (req, reply) => {
    await sessions.changePassword(callerOf(req), req.body as { currentPassword: string; newPassword: string });
    return reply.code(204).send();
  });

  app.get('/v1/me', { schema: meSchema, onRequest: guards.identity }, async (req) => sessions.me(callerOf(req)));
}
