import type { FastifyInstance } from 'fastify';
import { requireServiceIdentity } from '@flow8/http';
import { createTenantSchema } from './tenants.schemas';
import type { CreateTenantInput, TenantService } from './tenants.service';

/**
 * The platform operator's client certificate (CN `operator`, signed by the installation's CA)
 * is the bootstrap credential: it is the only way to create a company, and so its first Admin.
 */
export const OPERATOR_IDENTITY = 'operator';

export function tenantRoutes(app: FastifyInstance, deps: { tenants: TenantService }): void {
  // onRequest, not preHandler: the caller is checked before its body is even parsed.
  const onRequest = requireServiceIdentity([OPERATOR_IDENTITY]);

  app.post('/v1/tenants', { schema: createTenantSchema, onRequest }, async (req, reply) => {
    const created = await deps.tenants.create(
      { type: 'operator', id: OPERATOR_IDENTITY, ip: req.ip },
      req.body as CreateTenantInput,
    );
    return reply.code(201).send(created);
  });
}
