import type { FastifyInstance } from 'fastify';
import { identity } from '@flow8/api';
import type { Guards } from '../../guards';
import { callerOf } from '../../principal';
import type { AllowlistService } from './allowlist.service';

export function allowlistRoutes(app: FastifyInstance, deps: { allowlist: AllowlistService; guards: Guards }): void {
  const onRequest = deps.guards.identity;

  app.get('/v1/settings/ip-allowlist', { schema: identity.getAllowlist, onRequest }, async (req) =>
    deps.allowlist.get(callerOf(req)),
  );

  app.put('/v1/settings/ip-allowlist', { schema: identity.putAllowlist, onRequest }, async (req) =>
    deps.allowlist.put(callerOf(req), req.body as { cidrs: string[] }),
  );
}
