// The two ways in. Both are onRequest hooks: the caller is checked before its body is parsed.
import type { FastifyRequest } from 'fastify';
import { requireInternalIdentity, requireServiceIdentity } from '@flow8/http';

export interface Guards {
  /** mTLS from an allowed caller AND a valid internal identity token for audience `auth`. */
  identity: (req: FastifyRequest) => Promise<void>;
  /**
   * mTLS from an allowed caller, no identity token: only for login and session resolve, where
   * nobody is authenticated yet.
   */
  caller: (req: FastifyRequest) => Promise<void>;
}

export const AUDIENCE = 'auth';

export function createGuards(opts: { allowedCallers: readonly string[]; identityPublicKeys: Uint8Array[] }): Guards {
  return {
    identity: requireInternalIdentity({
      audience: AUDIENCE,
      publicKeys: opts.identityPublicKeys,
      callers: opts.allowedCallers,
    }),
    caller: requireServiceIdentity(opts.allowedCallers),
  };
}
