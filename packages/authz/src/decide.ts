// decide(): role → grants → API-key scopes, one answer with the reason that goes into the audit
// event. Pure: the caller passes the principal's grants (from the same tenant); nothing here
// reads a clock, a database or the network.
import {
  type Grant,
  type GrantAction,
  type GrantResourceType,
  GRANT_RESOURCE_TYPES,
  permissionsOfAction,
  validActions,
} from './grants';
import {
  ADMIN_ONLY,
  isPermission,
  isRole,
  OPERATOR_ONLY,
  PERMISSIONS,
  type Permission,
  type Role,
  roleHas,
} from './matrix';

export interface UserPrincipal {
  type: 'user';
  id: string;
  role: Role;
}

/**
 * An API key acts for its owner: it is limited by the owner's role and the owner's grants, then
 * by its own scopes and its own grants (which only ever narrow). `ownerId` is the key's `uid`.
 */
export interface ApiKeyPrincipal {
  type: 'api_key';
  id: string;
  role: Role;
  scopes: readonly string[];
  ownerId: string;
}

export interface OperatorPrincipal {
  type: 'operator';
  id: string;
}

export type Principal = UserPrincipal | ApiKeyPrincipal | OperatorPrincipal;

/** What a verified identity (the gateway's internal identity token) says about who acts. */
export interface IdentityLike {
  type: 'user' | 'api_key' | 'operator';
  id: string;
  role: string | null;
  scopes?: readonly string[];
  /** For an API key: the user who owns it (their grants bound the key). */
  ownerId?: string | null;
}

/**
 * The one mapping from a verified identity to the principal decide() judges. A role that is not
 * one of ROLES is kept as it is: decide() refuses it with a reason rather than this guessing.
 */
export function principalOf(p: IdentityLike): Principal {
  switch (p.type) {
    case 'operator':
      return { type: 'operator', id: p.id };
    case 'api_key':
      return { type: 'api_key', id: p.id, role: p.role as Role, scopes: p.scopes ?? [], ownerId: p.ownerId ?? '' };
    default:
      return { type: 'user', id: p.id, role: p.role as Role };
  }
}

/** What the permission is checked against. Omit it only for a route-level gate (see README). */
export interface DecisionResource {
  type: GrantResourceType | 'execution';
  id: string;
  /** For an execution: the flow it runs. */
  flowId?: string | null;
  /** For an execution, or a flow being triggered: the data partition it belongs to. */
  partitionId?: string | null;
}

export type DecisionVia = 'role' | 'grant' | 'scope' | 'none';

export interface Decision {
  allow: boolean;
  /** Human-readable, names the role / grant ids that decided; goes into the audit event. */
  reason: string;
  /** Which rule decided (for a refusal: which rule refused). */
  via: DecisionVia;
  /** Grants that took part in the decision (narrowing or extending), for the audit event. */
  grantIds: readonly string[];
}

export interface DecideInput {
  principal: Principal;
  permission: Permission;
  resource?: DecisionResource;
  /** The principal's grants (for an API key: the key's and its owner's). Others are ignored. */
  grants: readonly Grant[];
}

interface Target {
  type: GrantResourceType;
  id: string | null | undefined;
  action: GrantAction;
  /** How a missing id is described in a refusal. */
  subject: string;
}

const allow = (via: DecisionVia, reason: string, grantIds: readonly string[] = []): Decision => ({
  allow: true,
  via,
  reason,
  grantIds,
});
const deny = (via: DecisionVia, reason: string, grantIds: readonly string[] = []): Decision => ({
  allow: false,
  via,
  reason,
  grantIds,
});

/** Permissions that apply to one flow / integration / partition / execution, and so can be granted. */
const RESOURCE_SCOPED: ReadonlySet<Permission> = new Set<Permission>([
  'flows:read',
  'flows:write',
  'flows:execute',
  'executions:read',
  'executions:approve',
  'integrations:read',
  'integrations:write',
  'integrations:use',
]);

export function isResourceScoped(permission: Permission): boolean {
  return RESOURCE_SCOPED.has(permission);
}

