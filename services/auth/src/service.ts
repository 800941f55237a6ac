// Wires auth from its config: used by main.ts and by the integration tests, which run the
// real service in-process against the real stack.
import { createServiceBus, loadTls, servicePool } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { AuthConfig } from './config';
import { createTenantService } from './features/tenants/tenants.service';
import { createPasswordHasher } from './features/users/password';
import { createUserService } from './features/users/users.service';

export async function createAuth(config: AuthConfig, logger: Logger) {
  const tls = loadTls(config);
  const pool = servicePool('auth', config.AUTH_DATABASE_URL, config.FLOW8_CA_FILE);
  const bus = createServiceBus({ name: 'auth', config, tls, pool, logger });
  const { outbox, relay } = bus;
  const hasher = createPasswordHasher(config.AUTH_BCRYPT_COST);
  const tenants = createTenantService({ pool, outbox, hasher });
  const users = createUserService({ pool, outbox, hasher });
  const app = buildApp({
    logger,
    tls: { ...tls, requestClientCert: true },
    tenants,
    users,
    allowedCallers: config.AUTH_ALLOWED_CALLERS,
    readiness: bus.readiness,
  });

  return {
    app,
    pool,
    relay,
    /** Topics, then the relay. The HTTP listener is the caller's. */
    async start() {
      await bus.ensureDomainTopics(['identity']);
      relay.start();
    },
    async stop() {
      await bus.stop();
      await pool.end();
    },
  };
}
