// Who is acting, as the gateway authenticated them: the verified internal identity token
// (requireInternalIdentity sets request.principal). No header of the caller's choosing is trusted.
// What they may do is packages/authz's decision; this file only maps auth's actions onto it.
import type { FastifyRequest } from 'fastify';
import {
  decide as authzDecide,
  effectivePermissions,
  principalOf as authzPrincipalOf,
  type Permission,
  type Principal as AuthzPrincipal,
  type Role,
} from '@flow8/authz';
import type { Actor } from '@flow8/contracts';
import { AppError, principalOf, type InternalPrincipal } from '@flow8/http';

// The roles are @flow8/authz's; auth re-exports them for its schemas, never redefines them.
export { ROLES, type Role } from '@flow8/authz';

export interface Caller {
  tenantId: string;
  role: Role | null;
  actor: Actor;
  principal: InternalPrincipal;
}

/** The tenant-scoped caller of a route guarded by requireInternalIdentity. */
export function callerOf(req: FastifyRequest): Caller {
  const p = principalOf(req);
  if (p.tenantId === null) throw new AppError('FORBIDDEN', 'This endpoint acts within a company; act within one');
  return { tenantId: p.tenantId, role: p.role, actor: { type: p.type, id: p.id, ip: p.ip }, principal: p };
}

/** auth's administrative actions and the permission of the one matrix each needs. */
export const ACTION_PERMISSION = {
  'users.create': 'users:write',
  'users.list': 'users:read',
  'users.read': 'users:read',
  'users.update': 'users:write',
  'users.remove': 'users:write',
  'grants.list': 'grants:read',
  'grants.give': 'grants:write',
  'grants.remove': 'grants:write',
  'partitions.list': 'partitions:read',
  'partitions.create': 'partitions:write',
  'allowlist.read': 'settings:read',
  'allowlist.write': 'settings:write',
} as const satisfies Record<string, Permission>;
export type AdminAction = keyof typeof ACTION_PERMISSION;
export const ADMIN_ACTIONS = Object.keys(ACTION_PERMISSION) as AdminAction[];

/** Self-service on one's own account: not in the matrix, every principal of the right kind may. */
export const SELF_ACTIONS = ['me.read', 'session.logout', 'password.change'] as const;
export type Action = AdminAction | (typeof SELF_ACTIONS)[number];

export interface Decision {
  allowed: boolean;
  reason: string;
}

type Who = {
  role: Role | null;
  type?: InternalPrincipal['type'];
  id?: string;
  scopes?: string[];
  ownerId?: string | null;
};

/**
 * The principal as packages/authz sees it. An API key is bounded by its owner's grants, so the
 * owner (the identity token's `oid`) comes along; without it authz refuses owner-bound actions.
 */
export function authzPrincipal(who: Who): AuthzPrincipal {
  return authzPrincipalOf({ ...who, type: who.type ?? 'user', id: who.id ?? 'unknown' });
}

export function decide(who: Who, action: Action): Decision {
  switch (action) {
    case 'me.read':
      return { allowed: true, reason: `any principal may ${action}` };
    case 'session.logout':
    case 'password.change':
      return who.type === undefined || who.type === 'user'
        ? { allowed: true, reason: `a user may ${action}` }
        : { allowed: false, reason: `a ${who.type} principal may not ${action}` };
    default: {
      const d = authzDecide({ principal: authzPrincipal(who), permission: ACTION_PERMISSION[action], grants: [] });
      return { allowed: d.allow, reason: d.reason };
    }
  }
}

export function authorize(who: Who, action: Action): void {
  const d = decide(who, action);
  if (!d.allowed)
    throw new AppError('FORBIDDEN', 'Your role does not allow this action', { details: { reason: d.reason } });
}

/** The caller for authorize(): role, type, id and scopes of the authenticated principal. */
export function who(caller: Caller): Who {
  const p = caller.principal;
  return { role: caller.role, type: p.type, id: p.id, scopes: p.scopes, ownerId: p.ownerId ?? null };
}

/** The matrix permissions a principal holds, for GET /v1/me (grants refine them per resource). */
export function permissionsOf(who: Who): Permission[] {
  return effectivePermissions(authzPrincipal(who));
}
