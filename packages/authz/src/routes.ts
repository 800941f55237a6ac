// What each public route requires, for the gateway's route-level gate and for the role × endpoint
// security tests. Covers docs/api.md § Identity and access, § Credentials (OAuth2 start and
// callback included) and § Audit exactly, plus `GET /v1/keys` (the data keys' re-encryption
// progress); per-resource checks (which flow, whose key, whose OAuth
// state) stay with the service, through decide().
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

export interface RoutePermission {
  method: HttpMethod;
  /** Path pattern as in docs/api.md; `:name` matches one segment. No query string. */
  path: string;
  permission: RouteAccess;
  /**
   * A principal without `permission` may still call the route for objects it owns, if it holds
   * `ownPermission`; the service must then restrict the request to the caller's own objects.
   */
  ownOnly?: boolean;
  ownPermission?: Permission;
  /** Meaningful only for a cookie session (a user principal), e.g. logout. */
  sessionOnly?: boolean;
  section: 'identity' | 'credentials' | 'audit';
}

export const ROUTE_PERMISSIONS: readonly RoutePermission[] = [
  // § Identity and access
  { section: 'identity', method: 'POST', path: '/v1/auth/login', permission: 'public' },
  { section: 'identity', method: 'POST', path: '/v1/auth/logout', permission: 'authenticated', sessionOnly: true },
  { section: 'identity', method: 'GET', path: '/v1/me', permission: 'authenticated' },
  { section: 'identity', method: 'POST', path: '/v1/me/password', permission: 'authenticated', sessionOnly: true },
  { section: 'identity', method: 'GET', path: '/v1/users', permission: 'users:read' },
  { section: 'identity', method: 'POST', path: '/v1/users', permission: 'users:write' },
  { section: 'identity', method: 'GET', path: '/v1/users/:id', permission: 'users:read' },
  { section: 'identity', method: 'PATCH', path: '/v1/users/:id', permission: 'users:write' },
  { section: 'identity', method: 'DELETE', path: '/v1/users/:id', permission: 'users:write' },
  { section: 'identity', method: 'GET', path: '/v1/grants', permission: 'grants:read' },
  { section: 'identity', method: 'POST', path: '/v1/grants', permission: 'grants:write' },
  { section: 'identity', method: 'DELETE', path: '/v1/grants/:id', permission: 'grants:write' },
  { section: 'identity', method: 'GET', path: '/v1/partitions', permission: 'partitions:read' },
  { section: 'identity', method: 'POST', path: '/v1/partitions', permission: 'partitions:write' },
  {
    section: 'identity',
    method: 'GET',
    path: '/v1/api-keys',
    permission: 'api_keys:read',
    ownOnly: true,
    ownPermission: 'api_keys:read_own',
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/api-keys',
    permission: 'api_keys:write',
    ownOnly: true,
    ownPermission: 'api_keys:write_own',
  },
  {
    section: 'identity',
    method: 'POST',
    path: '/v1/api-keys/:id/rotate',
    permission: 'api_keys:write',
    ownOnly: true,
    ownPermission: 'api_keys:write_own',
  },
  {
    section: 'identity',
    method: 'DELETE',
    path: '/v1/api-keys/:id',
    permission: 'api_keys:write',
    ownOnly: true,
    ownPermission: 'api_keys:write_own',
  },
  { section: 'identity', method: 'GET', path: '/v1/settings/ip-allowlist', permission: 'settings:read' },
  { section: 'identity', method: 'PUT', path: '/v1/settings/ip-allowlist', permission: 'settings:write' },
  { section: 'identity', method: 'POST', path: '/v1/tenants', permission: 'operator' },
  // § Credentials (credential-vault).
  { section: 'credentials', method: 'GET', path: '/v1/credentials', permission: 'credentials:read' },
  { section: 'credentials', method: 'POST', path: '/v1/credentials', permission: 'credentials:write' },
  { section: 'credentials', method: 'GET', path: '/v1/credentials/:id', permission: 'credentials:read' },
  { section: 'credentials', method: 'POST', path: '/v1/credentials/:id/rotate', permission: 'credentials:write' },
  { section: 'credentials', method: 'DELETE', path: '/v1/credentials/:id', permission: 'credentials:write' },
  // OAuth2 authorization code + PKCE. The callback is a GET but creates a credential: it needs the
  // same permission as a create, and the vault also requires the caller to be the user who started.
  {
    section: 'credentials',
    method: 'POST',
    path: '/v1/credentials/oauth/:integration/start',
    permission: 'credentials:write',
  },
  { section: 'credentials', method: 'GET', path: '/v1/credentials/oauth/callback', permission: 'credentials:write' },
  { section: 'credentials', method: 'POST', path: '/v1/keys/rotate', permission: 'keys:rotate' },
  { section: 'credentials', method: 'GET', path: '/v1/keys', permission: 'keys:rotate' },
  // § Audit
  { section: 'audit', method: 'GET', path: '/v1/audit/events', permission: 'audit:read' },
  { section: 'audit', method: 'GET', path: '/v1/audit/export', permission: 'audit:read' },
  { section: 'audit', method: 'GET', path: '/v1/audit/verify', permission: 'audit:read' },
  { section: 'audit', method: 'GET', path: '/v1/audit/checkpoints', permission: 'audit:read' },
];

/** The route a request hits, or undefined. The query string is ignored; a trailing slash is not. */
export function matchRoute(
  method: string,
  url: string,
  routes: readonly RoutePermission[] = ROUTE_PERMISSIONS,
): RoutePermission | undefined {
  const path = url.split('?')[0] ?? '';
  const segments = path.split('/');
  const m = method.toUpperCase();
  return routes.find((r) => {
    if (r.method !== m) return false;
    const pattern = r.path.split('/');
    if (pattern.length !== segments.length) return false;
    return pattern.every((p, i) => {
      const s = segments[i]!;
      return p.startsWith(':') ? s !== '' && !s.includes('/') : p === s;
    });
  });
}

/** What a user of this role may call, by role alone: the expectation the security tests use. */
export function expectedAllowed(role: Role, route: RoutePermission): boolean {
  switch (route.permission) {
    case 'public':
    case 'authenticated':
      return true;
    case 'operator':
      return false;
    default:
      return (
        roleHas(role, route.permission) || (route.ownPermission !== undefined && roleHas(role, route.ownPermission))
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
  route: RoutePermission,
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
  if (route.permission === 'authenticated') {
    if (route.sessionOnly && principal.type !== 'user')
      return result(false, 'none', `${label} applies to a session, not an ${principal.type}`);
    return result(true, 'none', `${label} is open to any authenticated principal`);
  }
  const full = decide({ principal, permission: route.permission, grants });
  if (full.allow || route.ownPermission === undefined) return { ...full, ownOnly: false };
  const own = decide({ principal, permission: route.ownPermission, grants });
  if (own.allow) return { ...own, reason: `${own.reason}; own objects only (${full.reason})`, ownOnly: true };
  return { ...full, reason: `${full.reason}; ${own.reason}`, ownOnly: false };
}
