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
export { expectedAllowed, authorizeRoute } from './routes';
export type { RouteRule, RouteAccessRule, RouteAccess, RouteDecision, AuthKind, HttpMethod } from './routes';
export { API_KEY_SCOPES } from './scopes';
export type { ApiKeyScope } from './scopes';
