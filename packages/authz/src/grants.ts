// Entity grants: a principal may do some actions on one flow, integration or partition.
// The rules (docs/identity-and-access.md § Authorization) are applied in decide.ts; this file
// holds the vocabulary: which actions exist per resource type and which permission each
// action stands for.
import type { Permission } from './matrix';

export const GRANT_RESOURCE_TYPES = ['flow', 'integration', 'partition'] as const;
export type GrantResourceType = (typeof GRANT_RESOURCE_TYPES)[number];

export const GRANT_ACTIONS = {
  /** read: the flow and its execution history; write: edit; approve: waiting approval steps. */
  flow: ['read', 'write', 'execute', 'approve'],
  /** write: configure; use: call it from a flow. */
  integration: ['read', 'write', 'use'],
  /** read: executions in the partition; execute: trigger runs in the partition. */
  partition: ['read', 'execute'],
} as const satisfies Record<GrantResourceType, readonly string[]>;
export type GrantAction = (typeof GRANT_ACTIONS)[GrantResourceType][number];

export interface GrantPrincipal {
  type: 'user' | 'api_key';
  id: string;
}

export interface Grant {
  id: string;
  principal: GrantPrincipal;
  resource: { type: GrantResourceType; id: string };
  /** Stored as given; actions unknown for the resource type are ignored by decide(). */
  actions: readonly string[];
}

/**
 * The permissions a granted action confers on its one resource — what a grant can EXTEND a role
 * with. `read` on a flow covers the flow and its executions (docs/api.md: history is "by grant").
 */
export const ACTION_PERMISSIONS: {
  readonly [T in GrantResourceType]: { readonly [A in (typeof GRANT_ACTIONS)[T][number]]: readonly Permission[] };
} = {
  flow: {
    read: ['flows:read', 'executions:read'],
    write: ['flows:write'],
    execute: ['flows:execute'],
    approve: ['executions:approve'],
  },
  integration: {
    read: ['integrations:read'],
    write: ['integrations:write'],
    use: ['integrations:use'],
  },
  partition: {
    read: ['executions:read'],
    execute: ['flows:execute'],
  },
};

export function isGrantAction(type: GrantResourceType, action: string): action is GrantAction {
  return (GRANT_ACTIONS[type] as readonly string[]).includes(action);
}

/** The grant's actions that mean something for its resource type, in a stable order. */
export function validActions(grant: Grant): GrantAction[] {
  const type = grant.resource.type;
  return GRANT_ACTIONS[type].filter((a) => grant.actions.includes(a));
}

/** Permissions the named action of a grant on `type` confers. */
export function permissionsOfAction(type: GrantResourceType, action: GrantAction): readonly Permission[] {
  const table = ACTION_PERMISSIONS[type] as Readonly<Record<string, readonly Permission[]>>;
  return table[action] ?? [];
}

/**
 * Problems with a grant an Admin is about to create (auth rejects it with 400 if any). decide()
 * stays safe with a bad grant anyway: unknown actions are ignored, and a grant still narrows.
 */
export function validateGrant(grant: {
  principal?: { type?: unknown; id?: unknown };
  resource?: { type?: unknown; id?: unknown };
  actions?: unknown;
}): string[] {
  const problems: string[] = [];
  const pType = grant.principal?.type;
  if (pType !== 'user' && pType !== 'api_key') problems.push('principal.type must be user or api_key');
  if (typeof grant.principal?.id !== 'string' || grant.principal.id === '') problems.push('principal.id is required');
  const rType = grant.resource?.type;
  const knownType = (GRANT_RESOURCE_TYPES as readonly unknown[]).includes(rType);
  if (!knownType) problems.push(`resource.type must be one of ${GRANT_RESOURCE_TYPES.join(', ')}`);
  if (typeof grant.resource?.id !== 'string' || grant.resource.id === '') problems.push('resource.id is required');
  if (!Array.isArray(grant.actions) || grant.actions.length === 0) {
    problems.push('actions must be a non-empty list');
  } else if (knownType) {
    const type = rType as GrantResourceType;
    for (const a of grant.actions as unknown[]) {
      if (typeof a !== 'string' || !isGrantAction(type, a))
        problems.push(`action ${JSON.stringify(a)} is not one of ${GRANT_ACTIONS[type].join(', ')} for a ${type}`);
    }
  }
  return problems;
}