/**
 * The grant checks a resource-scoped permission needs on a resource: an execution needs access
 * to its flow AND (for partition-narrowed principals) to its partition. A string is a refusal:
 * the permission does not apply to that kind of resource, and guessing would skip narrowing.
 */
function targetsFor(permission: Permission, r: DecisionResource): Target[] | string {
  const flow = (id: string | null | undefined, action: GrantAction, subject: string): Target => ({
    type: 'flow',
    id,
    action,
    subject,
  });
  const partition = (id: string | null | undefined, action: GrantAction, subject: string): Target => ({
    type: 'partition',
    id,
    action,
    subject,
  });
  switch (permission) {
    case 'flows:read':
    case 'flows:write':
      if (r.type === 'flow') return [flow(r.id, permission === 'flows:read' ? 'read' : 'write', `flow ${r.id}`)];
      break;
    case 'flows:execute':
      if (r.type === 'flow')
        return [flow(r.id, 'execute', `flow ${r.id}`), partition(r.partitionId, 'execute', `run of flow ${r.id}`)];
      break;
    case 'executions:read':
      if (r.type === 'execution')
        return [flow(r.flowId, 'read', `execution ${r.id}`), partition(r.partitionId, 'read', `execution ${r.id}`)];
      if (r.type === 'flow') return [flow(r.id, 'read', `flow ${r.id}`)];
      if (r.type === 'partition') return [partition(r.id, 'read', `partition ${r.id}`)];
      break;
    case 'executions:approve':
      if (r.type === 'execution')
        return [flow(r.flowId, 'approve', `execution ${r.id}`), partition(r.partitionId, 'read', `execution ${r.id}`)];
      break;
    case 'integrations:read':
    case 'integrations:write':
    case 'integrations:use':
      if (r.type === 'integration') {
        const action =
          permission === 'integrations:read' ? 'read' : permission === 'integrations:write' ? 'write' : 'use';
        return [{ type: 'integration', id: r.id, action, subject: `integration ${r.id}` }];
      }
      break;
    default:
      break;
  }
  return `${permission} does not apply to a ${r.type} resource`;
}

function grantsOf(grants: readonly Grant[], type: 'user' | 'api_key', id: string): Grant[] {
  return grants.filter((g) => g.principal.type === type && g.principal.id === id);
}

/** A grant allows an action it names; any grant also lets its holder see (read) what it is on. */
function grantCovers(grant: Grant, action: GrantAction): boolean {
  const actions = validActions(grant);
  return actions.includes(action) || (action === 'read' && actions.length > 0);
}

/** The grant names this action explicitly and the action confers the permission. */
function grantExtends(grant: Grant, action: GrantAction, permission: Permission): boolean {
  return validActions(grant).includes(action) && permissionsOfAction(grant.resource.type, action).includes(permission);
}

const list = (xs: readonly string[]): string => `[${xs.join(', ')}]`;
const unique = (xs: readonly string[]): string[] => [...new Set(xs)];

interface TargetCheck {
  ok: boolean;
  reason: string;
  /** Grants on the target's id that allow the action (empty when not narrowed). */
  matched: Grant[];
  /** A matched grant that names the action explicitly and confers the permission. */
  extender: Grant | undefined;
  grantIds: string[];
}

/** Narrowing: with any grant on the target's type, only granted ids and actions are allowed. */
function checkTarget(target: Target, permission: Permission, grants: readonly Grant[], who: string): TargetCheck {
  const ofType = grants.filter((g) => g.resource.type === target.type);
  if (ofType.length === 0) return { ok: true, reason: '', matched: [], extender: undefined, grantIds: [] };
  const ids = unique(ofType.map((g) => g.resource.id));
  if (target.id === undefined || target.id === null || target.id === '') {
    return {
      ok: false,
      reason: `grants on ${target.type} restrict ${who} to ${list(ids)}; the ${target.subject} has no ${target.type}`,
      matched: [],
      extender: undefined,
      grantIds: ofType.map((g) => g.id),
    };
  }
  const onId = ofType.filter((g) => g.resource.id === target.id);
  if (onId.length === 0) {
    return {
      ok: false,
      reason: `grants on ${target.type} restrict ${who} to ${list(ids)}; ${target.id} is not granted`,
      matched: [],
      extender: undefined,
      grantIds: ofType.map((g) => g.id),
    };
  }
  const matched = onId.filter((g) => grantCovers(g, target.action));
  if (matched.length === 0) {
    const granted = unique(onId.flatMap((g) => validActions(g)));
    return {
      ok: false,
      reason: `grant ${onId.map((g) => g.id).join(', ')} on ${target.type} ${target.id} allows ${list(granted)}, not ${target.action}`,
      matched: [],
      extender: undefined,
      grantIds: onId.map((g) => g.id),
    };
  }
  const extender = matched.find((g) => grantExtends(g, target.action, permission));
  return { ok: true, reason: '', matched, extender, grantIds: matched.map((g) => g.id) };
}

