// Runs the real auth service in-process against the real stack: a fresh database with the real
// migrations, a topic prefix of its own on the shared broker, TLS everywhere. Every log line the
// service writes is kept in memory so tests can search it for secrets.
import { fileURLToPath } from 'node:url';
import { OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { createLogger } from '@flow8/telemetry';
import { certPair, freshDatabase, stackEnv, uniqueTopicPrefix, type TestDatabase } from '@flow8/testkit';
import { authConfigSchema, type AuthConfig } from '../src/config';
import { createAuth } from '../src/service';

export const AUTH_MIGRATIONS = [
  { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
  { component: 'auth', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
];

export function authConfig(db: TestDatabase, prefix: string, overrides: Record<string, string> = {}): AuthConfig {
  const env = stackEnv();
  const tls = certPair('auth');
  return authConfigSchema.parse({
    PORT: '8101',
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    AUTH_DATABASE_URL: db.appUrl,
    KAFKA_TOPIC_PREFIX: prefix,
    AUTH_ALLOWED_CALLERS: 'gateway,testkit',
    // The minimum the config accepts: keeps the suite fast, still real bcrypt.
    AUTH_BCRYPT_COST: '10',
    // Everything the service can say, so secret-leak checks see the most verbose output.
    LOG_LEVEL: 'trace',
    ...overrides,
  });
}

export async function startAuth(opts: { db?: TestDatabase; prefix?: string; overrides?: Record<string, string> } = {}) {
  const db = opts.db ?? (await freshDatabase('AUTH', AUTH_MIGRATIONS));
  const prefix = opts.prefix ?? uniqueTopicPrefix();
  const config = authConfig(db, prefix, opts.overrides);
  const lines: string[] = [];
  const logger = createLogger({
    service: 'auth',
    level: config.LOG_LEVEL,
    destination: { write: (line: string) => void lines.push(line) },
  });
  const svc = await createAuth(config, logger);
  await svc.start();
  const url = await svc.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    db,
    prefix,
    config,
    svc,
    url,
    /** Everything logged so far, raw. */
    logText: () => lines.join(''),
    async stop() {
      await svc.app.close();
      await svc.stop();
    },
  };
}
