// Runs the real credential vault in-process against the real stack: a fresh database with the
// real migrations, a topic prefix of its own on the shared broker, TLS everywhere. Every log
// line the service writes is kept in memory so tests can search it for secrets. Identity tokens
// are minted as the gateway would; resolve is called with the flow engine's certificate.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { GRANT_REPLICA_MIGRATIONS_DIR } from '@flow8/grants';
import { eventsTopic, newId } from '@flow8/contracts';
import { createIdentitySigner, ed25519RawPublicKey, type InternalPrincipal } from '@flow8/http';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  freshDatabase,
  httpsRequest,
  readTopic,
  stackEnv,
  testKafka,
  provisionTopics,
  uniqueTopicPrefix,
  type HttpsResponse,
  type TestDatabase,
} from '@flow8/testkit';
import { vaultConfigSchema, type VaultConfig } from '../src/config';
import { createVault } from '../src/service';

export const VAULT_MIGRATIONS = [
  { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
  { component: 'grants', dir: GRANT_REPLICA_MIGRATIONS_DIR },
  { component: 'vault', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
];

export const newKey = (): string => randomBytes(32).toString('base64');

export function vaultEnv(
  db: TestDatabase,
  prefix: string,
  identityPublicKey: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const env = stackEnv();
  const tls = certPair('credential-vault');
  return {
    PORT: '8102',
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    VAULT_DATABASE_URL: db.appUrl,
    VAULT_RELAY_DATABASE_URL: db.relayUrl,
    KAFKA_TOPIC_PREFIX: prefix,
    VAULT_ALLOWED_CALLERS: 'gateway',
    VAULT_OPERATOR_CALLERS: 'operator',
    INTERNAL_IDENTITY_PUBLIC_KEYS: identityPublicKey,
    ENCRYPTION_KEY: newKey(),
    VAULT_REENCRYPT_INTERVAL: '1s',
    // Everything the service can say, so secret-leak checks see the most verbose output.
    LOG_LEVEL: 'trace',
    ...overrides,
  };
}

export type Principal = Partial<InternalPrincipal> & Pick<InternalPrincipal, 'tenantId' | 'id'>;

export interface StartOptions {
  db?: TestDatabase;
  prefix?: string;
  seed?: Buffer;
  overrides?: Record<string, string>;
  /** Shared log sink (several instances, one canary search). */
  lines?: string[];
}

export async function startVault(opts: StartOptions = {}) {
  const db = opts.db ?? (await freshDatabase('VAULT', VAULT_MIGRATIONS));
  const prefix = opts.prefix ?? uniqueTopicPrefix();
  await provisionTopics(prefix);
  const seed = opts.seed ?? randomBytes(32);
  const signer = createIdentitySigner({ seed });
  const env = vaultEnv(db, prefix, Buffer.from(ed25519RawPublicKey(seed)).toString('base64'), opts.overrides);
  const config: VaultConfig = vaultConfigSchema.parse(env);
  const lines = opts.lines ?? [];
  const logger = createLogger({
    service: 'credential-vault',
    level: config.LOG_LEVEL,
    destination: { write: (line: string) => void lines.push(line) },
  });
  const svc = await createVault(config, logger);
  await svc.start();
  const url = await svc.app.listen({ host: '127.0.0.1', port: 0 });

  const identity = (p: Principal): Record<string, string> => ({
    'x-flow8-identity': signer.sign(
      { type: 'user', role: null, scopes: [], ip: '203.0.113.7', sessionId: null, ...p },
      'credential-vault',
    ),
  });

  return {
    db,
    prefix,
    seed,
    env,
    config,
    svc,
    url,
    /** A request as the gateway (mTLS CN gateway), with an identity token when `principal` is given. */
    call(
      method: string,
      path: string,
      o: { principal?: Principal; body?: unknown; cert?: string | null } = {},
    ): Promise<HttpsResponse> {
      return httpsRequest(`${url}${path}`, {
        method,
        as: o.cert === undefined ? 'gateway' : o.cert,
        headers: o.principal ? identity(o.principal) : {},
        body: o.body,
      });
    },
    /** POST /internal/v1/credentials/:id/resolve, as the flow engine unless `cert` says otherwise. */
    resolve(id: string, body: Record<string, unknown>, cert: string | null = 'flow-engine'): Promise<HttpsResponse> {
      return httpsRequest(`${url}/internal/v1/credentials/${id}/resolve`, { method: 'POST', as: cert, body });
    },
    logText: () => lines.join(''),
    async stop() {
      await svc.app.close();
      await svc.stop();
    },
  };
}

export type VaultHarness = Awaited<ReturnType<typeof startVault>>;

export const newTenant = (): string => newId('ten');

export const admin = (tenantId: string): Principal => ({ tenantId, id: newId('usr'), role: 'admin' });
export const designer = (tenantId: string): Principal => ({ tenantId, id: newId('usr'), role: 'flow_designer' });

export interface VaultEvent {
  id: string;
  type: string;
  tenantId: string;
  actor: { type: string; id: string };
  resource: { type: string; id: string };
  purpose: string | null;
  payload: Record<string, unknown>;
}

/** Every event on the vault topic of this prefix so far (waits until at least `expect`). */
export async function vaultEvents(prefix: string, expect?: number): Promise<{ events: VaultEvent[]; raw: string[] }> {
  const kafka = testKafka();
  const msgs = await readTopic(
    kafka,
    eventsTopic('vault', prefix),
    expect === undefined ? {} : { expect, timeoutMs: 20_000 },
  );
  const raw = msgs.map((m) => m.value?.toString('utf8') ?? '');
  return { events: raw.map((r) => JSON.parse(r) as VaultEvent), raw };
}

/** The user resolves run for by default (tests give them grants through identity events). */
export const RESOLVE_USER = newId('usr');

export const resolveBody = (tenantId: string, scope: string, extra: Record<string, unknown> = {}) => ({
  tenantId,
  flowId: 'flw_test',
  executionId: 'exe_test',
  stepId: 'step-1',
  scope,
  purpose: 'sync invoices to the ledger',
  // An Executor: holds integrations:use by role, so only integration grants can narrow it.
  actingFor: { type: 'user', id: RESOLVE_USER, role: 'executor' },
  ...extra,
});