function describeMatch(checks: readonly TargetCheck[], targets: readonly Target[]): string {
  return checks
    .map((c, i) => {
      const t = targets[i]!;
      const g = c.matched[0];
      return g ? `grant ${g.id} on ${t.type} ${t.id} allows ${t.action}` : '';
    })
    .filter((s) => s !== '')
    .join('; ');
}

/** Role plus the holder's own grants (narrow and extend). Used for users and for a key's owner. */
function decideByRoleAndGrants(
  role: Role,
  who: string,
  permission: Permission,
  resource: DecisionResource | undefined,
  grants: readonly Grant[],
): Decision {
  if (role === 'admin') return allow('role', `role admin grants ${permission} (admin is never narrowed by grants)`);
  const roleOk = roleHas(role, permission);
  if (!roleOk && ADMIN_ONLY.has(permission))
    return deny('role', `${permission} is admin-only: role ${role} does not grant it and no grant can extend to it`);
  if (!RESOURCE_SCOPED.has(permission))
    return roleOk
      ? allow('role', `role ${role} grants ${permission}`)
      : deny('role', `role ${role} does not grant ${permission}`);

  if (resource === undefined) {
    // Route-level gate only: may this principal do this to at least some resource?
    if (roleOk) {
      const narrowing = unique(grants.map((g) => g.resource.type));
      const note = narrowing.length > 0 ? `; grants on ${narrowing.join(', ')} narrow it per resource` : '';
      return allow('role', `role ${role} grants ${permission}${note}`);
    }
    for (const g of grants) {
      const action = validActions(g).find((a) => grantExtends(g, a, permission));
      if (action)
        return allow(
          'grant',
          `grant ${g.id} on ${g.resource.type} ${g.resource.id} extends role ${role} with ${action} (only on granted resources)`,
          [g.id],
        );
    }
    return deny('role', `role ${role} does not grant ${permission}`);
  }

  const targets = targetsFor(permission, resource);
  if (typeof targets === 'string') return deny('none', targets);
  const checks = targets.map((t) => checkTarget(t, permission, grants, who));
  const refused = checks.find((c) => !c.ok);
  if (refused) return deny('grant', refused.reason, refused.grantIds);
  const grantIds = unique(checks.flatMap((c) => c.grantIds));

  if (roleOk) {
    const matched = describeMatch(checks, targets);
    return matched === ''
      ? allow('role', `role ${role} grants ${permission}`)
      : allow('grant', `${matched} (role ${role} grants ${permission})`, grantIds);
  }
  const ext = checks.findIndex((c) => c.extender !== undefined);
  if (ext >= 0) {
    const t = targets[ext]!;
    const g = checks[ext]!.extender!;
    return allow('grant', `grant ${g.id} on ${t.type} ${t.id} extends role ${role} with ${t.action}`, grantIds);
  }
  return deny('role', `role ${role} does not grant ${permission} and no grant on ${targets[0]!.subject} extends it`);
}

