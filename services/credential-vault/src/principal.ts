// Who is acting, as the gateway authenticated them (requireInternalIdentity sets
// request.principal), and what they may do: packages/authz decides.
import type { FastifyRequest } from 'fastify';
import { decide, type Grant, type Permission, type Principal as AuthzPrincipal, type Role } from '@flow8/authz';
import type { Actor } from '@flow8/contracts';
import { AppError, principalOf, type InternalPrincipal } from '@flow8/http';
import type { Integration } from './features/credentials/scopes';

export interface Caller {
  tenantId: string;
  actor: Actor;
  principal: InternalPrincipal;
}

export function callerOf(req: FastifyRequest): Caller {
  const p = principalOf(req);
  if (p.tenantId === null) throw new AppError('FORBIDDEN', 'This endpoint acts within a company; act within one');
  return { tenantId: p.tenantId, actor: { type: p.type, id: p.id, ip: p.ip }, principal: p };
}

function authzPrincipal(p: InternalPrincipal): AuthzPrincipal {
  switch (p.type) {
    case 'operator':
      return { type: 'operator', id: p.id };
    case 'api_key':
      return { type: 'api_key', id: p.id, role: p.role as Role, scopes: p.scopes, ownerId: p.ownerId ?? '' };
    default:
      return { type: 'user', id: p.id, role: p.role as Role };
  }
}

/**
 * The caller's grants. TODO(grants replication): grants live in auth and are not replicated to
 * the vault yet, so decisions use the role alone (an integration grant that narrows a Flow
 * Designer to some integrations is not applied here). When auth's grant events are replicated,
 * return the caller's (and an API key owner's) grants from the local copy.
 */
function grantsOf(_caller: Caller): Grant[] {
  return [];
}

/** Throws FORBIDDEN (with the decision's reason) unless the caller may. */
export function authorize(caller: Caller, permission: Permission, integration?: Integration): void {
  const principal = authzPrincipal(caller.principal);
  const grants = grantsOf(caller);
  const d = decide({ principal, permission, grants });
  if (!d.allow)
    throw new AppError('FORBIDDEN', 'Your role does not allow this action', { details: { reason: d.reason } });
  if (integration !== undefined) {
    // Integration-level: may this principal attach (write) credentials of this integration?
    const onIntegration = decide({
      principal,
      permission: 'integrations:write',
      resource: { type: 'integration', id: integration },
      grants,
    });
    if (!onIntegration.allow)
      throw new AppError('FORBIDDEN', 'You may not manage credentials of this integration', {
        details: { reason: onIntegration.reason },
      });
  }
}
