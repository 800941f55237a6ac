// Who is acting. Until the gateway's signed internal identity exists, the calling service
// (verified by its client certificate) states the principal in x-flow8-* headers, exactly as
// for audit-ingest, plus the principal's role.
import type { FastifyRequest } from 'fastify';
import type { Actor } from '@flow8/contracts';
import { AppError } from '@flow8/http';

export const ROLES = ['admin', 'flow_designer', 'executor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  tenantId: string;
  role: Role;
  actor: Actor;
}

/**
 * Header schema. Not `additionalProperties: false`: a request always carries transport headers
 * (host, content-type, user-agent, traceparent …); the principal headers themselves are closed.
 */
export const callerHeaders = {
  type: 'object',
  required: ['x-flow8-tenant-id', 'x-flow8-actor-type', 'x-flow8-actor-id', 'x-flow8-actor-role'],
  properties: {
    'x-flow8-tenant-id': { type: 'string', pattern: '^ten_[0-9a-z]{26}$' },
    'x-flow8-actor-type': { enum: ['user', 'api_key', 'service', 'operator', 'system'] },
    'x-flow8-actor-id': { type: 'string', minLength: 1, maxLength: 128 },
    'x-flow8-actor-ip': { type: 'string', maxLength: 64 },
    'x-flow8-actor-role': { enum: [...ROLES] },
  },
} as const;

/** Reads the principal from headers already validated by callerHeaders. */
export function callerOf(req: FastifyRequest): Caller {
  const h = req.headers as Record<string, string | undefined>;
  return {
    tenantId: h['x-flow8-tenant-id'] ?? '',
    role: h['x-flow8-actor-role'] as Role,
    actor: {
      type: h['x-flow8-actor-type'] as Actor['type'],
      id: h['x-flow8-actor-id'] ?? '',
      ip: h['x-flow8-actor-ip'] ?? null,
    },
  };
}

export type Action = 'users.create' | 'users.list' | 'users.read';

export interface Decision {
  allowed: boolean;
  reason: string;
}

/**
 * The permission rule for this slice: user administration is for Admins (shared/API.md
 * § Identity). Moves to packages/authz once that package exists.
 */
export function decide(caller: Pick<Caller, 'role'>, action: Action): Decision {
  switch (action) {
    case 'users.create':
    case 'users.list':
    case 'users.read':
      return caller.role === 'admin'
        ? { allowed: true, reason: `role admin may ${action}` }
        : { allowed: false, reason: `role ${caller.role} may not ${action}` };
    default: {
      const unreachable: never = action;
      throw new Error(`unknown action ${String(unreachable)}`);
    }
  }
}

export function authorize(caller: Pick<Caller, 'role'>, action: Action): void {
  const d = decide(caller, action);
  if (!d.allowed)
    throw new AppError('FORBIDDEN', 'Your role does not allow this action', { details: { reason: d.reason } });
}
