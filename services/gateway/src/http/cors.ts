// CORS for an allowlist of browser origins, credentials allowed. A request from any other
// origin gets no CORS headers at all, so the browser keeps the answer from the page.
import type { FastifyInstance } from 'fastify';

const ALLOW_HEADERS = 'content-type, x-csrf-token, authorization, x-request-id';
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
const EXPOSE_HEADERS = 'ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after, x-request-id';

export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  const allowed = new Set(origins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    void reply.header('vary', 'Origin');
    if (typeof origin !== 'string' || !allowed.has(origin)) return;
    void reply.header('access-control-allow-origin', origin);
    void reply.header('access-control-allow-credentials', 'true');
    void reply.header('access-control-expose-headers', EXPOSE_HEADERS);
  });
  // Preflight for every path; unknown origins get a bare 204 the browser treats as a refusal.
  app.options('/*', { schema: { hide: true } }, async (request, reply) => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowed.has(origin)) {
      void reply.header('access-control-allow-methods', ALLOW_METHODS);
      void reply.header('access-control-allow-headers', ALLOW_HEADERS);
      void reply.header('access-control-max-age', '600');
    }
    return reply.code(204).send();
  });
}
