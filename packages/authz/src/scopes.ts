// Which permissions an API key may carry as scopes: part of the permission model, so the public
// schema (@flow8/api) and auth's issuing rules read the same list.
import { PERMISSIONS, type Permission } from './matrix';

/**
 * Permissions a key can be given: every permission of the matrix except the api_keys family (a
 * key that mints or rotates keys would let a leaked token outlive its own revocation) and
 * `tenants:create` (the platform operator's alone).
 */
export const API_KEY_SCOPES = PERMISSIONS.filter(
  (p): p is Exclude<Permission, `api_keys:${string}` | 'tenants:create'> =>
    !p.startsWith('api_keys:') && p !== 'tenants:create',
);
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
