import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decide, principalOf as authzPrincipalOf, type Permission } from '@flow8/authz';
import { AppError, principalOf, requireInternalIdentity } from '@flow8/http';
import type { AuditService, Caller } from './audit.service';
import {
  createCheckpointSchema,
  exportSchema,
  listCheckpointsSchema,
  listEventsSchema,
  verifySchema,
} from './audit.schemas';

/**
 * The caller, once @flow8/authz allows `permission` (docs/api.md § Audit: reading needs Admin or
 * Viewer, or an API key with `audit:read`; a checkpoint needs `audit:checkpoint`, Admin only, or a
 * key of an Admin carrying that scope). The gateway decides first; the service decides again
 * through the same matrix, so a mis-routed request still fails.
 */
function callerOf(req: FastifyRequest, permission: Permission): Caller {
  const p = principalOf(req);
  if (!p.tenantId) throw new AppError('FORBIDDEN', 'The audit log belongs to a company; act within one');
  const d = decide({ principal: authzPrincipalOf(p), permission, grants: [] });
  if (!d.allow) {
    req.log.info({ permission, reason: d.reason }, 'audit request refused');
    throw new AppError(
      'FORBIDDEN',
      permission === 'audit:read'
        ? 'Reading the audit log needs the Admin or Viewer role, or the audit:read scope'
        : 'Only an Admin (or an Admin key with the audit:checkpoint scope) may request a checkpoint',
      { details: { reason: d.reason } },
    );
  }
  return { tenantId: p.tenantId, actor: { type: p.type, id: p.id, ip: p.ip } };
}

export function auditRoutes(
  app: FastifyInstance,
  deps: { audit: AuditService; allowedCallers: readonly string[]; identityPublicKeys: Uint8Array[] },
): void {
  const { audit } = deps;
  const preHandler = requireInternalIdentity({
    audience: 'audit-ingest',
    publicKeys: deps.identityPublicKeys,
    callers: deps.allowedCallers,
  });

  app.get('/v1/audit/events', { schema: listEventsSchema, preHandler }, async (req) => {
    const q = req.query as {
      type?: string;
      actorId?: string;
      resourceType?: string;
      resourceId?: string;
      from?: string;
      to?: string;
      limit: number;
      cursor?: string;
    };
    return audit.query(callerOf(req, 'audit:read'), q);
  });

  app.get('/v1/audit/export', { schema: exportSchema, preHandler }, async (req, reply) => {
    const q = req.query as { format: 'ndjson' | 'csv'; from?: string; to?: string };
    const stream = await audit.export(callerOf(req, 'audit:read'), q);
    const ext = q.format === 'csv' ? 'csv' : 'ndjson';
    void reply
      .header('content-type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="audit-export.${ext}"`);
    return reply.send(stream);
  });

  app.get('/v1/audit/verify', { schema: verifySchema, preHandler }, async (req) =>
    audit.verify(callerOf(req, 'audit:read')),
  );

  app.get('/v1/audit/checkpoints', { schema: listCheckpointsSchema, preHandler }, async (req) =>
    audit.listCheckpoints(callerOf(req, 'audit:read')),
  );

  app.post('/v1/audit/checkpoints', { schema: createCheckpointSchema, preHandler }, async (req, reply) => {
    const caller = callerOf(req, 'audit:checkpoint');
    const cp = await audit.createCheckpoint(caller);
    if (!cp) return reply.code(200).send({ created: false });
    return reply.code(201).send({
      seq: cp.seq,
      headHash: cp.headHash,
      signedAt: cp.signedAt,
      keyId: cp.keyId,
      signature: Buffer.from(cp.signature).toString('base64'),
      canonical: Buffer.from(cp.canonical).toString('base64'),
    });
  });
}
