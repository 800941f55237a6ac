// Which scopes an API key may carry. A scope is a permission of the one matrix
// (docs/identity-and-access.md § Authorization), and a key may carry only permissions its owner's
// role holds when it is issued. Kept here until packages/authz exports its matrix: this table
// mirrors packages/authz/src/matrix.ts (ROLE_PERMISSIONS) and must move to it, not drift from it.
import type { Role } from '../../principal';

/**
 * Permissions a key can be given. Never `api_keys:*` (a key that mints or rotates keys would let
 * a leaked token outlive its own revocation) nor `tenants:create` (the operator's alone).
 */
export const API_KEY_SCOPES = [
  'users:read',
  'users:write',
  'grants:read',
  'grants:write',
  'partitions:read',
  'partitions:write',
  'settings:read',
  'settings:write',
  'flows:read',
  'flows:write',
  'flows:execute',
  'executions:read',
  'executions:approve',
  'integrations:read',
  'integrations:write',
  'integrations:use',
  'credentials:read',
  'credentials:write',
  'keys:rotate',
  'audit:read',
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

const SCOPE_SET: ReadonlySet<string> = new Set(API_KEY_SCOPES);
export const isApiKeyScope = (s: unknown): s is ApiKeyScope => typeof s === 'string' && SCOPE_SET.has(s);

const ROLE_SCOPES: Readonly<Record<Role, ReadonlySet<ApiKeyScope>>> = {
  admin: new Set(API_KEY_SCOPES),
  flow_designer: new Set<ApiKeyScope>([
    'flows:read',
    'flows:write',
    'integrations:read',
    'integrations:write',
    'integrations:use',
    'credentials:read',
    'credentials:write',
  ]),
  executor: new Set<ApiKeyScope>(['flows:read', 'flows:execute', 'executions:read', 'integrations:use']),
  viewer: new Set<ApiKeyScope>(['flows:read', 'executions:read', 'audit:read']),
};

/** The scopes in `scopes` that `role` does not hold (empty: all allowed). */
export function scopesBeyondRole(role: Role, scopes: readonly ApiKeyScope[]): ApiKeyScope[] {
  return scopes.filter((s) => !ROLE_SCOPES[role].has(s));
}

/** Whether a role may manage every key of its company (Admin) or only its own (everyone else). */
export function managesAllKeys(role: Role | null): boolean {
  return role === 'admin';
}
