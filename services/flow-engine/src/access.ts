// Who may do what in the engine: the verified internal identity (the gateway authenticated the
// person; requireInternalIdentity set request.principal, role and scopes included) judged by
// @flow8/authz's decide(), with the principal's grants from this service's replicated copy of
// auth's grants (packages/grants, fed from the identity topic) — never by calling auth.
import type { FastifyRequest } from 'fastify';
import {
  decide,
  principalOf as authzPrincipalOf,
  type DecisionResource,
  type Grant,
  type Permission,
  type Principal,
} from '@flow8/authz';
import { GrantReplicaNotReady, type GrantPrincipalRef } from '@flow8/grants';
import { AppError, principalOf, type InternalPrincipal } from '@flow8/http';
import type { FlowCaller } from './features/flows/flows.service';

export interface EngineCaller extends FlowCaller {
  principal: InternalPrincipal;
}

/** The caller of a route behind requireInternalIdentity; the route acts within the caller's company. */
export function callerOf(req: FastifyRequest): EngineCaller {
  const p = principalOf(req);
  if (p.tenantId === null) throw new AppError('FORBIDDEN', 'This endpoint acts within a company; act within one');
  return { tenantId: p.tenantId, actor: { type: p.type, id: p.id, ip: p.ip }, principal: p };
}

/** Whose grants apply: a user's own; for an API key, the key's and its owner's. */
function grantHolders(p: Principal): GrantPrincipalRef[] {
  if (p.type === 'user') return [{ type: 'user', id: p.id }];
  if (p.type === 'api_key')
    return [{ type: 'api_key', id: p.id }, ...(p.ownerId ? [{ type: 'user' as const, id: p.ownerId }] : [])];
  return [];
}

export interface GrantSource {
  grantsOf(tenantId: string, principals: readonly GrantPrincipalRef[]): Promise<Grant[]>;
}

export function createAccess(deps: { grants: GrantSource }) {
  async function grantsOf(tenantId: string, principal: Principal): Promise<Grant[]> {
    const holders = grantHolders(principal);
    if (holders.length === 0) return [];
    try {
      return await deps.grants.grantsOf(tenantId, holders);
    } catch (e) {
      if (e instanceof GrantReplicaNotReady)
        throw new AppError('UNAVAILABLE', 'Access rules are still loading; retry shortly', { cause: e });
      throw e;
    }
  }

  function principalFor(caller: FlowCaller): Principal {
    const p = (caller as Partial<EngineCaller>).principal;
    // A caller without a verified principal never gets a decision in its favour.
    if (!p) throw new AppError('FORBIDDEN', 'No verified principal');
    return authzPrincipalOf(p);
  }

  /**
   * Throws FORBIDDEN (with the decision's reason) unless the caller may. Without a resource, the
   * route-level gate (role and an API key's scopes); with one, the principal's grants narrow or
   * extend as decide() rules.
   */
  async function authorize(caller: FlowCaller, permission: Permission, resource?: DecisionResource): Promise<void> {
    const principal = principalFor(caller);
    const grants = resource ? await grantsOf(caller.tenantId, principal) : [];
    const d = decide({ principal, permission, grants, ...(resource ? { resource } : {}) });
    if (!d.allow) throw new AppError('FORBIDDEN', 'You may not do this', { details: { reason: d.reason } });
  }

  return {
    authorize,
    /** The flows feature's hook: `flowId` null = create/list (route-level). */
    authorizeFlow: (caller: FlowCaller, permission: 'flows:read' | 'flows:write', flowId: string | null) =>
      authorize(caller, permission, flowId === null ? undefined : { type: 'flow', id: flowId }),
    /** A filter for lists: which of these resources the caller may read (one grants read). */
    async allowedFilter(caller: FlowCaller, permission: Permission): Promise<(resource: DecisionResource) => boolean> {
      const principal = principalFor(caller);
      const grants = await grantsOf(caller.tenantId, principal);
      return (resource) => decide({ principal, permission, grants, resource }).allow;
    },
  };
}
export type Access = ReturnType<typeof createAccess>;
