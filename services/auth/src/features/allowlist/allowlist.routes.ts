import type { FastifyInstance } from 'fastify';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import { MAX_CIDRS, type AllowlistService } from './allowlist.service';

const view = {
  type: 'object',
  additionalProperties: false,
  required: ['cidrs', 'updatedAt'],
  properties: { cidrs: { type: 'array', items: { type: 'string' } }, updatedAt: { type: ['string', 'null'] } },
} as const;

export function allowlistRoutes(app: FastifyInstance, deps: { allowlist: AllowlistService; guards: Guards }): void {
  const onRequest = deps.guards.identity;

  app.get('/v1/settings/ip-allowlist', { schema: { response: { 200: view } }, onRequest }, async (req) =>
    deps.allowlist.get(callerOf(req)),
  );

  app.put(
    '/v1/settings/ip-allowlist',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['cidrs'],
          properties: {
            cidrs: { type: 'array', maxItems: MAX_CIDRS, items: { type: 'string', minLength: 1, maxLength: 64 } },
          },
        },
        response: { 200: view },
      },
      onRequest,
    },
    async (req) => deps.allowlist.put(callerOf(req), req.body as { cidrs: string[] }),
  );
}
