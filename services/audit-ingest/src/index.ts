// The package's public entry (`@flow8/audit-ingest`): what starts the service, for tools that
// run the real service in-process (scripts/bench). Everything else stays internal.
export { createAuditIngest } from './service';
export { auditConfigSchema, type AuditConfig } from './config';
