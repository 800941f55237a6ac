// Wires the credential vault from its config: used by main.ts, the root-key CLI and the
// integration tests, which run the real service in-process against the real stack.
import { ready } from '@flow8/crypto';
import { createServiceBus, identityPublicKeys, loadTls, periodicJob, servicePool } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { VaultConfig } from './config';
import { createCredentialService } from './features/credentials/credentials.service';
import { createFieldService } from './features/fields/fields.service';
import { createKeyService } from './features/keys/keys.service';
import { oauthRoutes } from './features/oauth/oauth.routes';
import {
  createOAuthService,
  oauthAppError,
  oauthSettingsFromConfig,
  type OAuthService,
} from './features/oauth/oauth.vault';
import { createGrantReplica } from '@flow8/grants';
import { createGuards } from './guards';
import { createAccess } from './principal';
import { createKeyring } from './keyring/keyring';

export const SERVICE_NAME = 'credential-vault';

export interface VaultDeps {
  /** The clock OAuth2 token expiry is judged by (tests drive it; default: the system clock). */
  now?: () => Date;
}

export async function createVault(config: VaultConfig, logger: Logger, deps: VaultDeps = {}) {
  await ready();
  const tls = loadTls(config);
  const pool = servicePool(SERVICE_NAME, config.VAULT_DATABASE_URL, config.FLOW8_CA_FILE);
  const keyring = createKeyring({
    pool,
    current: config.ENCRYPTION_KEY,
    previous: config.ENCRYPTION_KEY_PREVIOUS,
    cacheTtlMs: config.VAULT_DATA_KEY_CACHE_TTL,
  });
  try {
    // Before anything else: a wrong key fails here, with a clear message, not at the first decrypt.
    await keyring.verify(SERVICE_NAME);
  } catch (e) {
    await pool.end();
    throw e;
  }
  logger.info(
    { rootFingerprint: keyring.fingerprint, previousRootFingerprint: keyring.previousFingerprint },
    'root key verified',
  );
  const bus = createServiceBus({
    name: SERVICE_NAME,
    config,
    tls,
    pool,
    relayDatabaseUrl: config.VAULT_RELAY_DATABASE_URL,
    caFile: config.FLOW8_CA_FILE,
    logger,
  });
  const { outbox, relay } = bus;
  // The vault's copy of auth's principals and grants: integration grants decide who may attach or
  // use what; the principals' real roles decide what a service caller's "acting for" may do.
  const grants = createGrantReplica({
    kafka: bus.kafka,
    pool,
    groupId: `${config.KAFKA_TOPIC_PREFIX}${config.VAULT_GRANTS_CONSUMER_GROUP}`,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    deadLetters: bus.publisher,
    logger,
  });
  const access = createAccess({ grants });
  const guards = createGuards({
    allowedCallers: config.VAULT_ALLOWED_CALLERS,
    operatorCallers: config.VAULT_OPERATOR_CALLERS,
    fieldCallers: config.VAULT_FIELD_CALLERS,
    identityPublicKeys: identityPublicKeys(config),
    serviceKeys: config.VAULT_SERVICE_IDENTITY_KEYS,
  });
  // OAuth2 (src/features/oauth): only when VAULT_OAUTH_REDIRECT_URI is set; refresh on resolve and
  // revocation at the provider on delete go through the same flow. The service is created first
  // without storage and given credentials.store() once that exists.
  const oauthSettings = oauthSettingsFromConfig(config);
  const ref: { oauth?: OAuthService } = {};
  const viaOAuth = (): OAuthService => {
    if (!ref.oauth) throw new Error('OAuth2 service not ready');
    return ref.oauth;
  };
  const credentials = createCredentialService({
    pool,
    outbox,
    keyring,
    logger,
    access,
    oauth: oauthSettings
      ? {
          ensureFresh: (tokens, opts) => viaOAuth().ensureFresh(tokens, opts),
          revokeAtProvider: (tokens) => viaOAuth().revokeAtProvider(tokens),
          toAppError: oauthAppError,
        }
      : undefined,
  });
  if (oauthSettings) {
    ref.oauth = createOAuthService({
      pool,
      keyring,
      logger,
      access,
      settings: oauthSettings,
      store: credentials.store,
      now: deps.now,
    });
  }
  const keys = createKeyService({ pool, outbox, keyring, logger, access, batchSize: config.VAULT_REENCRYPT_BATCH });
  const fields = createFieldService({ pool, outbox, keyring, access, kickReencryption: () => reencrypt() });

  // Background re-encryption after a data-key rotation: on a timer, and at once when kicked.
  // Every replica, not leader-only: batches are claimed with FOR UPDATE SKIP LOCKED, so replicas
  // share the work without doing any row twice, and a kick runs where the rotation happened.
  const reencryption = periodicJob({
    name: 'vault.reencrypt',
    everyMs: config.VAULT_REENCRYPT_INTERVAL,
    logger,
    async run() {
      const n = await keys.reencryptPending();
      if (n > 0) logger.info({ records: n }, 're-encrypted records under the active data keys');
    },
  });
  const reencrypt = (): void => void reencryption.runNow();

  const app = buildApp({
    logger,
    tls: { ...tls, requestClientCert: true },
    guards,
    credentials,
    keys,
    fields,
    kickReencryption: reencrypt,
    // Registered also without OAuth2 configured: start and callback then answer 400, as documented.
    extraRoutes: [oauthRoutes({ oauth: ref.oauth ?? null, guards })],
    readiness: { ...bus.readiness, grants: grants.readiness },
  });

  return {
    app,
    pool,
    relay,
    keyring,
    outbox,
    credentials,
    keys,
    grants,
    /** Waits for the current background re-encryption pass (tests). */
    async settle(): Promise<void> {
      await reencryption.idle();
    },
    async start() {
      await bus.requireTopics();
      relay.start();
      await grants.start();
      reencryption.start();
    },
    async stop() {
      await reencryption.stop();
      await grants.stop();
      await bus.stop();
      await pool.end();
    },
  };
}

export type Vault = Awaited<ReturnType<typeof createVault>>;
