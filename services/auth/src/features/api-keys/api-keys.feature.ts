// The API-key feature, wired from config: auth's service.ts constructs it with one call and
// app.ts registers its routes with one call, so the feature's parts stay in this folder.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Outbox } from '@flow8/bus';
import type { Pool } from '@flow8/db';
import { requireInternalIdentity } from '@flow8/http';
import { createRedis, identityPublicKeys, type Redis } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { apiKeyRoutes } from './api-keys.routes';
import { createApiKeyService } from './api-keys.service';
import { createRevocationPublisher } from './revocations';
import { createSigningKeyring } from './signing';

export interface ApiKeysFeatureConfig {
  AUTH_API_KEY_SIGNING_KEYS: Uint8Array[];
  AUTH_ALLOWED_CALLERS: string[];
  INTERNAL_IDENTITY_PUBLIC_KEYS: string[];
  REDIS_URL: string;
  FLOW8_CA_FILE: string;
}

export function createApiKeysFeature(deps: {
  config: ApiKeysFeatureConfig;
  pool: Pool;
  outbox: Outbox;
  logger: Logger;
  /** A Redis client to share; one is created (and closed on stop) if none is given. */
  redis?: Redis;
  /** Other mirrors into Redis that every full re-write includes before the sync marker. */
  alsoMirror?: Array<() => Promise<unknown>>;
}) {
  const { config, pool, outbox, logger } = deps;
  const ownRedis = deps.redis
    ? null
    : createRedis({ url: config.REDIS_URL, caFile: config.FLOW8_CA_FILE, name: 'auth' });
  const redis = deps.redis ?? ownRedis!;
  // Errors are reported where a command fails; an unhandled 'error' event would crash the process.
  if (ownRedis) ownRedis.on('error', (e: unknown) => logger.debug({ err: e }, 'redis connection error'));
  const keyring = createSigningKeyring(config.AUTH_API_KEY_SIGNING_KEYS);
  const revocations = createRevocationPublisher({ pool, redis, logger, alsoMirror: deps.alsoMirror ?? [] });
  const service = createApiKeyService({ pool, outbox, keyring, revocations });
  return {
    service,
    keyring,
    revocations,
    redis,
    /** Registers /v1/api-keys (gateway identity required) and /internal/v1/jwks (mTLS only). */
    routes(app: FastifyInstance, identity?: (request: FastifyRequest) => Promise<void>): void {
      apiKeyRoutes(app, {
        apiKeys: service,
        keyring,
        identity:
          identity ??
          requireInternalIdentity({
            publicKeys: identityPublicKeys(config),
            audience: 'auth',
            callers: config.AUTH_ALLOWED_CALLERS,
          }),
        allowedCallers: config.AUTH_ALLOWED_CALLERS,
      });
    },
    /** Re-writes every live revocation (and the other mirrors) to Redis, then keeps it so. */
    async start() {
      await revocations.start();
    },
    async stop() {
      await revocations.stop();
      if (ownRedis) ownRedis.disconnect();
    },
  };
}

export type ApiKeysFeature = ReturnType<typeof createApiKeysFeature>;
