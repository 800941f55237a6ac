// CORS for an allowlist of browser origins, credentials allowed, through @fastify/cors. A request
// from any other origin (or none) gets no CORS headers at all, so the browser keeps the answer
// from the page; every answer varies on Origin.
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by @fastify/cors when it answered the request as a preflight. */
    corsPreflightEnabled?: boolean;
  }
}

const ALLOW_HEADERS = 'content-type, x-csrf-token, authorization, x-request-id';
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
const EXPOSE_HEADERS = 'ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after, x-request-id';

export const corsPlugin = fp(
  async (app: FastifyInstance, opts: { origins: readonly string[] }) => {
    const allowed = new Set(opts.origins);
    await app.register(cors, {
      // A function, not the list: for an origin outside the list the plugin then adds nothing
      // (with a list it would still send allow-credentials and expose-headers).
      origin: (origin, cb) => cb(null, typeof origin === 'string' && allowed.has(origin)),
      credentials: true,
      methods: ALLOW_METHODS,
      allowedHeaders: ALLOW_HEADERS,
      exposedHeaders: EXPOSE_HEADERS,
      maxAge: 600,
      // Any OPTIONS from an allowed origin is answered as a preflight, as browsers send them.
      strictPreflight: false,
      hideOptionsRoute: true,
    });
    // A preflight from an origin not allowed gets a bare 204 (the browser treats the missing
    // headers as a refusal), not the plugin's 404: the same answer for every OPTIONS request.
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS' && !request.corsPreflightEnabled) return reply.code(204).send();
    });
  },
  { name: 'flow8-gateway-cors' },
);
