// The ways in. All are onRequest hooks: the caller is checked before its body is parsed.
import type { FastifyRequest } from 'fastify';
import { requireInternalIdentity, requireServiceCall, requireServiceIdentity } from '@flow8/http';

export const AUDIENCE = 'credential-vault';

/**
 * Only the flow engine's service identity may resolve a credential (receive a secret). Not
 * configurable on purpose: widening it is a code change with a review, not an env var.
 */
export const RESOLVE_CALLERS = ['flow-engine'] as const;

export interface Guards {
  /** mTLS from an allowed caller (the gateway) AND a valid internal identity token for this service. */
  identity: (req: FastifyRequest) => Promise<void>;
  /**
   * mTLS from the flow engine AND a service-call token signed with the flow engine's own key,
   * naming the company and the principal the step runs for: resolve.
   */
  flowEngine: (req: FastifyRequest) => Promise<void>;
  /** mTLS from a field service AND a service-call token signed with that service's own key. */
  fields: (req: FastifyRequest) => Promise<void>;
  /** mTLS from the platform operator: key status and retire. */
  operator: (req: FastifyRequest) => Promise<void>;
}

export function createGuards(opts: {
  allowedCallers: readonly string[];
  operatorCallers: readonly string[];
  fieldCallers: readonly string[];
  identityPublicKeys: Uint8Array[];
  /** Public keys of the services that call on their own initiative (VAULT_SERVICE_IDENTITY_KEYS). */
  serviceKeys: ReadonlyMap<string, readonly Uint8Array[]>;
}): Guards {
  return {
    identity: requireInternalIdentity({
      audience: AUDIENCE,
      publicKeys: opts.identityPublicKeys,
      callers: opts.allowedCallers,
    }),
    flowEngine: requireServiceCall({ audience: AUDIENCE, keys: opts.serviceKeys, callers: RESOLVE_CALLERS }),
    fields: requireServiceCall({ audience: AUDIENCE, keys: opts.serviceKeys, callers: opts.fieldCallers }),
    operator: requireServiceIdentity(opts.operatorCallers),
  };
}
