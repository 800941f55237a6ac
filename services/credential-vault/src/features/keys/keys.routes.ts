import type { FastifyInstance } from 'fastify';
import { credentials as api } from '@flow8/api';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import type { KeyService } from './keys.service';

const fingerprint = { type: 'string', pattern: '^[0-9a-f]{32}$' } as const;

export function keyRoutes(app: FastifyInstance, deps: { keys: KeyService; guards: Guards; kick: () => void }): void {
  const { keys, guards } = deps;

  // Admin: rotate the company's data key; re-encryption continues in the background.
  app.post('/v1/keys/rotate', { schema: api.rotateKeys, onRequest: guards.identity }, async (req, reply) => {
    const r = await keys.rotateTenantKey(callerOf(req));
    deps.kick();
    const progress = await keys.tenantKeys(callerOf(req).tenantId);
    return reply.code(r.started ? 202 : 200).send({ ...r, ...progress });
  });

  // Admin: the company's data keys and the re-encryption progress.
  app.get('/v1/keys', { schema: api.listKeys, onRequest: guards.identity }, async (req) =>
    keys.listForTenant(callerOf(req)),
  );

  // Operator (mTLS): how many records still need each root key and data key.
  app.get('/internal/v1/keys/status', { onRequest: guards.operator }, async () => keys.status());

  app.post(
    '/internal/v1/keys/retire',
    {
      onRequest: guards.operator,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['fingerprint', 'actor'],
          properties: { fingerprint, actor: { type: 'string', minLength: 1, maxLength: 100 } },
        },
      },
    },
    async (req) => {
      const body = req.body as { fingerprint: string; actor: string };
      return keys.retireRoot(body.fingerprint, { type: 'operator', id: body.actor, ip: null });
    },
  );
}
