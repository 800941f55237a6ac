import type { FastifyInstance } from 'fastify';
import { buildServiceApp, type ServiceTlsOptions } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { auditRoutes } from './features/audit/audit.routes';
import type { AuditService } from './features/audit/audit.service';

export function buildApp(deps: {
  logger: Logger;
  tls: ServiceTlsOptions;
  audit: AuditService;
  allowedCallers: readonly string[];
  identityPublicKeys: Uint8Array[];
  readiness: Record<string, () => Promise<void>>;
}): FastifyInstance {
  const app = buildServiceApp({
    service: 'audit-ingest',
    logger: deps.logger,
    tls: deps.tls,
    readiness: deps.readiness,
  });
  auditRoutes(app, {
    audit: deps.audit,
    allowedCallers: deps.allowedCallers,
    identityPublicKeys: deps.identityPublicKeys,
  });
  return app;
}
