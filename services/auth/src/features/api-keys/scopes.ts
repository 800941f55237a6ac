// Which scopes an API key may carry. A scope is a permission of the one matrix in
// packages/authz (docs/identity-and-access.md § Authorization), and a key may carry only
// permissions its owner's role holds when it is issued.
import { PERMISSIONS, roleHas, type Permission } from '@flow8/authz';
import type { Role } from '../../principal';

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

const SCOPE_SET: ReadonlySet<string> = new Set(API_KEY_SCOPES);
export const isApiKeyScope = (s: unknown): s is ApiKeyScope => typeof s === 'string' && SCOPE_SET.has(s);

/** The scopes in `scopes` that `role` does not hold (empty: all allowed). */
export function scopesBeyondRole(role: Role, scopes: readonly ApiKeyScope[]): ApiKeyScope[] {
  return scopes.filter((s) => !roleHas(role, s));
}

/** Whether a role may manage every key of its company (Admin) or only its own (everyone else). */
export function managesAllKeys(role: Role | null): boolean {
  return role === 'admin';
}
