import type { FastifyInstance, FastifyRequest } from 'fastify';
import { identity } from '@flow8/api';
import { principalOf, requireServiceIdentity } from '@flow8/http';
import { jwksSchema } from './api-keys.schemas';
import type { ApiKeyService, CreateApiKeyInput } from './api-keys.service';
import type { SigningKeyring } from './signing';

export function apiKeyRoutes(
  app: FastifyInstance,
  deps: {
    apiKeys: ApiKeyService;
    keyring: Pick<SigningKeyring, 'jwks'>;
    /** requireInternalIdentity for this service: mTLS caller AND a valid gateway identity token. */
    identity: (request: FastifyRequest) => Promise<void>;
    /** Client-certificate CNs allowed to fetch the JWKS (the gateway). */
    allowedCallers: readonly string[];
  },
): void {
  const { apiKeys } = deps;
  // onRequest, not preHandler: the caller is checked before its body is even parsed.
  const onRequest = deps.identity;

  app.get('/v1/api-keys', { schema: identity.listApiKeys, onRequest }, async (req) => {
    return apiKeys.list(principalOf(req), req.query as { limit: number; cursor?: string });
  });

  app.post('/v1/api-keys', { schema: identity.createApiKey, onRequest }, async (req, reply) => {
    return reply.code(201).send(await apiKeys.create(principalOf(req), req.body as CreateApiKeyInput));
  });

  app.post('/v1/api-keys/:id/rotate', { schema: identity.rotateApiKey, onRequest }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const body = (req.body ?? {}) as { expiresInDays?: number };
    return reply.code(201).send(await apiKeys.rotate(principalOf(req), id, body));
  });

  app.delete('/v1/api-keys/:id', { schema: identity.revokeApiKey, onRequest }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await apiKeys.revoke(principalOf(req), id);
    return reply.code(204).send();
  });

  // Public keys only; the gateway fetches them over mTLS (no end-user identity involved) and
  // refetches on an unknown kid.
  app.get(
    '/internal/v1/jwks',
    { schema: jwksSchema, onRequest: requireServiceIdentity(deps.allowedCallers) },
    async (_req, reply) => {
      return reply.header('cache-control', 'max-age=60').send(deps.keyring.jwks());
    },
  );
}
