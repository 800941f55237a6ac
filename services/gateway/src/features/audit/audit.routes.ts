import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@flow8/http';
import type { Upstreams } from '../../upstream/client';
import { upstreamRequest } from '../forward';
import type { Handlers } from '../public-routes';

/** § Audit routes that are not plain JSON forwards; the others are forwarded as the table says. */
export function auditHandlers(deps: { upstreams: Upstreams }): Handlers {
  const { upstreams } = deps;
  return {
    'GET /v1/audit/export': async (request: FastifyRequest, reply: FastifyReply) => {
      if (!request.auth) throw new AppError('UNAUTHENTICATED', 'Authentication required');
      // Streamed through: the gateway never holds a whole export in memory.
      const { headers, body } = await upstreams.stream('audit-ingest', upstreamRequest(request));
      const type = headers['content-type'];
      const disposition = headers['content-disposition'];
      if (typeof type === 'string') void reply.header('content-type', type);
      if (typeof disposition === 'string') void reply.header('content-disposition', disposition);
      return reply.send(body);
    },
  };
}
