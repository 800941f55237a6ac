import { parseConfigOrExit } from '@flow8/config';
import { serve } from '@flow8/http';
import { createLogger, startTelemetry } from '@flow8/telemetry';
import { auditConfigSchema } from './config';
import { createAuditIngest } from './service';

const config = parseConfigOrExit(auditConfigSchema, { service: 'audit-ingest' });
const telemetry = startTelemetry({
  serviceName: config.OTEL_SERVICE_NAME ?? 'audit-ingest',
  otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const logger = createLogger({
  service: 'audit-ingest',
  level: config.LOG_LEVEL,
  secrets: () => [config.AUDIT_DATABASE_URL, new URL(config.AUDIT_DATABASE_URL).password],
});

try {
  const svc = await createAuditIngest(config, logger);
  await svc.start();
  const running = await serve(svc.app, {
    host: config.HOST,
    port: config.PORT,
    onShutdown: [() => svc.stop(), () => telemetry.shutdown()],
  });
  logger.info({ url: running.url }, 'audit-ingest listening');
} catch (e) {
  logger.fatal({ err: e }, 'audit-ingest failed to start');
  process.exit(1);
}
