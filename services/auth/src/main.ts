import { parseConfigOrExit } from '@flow8/config';
import { serve } from '@flow8/http';
import { createLogger, startTelemetry } from '@flow8/telemetry';
import { authConfigSchema } from './config';
import { createAuth } from './service';

const config = parseConfigOrExit(authConfigSchema, { service: 'auth' });
const telemetry = startTelemetry({
  serviceName: config.OTEL_SERVICE_NAME ?? 'auth',
  otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const logger = createLogger({
  service: 'auth',
  level: config.LOG_LEVEL,
  secrets: () => [config.AUTH_DATABASE_URL, new URL(config.AUTH_DATABASE_URL).password],
});

try {
  const svc = await createAuth(config, logger);
  await svc.start();
  const running = await serve(svc.app, {
    host: config.HOST,
    port: config.PORT,
    onShutdown: [() => svc.stop(), () => telemetry.shutdown()],
  });
  logger.info({ url: running.url }, 'auth listening');
} catch (e) {
  logger.fatal({ err: e }, 'auth failed to start');
  process.exit(1);
}
