import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireServiceIdentity } from '@flow8/http';
import type { AuditService, Caller } from './audit.service';
import {
  createCheckpointSchema,
  exportSchema,
  listCheckpointsSchema,
  listEventsSchema,
  verifySchema,
} from './audit.schemas';

function callerOf(req: FastifyRequest): Caller {
  const h = req.headers as Record<string, string>;
  return {
    tenantId: h['x-flow8-tenant-id']!,
    actor: {
      type: h['x-flow8-actor-type'] as Caller['actor']['type'],
      id: h['x-flow8-actor-id']!,
      ip: h['x-flow8-actor-ip'] ?? null,
    },
  };
}

export function auditRoutes(
  app: FastifyInstance,
  deps: { audit: AuditService; allowedCallers: readonly string[] },
): void {
  const { audit } = deps;
  const preHandler = requireServiceIdentity(deps.allowedCallers);

  app.get('/v1/audit/events', { schema: listEventsSchema, preHandler }, async (req) => {
    const q = req.query as {
      type?: string;
      actorId?: string;
      resourceType?: string;
      resourceId?: string;
      from?: string;
      to?: string;
      limit: number;
      cursor?: string;
    };
    return audit.query(callerOf(req), q);
  });

  app.get('/v1/audit/export', { schema: exportSchema, preHandler }, async (req, reply) => {
    const q = req.query as { format: 'ndjson' | 'csv'; from?: string; to?: string };
    const stream = await audit.export(callerOf(req), q);
    const ext = q.format === 'csv' ? 'csv' : 'ndjson';
    void reply
      .header('content-type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="audit-export.${ext}"`);
    return reply.send(stream);
  });

  app.get('/v1/audit/verify', { schema: verifySchema, preHandler }, async (req) => audit.verify(callerOf(req)));

  app.get('/v1/audit/checkpoints', { schema: listCheckpointsSchema, preHandler }, async (req) =>
    audit.listCheckpoints(callerOf(req)),
  );

  app.post('/v1/audit/checkpoints', { schema: createCheckpointSchema, preHandler }, async (req, reply) => {
    const cp = await audit.createCheckpoint(callerOf(req));
    if (!cp) return reply.code(200).send({ created: false });
    return reply.code(201).send({
      seq: cp.seq,
      headHash: cp.headHash,
      signedAt: cp.signedAt,
      keyId: cp.keyId,
      signature: Buffer.from(cp.signature).toString('base64'),
      canonical: Buffer.from(cp.canonical).toString('base64'),
    });
  });
}
