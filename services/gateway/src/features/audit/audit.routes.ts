import type { FastifyInstance } from 'fastify';
import { AppError } from '@flow8/http';
import type { Upstreams } from '../../upstream/client';
import { forwardTo, upstreamRequest } from '../forward';
import { checkpointsSchema, exportSchema, listEventsSchema, verifySchema } from './audit.schemas';

export function auditRoutes(app: FastifyInstance, deps: { upstreams: Upstreams }): void {
  const { upstreams } = deps;
  const toAudit = forwardTo(upstreams, 'audit-ingest');

  app.get('/v1/audit/events', { schema: listEventsSchema }, toAudit);
  app.get('/v1/audit/verify', { schema: verifySchema }, toAudit);
  app.get('/v1/audit/checkpoints', { schema: checkpointsSchema }, toAudit);

  app.get('/v1/audit/export', { schema: exportSchema }, async (request, reply) => {
    if (!request.auth) throw new AppError('UNAUTHENTICATED', 'Authentication required');
    // Streamed through: the gateway never holds a whole export in memory.
    const { headers, body } = await upstreams.stream('audit-ingest', upstreamRequest(request));
    const type = headers['content-type'];
    const disposition = headers['content-disposition'];
    if (typeof type === 'string') void reply.header('content-type', type);
    if (typeof disposition === 'string') void reply.header('content-disposition', disposition);
    return reply.send(body);
  });
}
