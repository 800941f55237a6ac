// Wires auth from its config: used by main.ts and by the integration tests, which run the
// real service in-process against the real stack (and may inject the clock).
import { createRedis, createServiceBus, identityPublicKeys, loadTls, servicePool } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { AuthConfig } from './config';
import { createApiKeysFeature } from './features/api-keys/api-keys.feature';
import { createAllowlistService } from './features/allowlist/allowlist.service';
import { createGrantService } from './features/grants/grants.service';
import { createSessionService } from './features/sessions/sessions.service';
import { createTenantService } from './features/tenants/tenants.service';
import { createPasswordHasher } from './features/users/password';
import { createUserService } from './features/users/users.service';
import { createGuards } from './guards';

export async function createAuth(config: AuthConfig, logger: Logger, opts: { now?: () => Date } = {}) {
  const now = opts.now ?? (() => new Date());
  const tls = loadTls(config);
  const pool = servicePool('auth', config.AUTH_DATABASE_URL, config.FLOW8_CA_FILE);
  const redis = createRedis({ url: config.REDIS_URL, caFile: config.FLOW8_CA_FILE, name: 'auth' });
  // ioredis reports connection errors as events; without a listener they would crash the process.
  redis.on('error', (e: Error) => logger.warn({ err: e }, 'redis error'));
  const bus = createServiceBus({
    name: 'auth',
    config,
    tls,
    pool,
    relayDatabaseUrl: config.AUTH_RELAY_DATABASE_URL,
    caFile: config.FLOW8_CA_FILE,
    logger,
  });
  const { outbox, relay } = bus;
  const hasher = createPasswordHasher(config.AUTH_BCRYPT_COST);
  const guards = createGuards({
    allowedCallers: config.AUTH_ALLOWED_CALLERS,
    identityPublicKeys: identityPublicKeys(config),
  });
  const tenants = createTenantService({ pool, outbox, hasher });
  const allowlist = createAllowlistService({ pool, outbox, store: redis, logger, now });
  // One re-write of everything the gateway reads from Redis (revocations, then allowlists, then
  // the sync marker): at start-up, after every reconnect, and periodically; retried until it holds.
  const apiKeys = createApiKeysFeature({
    config,
    pool,
    outbox,
    logger,
    redis,
    alsoMirror: [() => allowlist.mirrorAll()],
  });
  const users = createUserService({ pool, outbox, hasher, now, revocations: apiKeys.revocations });
  const sessions = createSessionService({
    pool,
    outbox,
    hasher,
    now,
    logger,
    policy: {
      sessionTtlMs: config.AUTH_SESSION_TTL,
      lockoutThreshold: config.AUTH_LOCKOUT_THRESHOLD,
      lockoutWindowMs: config.AUTH_LOCKOUT_WINDOW,
      lockoutDurationMs: config.AUTH_LOCKOUT_DURATION,
    },
  });
  const grants = createGrantService({ pool, outbox, now });
  const app = buildApp({
    logger,
    tls: { ...tls, requestClientCert: true },
    guards,
    allowedCallers: config.AUTH_ALLOWED_CALLERS,
    tenants,
    users,
    sessions,
    grants,
    allowlist,
    extraRoutes: [(a) => apiKeys.routes(a, guards.identity)],
    readiness: {
      ...bus.readiness,
      redis: async () => {
        await redis.ping();
      },
    },
  });

  return {
    app,
    pool,
    relay,
    redis,
    apiKeys,
    /** Topics, the relay, then revocations and allowlists into Redis. The HTTP listener is the caller's. */
    async start() {
      await bus.requireTopics();
      relay.start();
      await apiKeys.start();
    },
    async stop() {
      await apiKeys.stop();
      await bus.stop();
      redis.disconnect();
      await pool.end();
    },
  };
}
