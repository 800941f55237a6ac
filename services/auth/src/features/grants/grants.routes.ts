import type { FastifyInstance } from 'fastify';
import { identity } from '@flow8/api';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import type { GiveGrantInput, GrantService } from './grants.service';

export function grantRoutes(app: FastifyInstance, deps: { grants: GrantService; guards: Guards }): void {
  const { grants } = deps;
  const onRequest = deps.guards.identity;

  app.get('/v1/partitions', { schema: identity.listPartitions, onRequest }, async (req) =>
    grants.listPartitions(callerOf(req), req.query as { limit: number; cursor?: string }),
  );

  app.post('/v1/partitions', { schema: identity.createPartition, onRequest }, async (req, reply) =>
    reply
      .code(201)
      .send(await grants.createPartition(callerOf(req), req.body as { name: string; description?: string })),
  );

  app.get('/v1/grants', { schema: identity.listGrants, onRequest }, async (req) =>
    grants.list(
      callerOf(req),
      req.query as { limit: number; cursor?: string; principalId?: string; resourceId?: string },
    ),
  );

  app.post('/v1/grants', { schema: identity.giveGrant, onRequest }, async (req, reply) =>
    reply.code(201).send(await grants.give(callerOf(req), req.body as GiveGrantInput)),
  );

  app.delete('/v1/grants/:id', { schema: identity.removeGrant, onRequest }, async (req, reply) => {
    await grants.remove(callerOf(req), (req.params as { id: string }).id);
    return reply.code(204).send();
  });
}
