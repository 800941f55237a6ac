// The route-level gate as pure functions over a route's access rule. The rules themselves — one
// per public route — live in the route table of @flow8/api (`ROUTES`), from which the gateway
// registers its routes; per-resource checks (which flow, whose key, whose OAuth state) stay with
// the service, through decide().
import { decide, type Decision, type Principal } from './decide';
import type { Grant } from './grants';
import { type Permission, type Role, roleHas } from './matrix';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * - `public`: no principal needed.
 * - `authenticated`: any user (session) or API key of a company; not the platform operator.
 * - `operator`: the platform operator's token only.
 * - a permission: decided by decide() without a resource.
 */
export type RouteAccess = Permission | 'public' | 'authenticated' | 'operator';

/** How a caller proves who it is: a session cookie (a user), an API key, the operator token. */
export type AuthKind = 'session' | 'api_key' | 'operator';

/**
 * Who may call a route, written so that a wrong combination does not type-check: a public route
 * accepts no credential, an operator route only the operator token, every other route sessions
 * and/or API keys — never none.
 */
export type RouteAccessRule =
  | { permission: 'public'; auth: readonly []; ownPermission?: never }
  | { permission: 'operator'; auth: readonly ['operator']; ownPermission?: never }
  | {
      permission: Exclude<RouteAccess, 'public' | 'operator'>;
      auth: readonly ['session'] | readonly ['api_key'] | readonly ['session', 'api_key'];
      /**
       * A principal without `permission` may still call the route for objects it owns, if it holds
       * `ownPermission`; the service must then restrict the request to the caller's own objects.
       */
      ownPermission?: Permission;
    };

/** A route as the gate sees it: method, path pattern and its access rule. */
export type RouteRule = { method: HttpMethod; path: string } & RouteAccessRule;

const KIND_OF: Record<Principal['type'], AuthKind> = { user: 'session', api_key: 'api_key', operator: 'operator' };

/** What a user of this role may call, by role alone: the expectation the security tests use. */
export function expectedAllowed(role: Role, route: RouteRule): boolean {
  switch (route.permission) {
    case 'public':
      return true;
    case 'operator':
      return false;
    case 'authenticated':
      return route.auth.some((k) => k === 'session');
    default:
      return (
        route.auth.some((k) => k === 'session') &&
        (roleHas(role, route.permission) || (route.ownPermission !== undefined && roleHas(role, route.ownPermission)))
      );
  }
}

export interface RouteDecision extends Decision {
  /** Allowed only for the caller's own objects (e.g. its own API keys): the service must enforce it. */
  ownOnly: boolean;
}

/** The gateway's route-level gate. Per-resource checks still happen in the service. */
export function authorizeRoute(
  principal: Principal | null,
  route: RouteRule,
  grants: readonly Grant[] = [],
): RouteDecision {
  const result = (allow: boolean, via: Decision['via'], reason: string, ownOnly = false): RouteDecision => ({
    allow,
    via,
    reason,
    grantIds: [],
    ownOnly,
  });
  const label = `${route.method} ${route.path}`;
  if (route.permission === 'public') return result(true, 'none', `${label} is public`);
  if (principal === null) return result(false, 'none', `${label} needs an authenticated principal`);
  if (route.permission === 'operator')
    return principal.type === 'operator'
      ? result(true, 'role', `${label} is for the platform operator`)
      : result(false, 'none', `${label} is for the platform operator only`);
  if (principal.type === 'operator')
    return result(false, 'none', `the platform operator may only call the operator routes, not ${label}`);
  const kind = KIND_OF[principal.type];
  if (!route.auth.some((k) => k === kind))
    return result(false, 'none', `${label} applies to a ${route.auth.join(' or ')}, not an ${principal.type}`);
  if (route.permission === 'authenticated')
    return result(true, 'none', `${label} is open to any authenticated principal`);
  const full = decide({ principal, permission: route.permission, grants });
  if (full.allow || route.ownPermission === undefined) return { ...full, ownOnly: false };
  const own = decide({ principal, permission: route.ownPermission, grants });
  if (own.allow) return { ...own, reason: `${own.reason}; own objects only (${full.reason})`, ownOnly: true };
  return { ...full, reason: `${full.reason}; ${own.reason}`, ownOnly: false };
}
