import type { FastifyInstance, FastifyRequest } from 'fastify';
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
 * Who may read the audit log (docs/api.md § Audit): Admin, Viewer, or an API key with `audit:read`.
 * The gateway decides first; the service decides again, so a mis-routed request still fails.
 */
function callerOf(req: FastifyRequest): Caller {
  const p = principalOf(req);
  if (!p.tenantId) throw new AppError('FORBIDDEN', 'The audit log belongs to a company; act within one');
  const allowed = p.type === 'api_key' ? p.scopes.includes('audit:read') : p.role === 'admin' || p.role === 'viewer';
  if (!allowed)
    throw new AppError('FORBIDDEN', 'Reading the audit log needs the Admin or Viewer role, or the audit:read scope');
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
    return audit.query(callerOf(req), q);
  });

  app.get('/v1/audit/export', { schema: exportSchema, preHandler }, async (req, reply) => {
    const q = req.query as { format: 'ndjson' | 'csv'; from?: string; to?: string };
    const stream = await audit.export(callerOf(req), q);
    const ext = q.format === 'csv' ? 'csv' : 'ndjson';
    void reply
      .header('content-type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="audit-export.${ext}"`);
    return reply.send(stream);
  });

  app.get('/v1/audit/verify', { schema: verifySchema, preHandler }, async (req) => audit.verify(callerOf(req)));

  app.get('/v1/audit/checkpoints', { schema: listCheckpointsSchema, preHandler }, async (req) =>
    audit.listCheckpoints(callerOf(req)),
  );

  app.post('/v1/audit/checkpoints', { schema: createCheckpointSchema, preHandler }, async (req, reply) => {
    const caller = callerOf(req);
    if (principalOf(req).type !== 'api_key' && principalOf(req).role !== 'admin') {
      throw new AppError('FORBIDDEN', 'Only an Admin may request a checkpoint');
    }
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
