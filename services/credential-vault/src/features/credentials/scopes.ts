// The scope catalogue: what each integration's credential may be used for. Written once; the
// create route validates against it and resolve enforces it. A scope a credential holds may
// imply narrower ones (Google Drive full access covers read-only and any one folder).

// The integrations and credential kinds are part of the public contract (@flow8/api).
import type { Integration } from '@flow8/api';

export { INTEGRATIONS, CREDENTIAL_KINDS, type CredentialKind, type Integration } from '@flow8/api';

interface ScopeDef {
  /** A fixed scope (`records:read`) or a parameterised one ending in `:{…}` (`drive:folder:{folderId}`). */
  scope: string;
  description: string;
  /** Scopes (fixed, or a parameterised prefix ending in ':') that holding this one also allows. */
  implies?: readonly string[];
}

export const SCOPE_CATALOGUE: Readonly<Record<Integration, readonly ScopeDef[]>> = {
  clio: [
    { scope: 'matters:read', description: 'read matters' },
    { scope: 'matters:write', description: 'create and update matters' },
    { scope: 'contacts:read', description: 'read contacts' },
    { scope: 'contacts:write', description: 'create and update contacts' },
    { scope: 'documents:read', description: 'read documents' },
    { scope: 'documents:write', description: 'upload documents' },
  ],
  quickbooks: [
    { scope: 'invoices:read', description: 'read invoices' },
    { scope: 'invoices:write', description: 'create and update invoices' },
    { scope: 'invoices:delete', description: 'delete (void) invoices' },
    { scope: 'customers:read', description: 'read customers' },
    { scope: 'customers:write', description: 'create and update customers' },
  ],
  salesforce: [
    { scope: 'records:read', description: 'read records (SOQL queries)' },
    { scope: 'records:write', description: 'create and update records' },
  ],
  slack: [
    { scope: 'chat:write', description: 'post messages' },
    { scope: 'channels:read', description: 'list channels' },
    { scope: 'files:write', description: 'upload files' },
  ],
  google_drive: [
    { scope: 'drive:full', description: 'read and write every file', implies: ['drive:readonly', 'drive:folder:'] },
    { scope: 'drive:readonly', description: 'read every file' },
    { scope: 'drive:folder:{folderId}', description: 'read and write one folder' },
  ],
};

const PARAM_RE = /^[A-Za-z0-9_-]{1,128}$/;

function defOf(integration: Integration, scope: string): ScopeDef | undefined {
  for (const d of SCOPE_CATALOGUE[integration]) {
    const brace = d.scope.indexOf('{');
    if (brace < 0) {
      if (d.scope === scope) return d;
    } else {
      const prefix = d.scope.slice(0, brace);
      if (scope.startsWith(prefix) && PARAM_RE.test(scope.slice(prefix.length))) return d;
    }
  }
  return undefined;
}

/** True if `scope` is in the integration's catalogue (parameterised scopes with a valid parameter). */
export function isKnownScope(integration: Integration, scope: string): boolean {
  return defOf(integration, scope) !== undefined;
}

/** Every scope not in the integration's catalogue (empty = all valid). */
export function unknownScopes(integration: Integration, scopes: readonly string[]): string[] {
  return scopes.filter((s) => !isKnownScope(integration, s));
}

/** Does a credential holding `held` allow a use that requires `required`? */
export function scopeAllows(integration: Integration, held: readonly string[], required: string): boolean {
  if (!isKnownScope(integration, required)) return false;
  for (const h of held) {
    if (h === required) return true;
    const d = defOf(integration, h);
    for (const imp of d?.implies ?? []) {
      if (imp.endsWith(':') ? required.startsWith(imp) : imp === required) return true;
    }
  }
  return false;
}
