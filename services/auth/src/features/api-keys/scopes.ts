// Which scopes an API key may carry. A scope is a permission of the one matrix in
// packages/authz (docs/identity-and-access.md § Authorization), and a key may carry only
// permissions its owner's role holds when it is issued.
import { API_KEY_SCOPES, roleHas, type ApiKeyScope } from '@flow8/authz';
import type { Role } from '../../principal';

export { API_KEY_SCOPES, type ApiKeyScope };

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
