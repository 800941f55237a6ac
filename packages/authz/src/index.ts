export {
  ROLES,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  ADMIN_ONLY,
  OPERATOR_ONLY,
  isPermission,
  isRole,
  roleHas,
} from './matrix';
export type { Role, Permission } from './matrix';
export {
  GRANT_RESOURCE_TYPES,
  GRANT_ACTIONS,
  ACTION_PERMISSIONS,
  isGrantAction,
  validActions,
  permissionsOfAction,
  validateGrant,
} from './grants';
export type { Grant, GrantAction, GrantPrincipal, GrantResourceType } from './grants';
export {
  decide,
  filterVisible,
  effectivePermissions,
  isResourceScoped,
  principalOf,
  VISIBILITY_PERMISSION,
} from './decide';
export type {
  Decision,
  DecisionVia,
  DecideInput,
  DecisionResource,
  IdentityLike,
  Principal,
  UserPrincipal,
  ApiKeyPrincipal,
  OperatorPrincipal,
} from './decide';
export { ROUTE_PERMISSIONS, matchRoute, expectedAllowed, authorizeRoute } from './routes';
export type { RoutePermission, RouteAccess, RouteDecision, HttpMethod } from './routes';
