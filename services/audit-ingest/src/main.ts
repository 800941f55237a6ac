import { runService, urlPassword } from '@flow8/runtime';
import { auditConfigSchema } from './config';
import { createAuditIngest } from './service';

await runService({
  name: 'audit-ingest',
  schema: auditConfigSchema,
  secrets: (c) => [
    c.AUDIT_DATABASE_URL,
    urlPassword(c.AUDIT_DATABASE_URL),
    Buffer.from(c.AUDIT_SIGNING_KEY).toString('base64'),
  ],
  create: createAuditIngest,
});
