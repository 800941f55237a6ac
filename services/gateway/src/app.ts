import type { BlockList } from 'node:net';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { buildServiceApp } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { securitySchemes } from '@flow8/api';
import { auditHandlers } from './features/audit/audit.routes';
import { identityHandlers } from './features/identity/identity.routes';
import { registerPublicRoutes } from './features/public-routes';
import { corsPlugin } from './http/cors';
import { COOKIE_OPTIONS } from './http/cookies';
import { clientIp } from './net/client-ip';
import { createGuard, type GuardDeps } from './security/guard';
import type { Upstreams } from './upstream/client';

export interface GatewayAppDeps extends Omit<GuardDeps, 'upstreams'> {
  logger: Logger;
  tls: { key: string; cert: string };
  upstreams: Upstreams;
  bodyLimit: number;
  corsOrigins: readonly string[];
  trustedProxies: BlockList | null;
  readiness: Record<string, () => Promise<void>>;
}

export function buildApp(deps: GatewayAppDeps): FastifyInstance {
  // Public entry: HTTPS (TLS >= 1.2, HSTS) without client certificates.
  const app = buildServiceApp({
    service: 'gateway',
    logger: deps.logger,
    tls: { key: deps.tls.key, cert: deps.tls.cert },
    bodyLimit: deps.bodyLimit,
    readiness: deps.readiness,
  });

  app.decorateRequest('clientIp', '');
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    request.clientIp = clientIp(
      request.raw.socket.remoteAddress,
      request.headers['x-forwarded-for'],
      deps.trustedProxies,
    );
  });
  void app.register(corsPlugin, { origins: deps.corsOrigins });
  void app.register(cookie, COOKIE_OPTIONS);

  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'flow8 gateway API',
        version: '1',
        description: 'Generated from the route table (@flow8/api). Errors: {error: {code, message, requestId}}.',
      },
      components: { securitySchemes },
    },
  });

  const guard = createGuard({ ...deps });
  void app.register(async (v1) => {
    v1.addHook('onRequest', guard);
    registerPublicRoutes(v1, {
      upstreams: deps.upstreams,
      handlers: { ...identityHandlers({ upstreams: deps.upstreams }), ...auditHandlers({ upstreams: deps.upstreams }) },
    });
  });

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
