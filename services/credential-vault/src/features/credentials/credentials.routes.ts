import type { FastifyInstance } from 'fastify';
import type { Guards } from '../../guards';
import { callerOf, serviceCallerOf } from '../../principal';
import {
  createCredentialSchema,
  getCredentialSchema,
  listCredentialsSchema,
  resolveSchema,
  revokeCredentialSchema,
  rotateCredentialSchema,
} from './credentials.schemas';
import type { CreateCredentialInput, CredentialService, ResolveInput } from './credentials.service';

type IdParams = { id: string };

export function credentialRoutes(app: FastifyInstance, deps: { credentials: CredentialService; guards: Guards }): void {
  const { credentials, guards } = deps;
  const onRequest = guards.identity;

  app.get('/v1/credentials', { schema: listCredentialsSchema, onRequest }, async (req) =>
    credentials.list(callerOf(req), req.query as { limit: number; cursor?: string }),
  );

  app.post('/v1/credentials', { schema: createCredentialSchema, onRequest }, async (req, reply) =>
    reply.code(201).send(await credentials.create(callerOf(req), req.body as CreateCredentialInput)),
  );

  app.get('/v1/credentials/:id', { schema: getCredentialSchema, onRequest }, async (req) =>
    credentials.get(callerOf(req), (req.params as IdParams).id),
  );

  app.post('/v1/credentials/:id/rotate', { schema: rotateCredentialSchema, onRequest }, async (req) =>
    credentials.rotate(callerOf(req), (req.params as IdParams).id, req.body as { secret: string }),
  );

  app.delete('/v1/credentials/:id', { schema: revokeCredentialSchema, onRequest }, async (req, reply) => {
    const { id } = req.params as IdParams;
    const { providerRevocation } = await credentials.revoke(callerOf(req), id);
    // An oauth2 credential also says whether the grant was revoked at the provider.
    if (providerRevocation !== null) return reply.code(200).send({ id, status: 'revoked', providerRevocation });
    return reply.code(204).send();
  });

  // The flow engine only (mTLS CN flow-engine and a service call signed with its own key): the one
  // route that returns a secret. Company and principal come from the signed call, not the body.
  app.post(
    '/internal/v1/credentials/:id/resolve',
    { schema: resolveSchema, onRequest: guards.flowEngine },
    async (req) => credentials.resolve(serviceCallerOf(req), (req.params as IdParams).id, req.body as ResolveInput),
  );
}
