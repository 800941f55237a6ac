// Runs the real audit-ingest in-process against the real stack: a fresh database with the
// real migrations, a topic prefix of its own on the shared broker, TLS everywhere.
import { randomBytes } from 'node:crypto';
import { OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { toBase64 } from '@flow8/crypto';
import { createLogger } from '@flow8/telemetry';
import {
  certPair,
  freshDatabase,
  stackEnv,
  testIdentityKey,
  provisionTopics,
  uniqueTopicPrefix,
  type TestDatabase,
} from '@flow8/testkit';
import { fileURLToPath } from 'node:url';
import { auditConfigSchema, type AuditConfig } from '../src/config';
import { createAuditIngest } from '../src/service';

export const AUDIT_MIGRATIONS = [
  { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
  { component: 'audit-ingest', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
];

/** The environment of an audit-ingest for one suite: what the in-process one parses, and what a spawned main.ts gets. */
export function auditEnv(
  db: TestDatabase,
  prefix: string,
  overrides: Record<string, string> = {},
  identityPublicKey = testIdentityKey().publicKeyBase64,
): Record<string, string> {
  const env = stackEnv();
  const tls = certPair('audit-ingest');
  return {
    PORT: '8104',
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    AUDIT_DATABASE_URL: db.appUrl,
    AUDIT_RELAY_DATABASE_URL: db.relayUrl,
    AUDIT_SIGNING_KEY: toBase64(randomBytes(32)),
    KAFKA_TOPIC_PREFIX: prefix,
    AUDIT_ALLOWED_CALLERS: 'gateway,testkit',
    INTERNAL_IDENTITY_PUBLIC_KEYS: identityPublicKey,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...overrides,
  };
}

export function auditConfig(
  db: TestDatabase,
  prefix: string,
  overrides: Record<string, string> = {},
  identityPublicKey = testIdentityKey().publicKeyBase64,
): AuditConfig {
  return auditConfigSchema.parse(auditEnv(db, prefix, overrides, identityPublicKey));
}

export async function startAudit(
  opts: { db?: TestDatabase; prefix?: string; overrides?: Record<string, string> } = {},
) {
  const db = opts.db ?? (await freshDatabase('AUDIT', AUDIT_MIGRATIONS));
  const prefix = opts.prefix ?? uniqueTopicPrefix();
  const topics = await provisionTopics(prefix);
  const identity = testIdentityKey();
  const config = auditConfig(db, prefix, opts.overrides, identity.publicKeyBase64);
  const logger = createLogger({ service: 'audit-ingest', level: config.LOG_LEVEL });
  const svc = await createAuditIngest(config, logger);
  await svc.start();
  const url = await svc.app.listen({ host: '127.0.0.1', port: 0 });
  /** The identity header of a principal of `tenantId` (default: an Admin), as the gateway would send it. */
  const as = (
    tenantId: string,
    p: { role?: 'admin' | 'viewer' | 'executor' | 'flow_designer'; id?: string; ip?: string } = {},
  ) =>
    identity.header(
      { tenantId, type: 'user', id: p.id ?? 'usr_compliance', role: p.role ?? 'admin', ip: p.ip ?? '192.0.2.10' },
      'audit-ingest',
    );
  return {
    db,
    prefix,
    config,
    /** The ledger's consumer group and the topics it reads: for waitForQuiescence. */
    ledgerGroup: { groupId: `${prefix}${config.AUDIT_CONSUMER_GROUP}`, topics },
    svc,
    url,
    identity,
    as,
    async stop() {
      await svc.app.close();
      await svc.stop();
    },
  };
}
