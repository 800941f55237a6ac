import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@flow8/http';
import type { Target, UpstreamRequest, Upstreams } from '../upstream/client';

export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function upstreamRequest(request: FastifyRequest, extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  const auth = request.auth;
  return {
    method: request.method as UpstreamRequest['method'],
    path: pathOf(request.url),
    query: (request.query ?? undefined) as Record<string, unknown> | undefined,
    body: request.body ?? undefined,
    principal: auth ? { ...auth.principal, ip: request.clientIp } : null,
    clientIp: request.clientIp,
    requestId: request.id,
    ...extra,
  };
}

/** A handler that forwards the validated request to `target` and answers with its JSON. */
export function forwardTo(upstreams: Upstreams, target: Target) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.auth) throw new AppError('UNAUTHENTICATED', 'Authentication required');
    const { status, body } = await upstreams.json<unknown>(target, upstreamRequest(request));
    reply.code(status);
    return status === 204 ? reply.send() : body;
  };
}