export function decide(input: DecideInput): Decision {
  const { principal, permission, resource } = input;
  // Inputs often come from tokens and headers: check them rather than trust the types.
  if (!isPermission(permission)) return deny('none', `unknown permission ${String(permission)}`);
  if (resource !== undefined && !([...GRANT_RESOURCE_TYPES, 'execution'] as string[]).includes(resource.type))
    return deny('none', `unknown resource type ${String(resource.type)}`);

  if (principal.type === 'operator') {
    return OPERATOR_ONLY.has(permission)
      ? allow('role', `the platform operator may ${permission}`)
      : deny('none', `the platform operator may only create tenants, not ${permission}`);
  }
  if (OPERATOR_ONLY.has(permission)) return deny('none', `${permission} is for the platform operator only`);
  if (!isRole(principal.role)) return deny('none', `principal ${principal.id} has no valid role`);

  if (principal.type === 'user') {
    return decideByRoleAndGrants(
      principal.role,
      principal.id,
      permission,
      resource,
      grantsOf(input.grants, 'user', principal.id),
    );
  }

  if (principal.type === 'api_key') {
    const scopes: readonly unknown[] = Array.isArray(principal.scopes) ? principal.scopes : [];
    if (!scopes.includes(permission)) return deny('scope', `api key scopes do not include ${permission}`);
    const hasOwner = typeof principal.ownerId === 'string' && principal.ownerId !== '';
    // The owner's grants matter only for resource-scoped permissions; there, no owner = refuse,
    // or a key could escape its owner's narrowing.
    if (!hasOwner && RESOURCE_SCOPED.has(permission))
      return deny(
        'none',
        `api key ${principal.id} has no owner id; its owner's grants on ${permission} cannot be applied`,
      );
    const owner = decideByRoleAndGrants(
      principal.role,
      hasOwner ? principal.ownerId : principal.id,
      permission,
      resource,
      hasOwner ? grantsOf(input.grants, 'user', principal.ownerId) : [],
    );
    if (!owner.allow)
      return deny(
        owner.via,
        hasOwner
          ? `api key ${principal.id} is limited by its owner ${principal.ownerId}: ${owner.reason}`
          : owner.reason,
        owner.grantIds,
      );
    // The key's own grants only narrow: a key never exceeds its owner. Admin is never narrowed.
    const keyGrants = grantsOf(input.grants, 'api_key', principal.id);
    let keyGrantIds: string[] = [];
    if (
      principal.role !== 'admin' &&
      resource !== undefined &&
      RESOURCE_SCOPED.has(permission) &&
      keyGrants.length > 0
    ) {
      const targets = targetsFor(permission, resource);
      if (typeof targets === 'string') return deny('none', targets);
      const checks = targets.map((t) => checkTarget(t, permission, keyGrants, principal.id));
      const refused = checks.find((c) => !c.ok);
      if (refused) return deny('grant', refused.reason, refused.grantIds);
      keyGrantIds = checks.flatMap((c) => c.grantIds);
    }
    return allow(
      owner.via,
      `${owner.reason}; api key ${principal.id} scopes include ${permission}`,
      unique([...owner.grantIds, ...keyGrantIds]),
    );
  }
  const unknownPrincipal: never = principal;
  return deny('none', `unknown principal type ${String((unknownPrincipal as { type: unknown }).type)}`);
}

/** The read permission that makes a resource of this type visible in a list. */
export const VISIBILITY_PERMISSION: Readonly<Record<GrantResourceType, Permission>> = {
  flow: 'flows:read',
  integration: 'integrations:read',
  /** A partition is "visible" when the principal may read executions in it. */
  partition: 'executions:read',
};

/** For list endpoints: the ids (in their given order) the principal may see. */
export function filterVisible(
  principal: Principal,
  type: GrantResourceType,
  ids: readonly string[],
  grants: readonly Grant[],
  permission: Permission = VISIBILITY_PERMISSION[type],
): string[] {
  return ids.filter((id) => decide({ principal, permission, resource: { type, id }, grants }).allow);
}

/**
 * The role-level permissions a principal holds (for GET /v1/me): an API key's are its scopes ∩
 * its owner's role. Grants narrow and extend these per resource; decide() applies them.
 */
export function effectivePermissions(principal: Principal): Permission[] {
  if (principal.type === 'operator') return [...OPERATOR_ONLY];
  if (!isRole(principal.role)) return [];
  const role = principal.role;
  const fromRole = (p: Permission): boolean => roleHas(role, p);
  if (principal.type === 'user') return PERMISSIONS.filter(fromRole);
  const scopes: readonly unknown[] = Array.isArray(principal.scopes) ? principal.scopes : [];
  return PERMISSIONS.filter((p) => fromRole(p) && scopes.includes(p));
}
