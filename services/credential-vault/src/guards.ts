// The ways in. All are onRequest hooks: the caller is checked before its body is parsed.
import type { FastifyRequest } from 'fastify';
import { requireInternalIdentity, requireServiceIdentity } from '@flow8/http';

export const AUDIENCE = 'credential-vault';

/**
 * Only the flow engine's service identity may resolve a credential (receive a secret). Not
 * configurable on purpose: widening it is a code change with a review, not an env var.
 */
export const RESOLVE_CALLERS = ['flow-engine'] as const;

export interface Guards {
  /** mTLS from an allowed caller (the gateway) AND a valid internal identity token for this service. */
  identity: (req: FastifyRequest) => Promise<void>;
  /** mTLS from the flow engine, no identity token: resolve. */
  flowEngine: (req: FastifyRequest) => Promise<void>;
  /** mTLS from a service that may encrypt/decrypt sensitive fields. */
  fields: (req: FastifyRequest) => Promise<void>;
  /** mTLS from the platform operator: key status and retire. */
  operator: (req: FastifyRequest) => Promise<void>;
}

export function createGuards(opts: {
  allowedCallers: readonly string[];
  operatorCallers: readonly string[];
  fieldCallers: readonly string[];
  identityPublicKeys: Uint8Array[];
}): Guards {
  return {
    identity: requireInternalIdentity({
      audience: AUDIENCE,
      publicKeys: opts.identityPublicKeys,
      callers: opts.allowedCallers,
    }),
    flowEngine: requireServiceIdentity(RESOLVE_CALLERS),
    fields: requireServiceIdentity(opts.fieldCallers),
    operator: requireServiceIdentity(opts.operatorCallers),
  };
}
