import { runService } from '@flow8/runtime';
import { auditConfigSchema } from './config';
import { createAuditIngest } from './service';

await runService({
  name: 'audit-ingest',
  schema: auditConfigSchema,
  create: createAuditIngest,
});
