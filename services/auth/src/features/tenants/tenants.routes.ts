import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, principalOf, requireServiceIdentity, serviceIdentity, INTERNAL_IDENTITY_HEADER } from '@flow8/http';
import { identity } from '@flow8/api';
import type { Actor } from '@flow8/contracts';
import type { Guards } from '../../guards';
import type { CreateTenantInput, TenantService } from './tenants.service';

/**
 * The platform operator's client certificate (CN `operator`, signed by the installation's CA)
 * is the bootstrap credential. The gateway may also forward the operator (who authenticated
 * there with GATEWAY_OPERATOR_TOKEN) with an internal identity of type `operator`.
 */
export const OPERATOR_IDENTITY = 'operator';

export function tenantRoutes(
  app: FastifyInstance,
  deps: { tenants: TenantService; guards: Guards; allowedCallers: readonly string[] },
): void {
  const operatorCertOnly = requireServiceIdentity([OPERATOR_IDENTITY]);
  const allowed = new Set(deps.allowedCallers);

  // onRequest, not preHandler: the caller is checked before its body is even parsed.
  async function onRequest(req: FastifyRequest): Promise<void> {
    const cn = serviceIdentity(req);
    if (
      cn !== null &&
      cn !== OPERATOR_IDENTITY &&
      allowed.has(cn) &&
      req.headers[INTERNAL_IDENTITY_HEADER] !== undefined
    ) {
      await deps.guards.identity(req);
      if (principalOf(req).type !== 'operator')
        throw new AppError('FORBIDDEN', 'Only the platform operator may create a company');
      return;
    }
    await operatorCertOnly(req);
  }

  const actorOf = (req: FastifyRequest): Actor =>
    req.principal
      ? { type: 'operator', id: OPERATOR_IDENTITY, ip: req.principal.ip }
      : { type: 'operator', id: OPERATOR_IDENTITY, ip: req.ip };

  app.post('/v1/tenants', { schema: identity.createTenant, onRequest }, async (req, reply) => {
    const created = await deps.tenants.create(actorOf(req), req.body as CreateTenantInput);
    return reply.code(201).send(created);
  });
}
