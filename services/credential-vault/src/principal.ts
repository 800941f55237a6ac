// Who is acting and what they may do. Two ways in:
//  - through the gateway, which authenticated the person (requireInternalIdentity sets
//    request.principal, role included — the gateway is the authenticator);
//  - from another service on its own initiative (requireServiceCall sets request.serviceCall): the
//    signed call names only the company and the principal acted for; the principal's role, scopes
//    and owner come from this service's copy of auth's principals, never from the caller.
// packages/authz decides, with grants from the same copy (packages/grants), never by calling auth.
import type { FastifyRequest } from 'fastify';
import {
  decide,
  principalOf as authzPrincipalOf,
  type Decision,
  type Grant,
  type Permission,
  type Principal as AuthzPrincipal,
} from '@flow8/authz';
import { serviceActor, type Actor } from '@flow8/contracts';
import type { Queryable } from '@flow8/db';
import { GrantReplicaNotReady, type GrantPrincipalRef, type ReplicatedPrincipal } from '@flow8/grants';
import { AppError, principalOf, serviceCallOf, type ActingPrincipal, type InternalPrincipal } from '@flow8/http';
import { INTEGRATIONS, type Integration } from './features/credentials/scopes';

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

/** A service calling on its own initiative, as its signed service-call token states it. */
export interface ServiceCaller {
  /** The calling service (its certificate CN, matched by the token's issuer). */
  service: string;
  tenantId: string;
  /** Whom the call acts for (ids only), or null when the service acts on its own. */
  actingFor: ActingPrincipal | null;
  /** The audit actor: the calling service. */
  actor: Actor;
}

export function serviceCallerOf(req: FastifyRequest): ServiceCaller {
  const c = serviceCallOf(req);
  return { ...c, actor: serviceActor(c.service) };
}

/** The vault's own actor, for work nobody requested in the moment (background re-encryption). */
export const VAULT_ACTOR: Actor = serviceActor('credential-vault');

/** The authz principal of a principal from the replicated copy (its real role, scopes and owner). */
export function replicatedAuthzPrincipal(p: ReplicatedPrincipal): AuthzPrincipal {
  return p.type === 'user'
    ? { type: 'user', id: p.id, role: p.role }
    : { type: 'api_key', id: p.id, role: p.role, scopes: p.scopes, ownerId: p.ownerId };
}

export function authzPrincipal(
  p: Pick<InternalPrincipal, 'type' | 'id' | 'role'> & { scopes?: readonly string[]; ownerId?: string | null },
): AuthzPrincipal {
  return authzPrincipalOf(p);
}

/** Whose grants apply: a user's own; for an API key, the key's and its owner's. */
export function grantHolders(p: AuthzPrincipal): GrantPrincipalRef[] {
  if (p.type === 'user') return [{ type: 'user', id: p.id }];
  if (p.type === 'api_key')
    return [{ type: 'api_key', id: p.id }, ...(p.ownerId ? [{ type: 'user' as const, id: p.ownerId }] : [])];
  return [];
}

export interface GrantSource {
  grantsOf(tenantId: string, principals: readonly GrantPrincipalRef[], tx?: Queryable): Promise<Grant[]>;
  principalOf(tenantId: string, id: string, tx?: Queryable): Promise<ReplicatedPrincipal | null>;
  /** Throws GrantReplicaNotReady until the copy has caught up (once it has, it stays so). */
  readiness(): Promise<void>;
}

/**
 * An API key's scopes were checked where the action entered (the route's `credentials:*` scope, or
 * the trigger's `flows:execute`); the integration check asks only whether the key's owner's role
 * and grants, and the key's own grants, allow this integration.
 */
function onIntegrationScope(p: AuthzPrincipal, permission: Permission): AuthzPrincipal {
  return p.type === 'api_key' ? { ...p, scopes: [...p.scopes, permission] } : p;
}

const forbidden = (message: string, d: Decision) =>
  new AppError('FORBIDDEN', message, { details: { reason: d.reason } });

/**
 * Decisions for the vault's routes: the role (and an API key's scopes) through decide(), then the
 * integration-level grants — "which integration may this principal attach (write), see (read) or
 * use in a flow (use)" — from the replicated grants.
 */
export function createAccess(deps: { grants: GrantSource }) {
  const notReady = (cause: unknown) =>
    new AppError('UNAVAILABLE', 'Access rules are still loading; retry shortly', { cause });

  async function grantsOf(tenantId: string, principal: AuthzPrincipal): Promise<Grant[]> {
    const holders = grantHolders(principal);
    if (holders.length === 0) return [];
    try {
      return await deps.grants.grantsOf(tenantId, holders);
    } catch (e) {
      if (e instanceof GrantReplicaNotReady) throw notReady(e);
      throw e;
    }
  }

  type IntegrationPermission = 'integrations:read' | 'integrations:write' | 'integrations:use';

  function decideWithGrants(
    grants: Grant[],
    principal: AuthzPrincipal,
    permission: IntegrationPermission,
    integration: Integration,
  ): Decision {
    return decide({
      principal: onIntegrationScope(principal, permission),
      permission,
      resource: { type: 'integration', id: integration },
      grants,
    });
  }

  return {
    /**
     * For a caller that reads the grants itself, in the same statement as its other rows (resolve:
     * one round trip): call this BEFORE the read. Completeness never goes back, so a read begun
     * after it passed sees every grant; a read begun before could have missed a narrowing grant.
     * Throws UNAVAILABLE while the copy is still catching up — never a decision from part of it.
     */
    async requireCompleteGrants(): Promise<void> {
      try {
        await deps.grants.readiness();
      } catch (e) {
        if (e instanceof GrantReplicaNotReady) throw notReady(e);
        throw e;
      }
    },

    /**
     * The principal a service call acts for, as the copy knows it (real role, scopes, owner), or
     * null when it is not a live principal of the call's company — the caller then refuses.
     */
    async actingPrincipal(caller: ServiceCaller): Promise<ReplicatedPrincipal | null> {
      if (!caller.actingFor) return null;
      try {
        const p = await deps.grants.principalOf(caller.tenantId, caller.actingFor.id);
        return p && p.type === caller.actingFor.type ? p : null;
      } catch (e) {
        if (e instanceof GrantReplicaNotReady) throw notReady(e);
        throw e;
      }
    },

    /** One integration-scoped decision from grants the caller read itself (grantHolders' live grants). */
    decideWithGrants,

    /**
     * Throws FORBIDDEN (with the decision's reason) unless the caller may. With an integration,
     * the caller must also be allowed to configure (integrations:write) that integration.
     */
    async authorize(caller: Caller, permission: Permission, integration?: Integration): Promise<void> {
      const principal = authzPrincipal(caller.principal);
      const d = decide({ principal, permission, grants: [] });
      if (!d.allow) throw forbidden('Your role does not allow this action', d);
      if (integration === undefined) return;
      const grants = await grantsOf(caller.tenantId, principal);
      const onIntegration = decideWithGrants(grants, principal, 'integrations:write', integration);
      if (!onIntegration.allow) throw forbidden('You may not manage credentials of this integration', onIntegration);
    },

    /** Integrations whose credentials the caller may see (integrations:read, narrowed by grants). */
    async readableIntegrations(caller: Caller): Promise<Integration[]> {
      const principal = authzPrincipal(caller.principal);
      const grants = await grantsOf(caller.tenantId, principal);
      return INTEGRATIONS.filter((id) => decideWithGrants(grants, principal, 'integrations:read', id).allow);
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
