import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { AppError } from './errors';

function isTlsSocket(socket: IncomingMessage['socket']): socket is TLSSocket {
  return typeof (socket as Partial<TLSSocket>).getPeerCertificate === 'function';
}

/**
 * The calling service's name: the CN of the client certificate, but only when the TLS layer
 * verified that certificate against our CA (`socket.authorized`). A plain HTTP request, a
 * connection without a client certificate, or one whose certificate failed verification
 * (possible when a server is built without `rejectUnauthorized`) has no identity.
 */
export function serviceIdentity(request: { raw: Pick<IncomingMessage, 'socket'> }): string | null {
  const socket = request.raw.socket;
  if (!isTlsSocket(socket) || socket.authorized !== true) return null;
  const cert = socket.getPeerCertificate();
  // A certificate may carry several CNs (Node then gives an array); that is ambiguous, so no identity.
  const cn: unknown = cert?.subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

/**
 * A preHandler hook admitting only the named services. Use it on internal routes:
 * `app.addHook('preHandler', requireServiceIdentity(['gateway']))` inside the plugin that
 * registers them, or per route as `{ preHandler: requireServiceIdentity([...]) }`.
 */
export function requireServiceIdentity(allowed: readonly string[]): (request: FastifyRequest) => Promise<void> {
  if (allowed.length === 0) {
    // An empty list would lock every caller out; that is a wiring mistake, so fail at boot.
    throw new Error('requireServiceIdentity needs at least one allowed service name');
  }
  const allowedSet = new Set(allowed);
  return async function serviceIdentityGuard(request: FastifyRequest): Promise<void> {
    const identity = serviceIdentity(request);
    if (identity === null) {
      throw new AppError('UNAUTHENTICATED', 'A verified client certificate is required');
    }
    if (!allowedSet.has(identity)) {
      request.log.warn({ serviceIdentity: identity }, 'service not allowed on this route');
      throw new AppError('FORBIDDEN', 'This service is not allowed to call this endpoint');
    }
  };
}
