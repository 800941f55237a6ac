// Wires audit-ingest from its config: used by main.ts and by the integration tests, which run
// the real service in-process against the real stack.
import { fromBase64, ready, signingKeyPairFromSeed } from '@flow8/crypto';
import { createServiceBus, identityPublicKeys, loadTls, periodicJob, servicePool } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { AuditConfig } from './config';
import { createLedgerConsumer } from './consumers/events.consumer';
import { createAuditService } from './features/audit/audit.service';
import { createCheckpointService } from './features/checkpoints/checkpoint.service';
import { createIngestService } from './features/ledger/ingest.service';
import { createAuditMetrics } from './metrics';

export async function createAuditIngest(config: AuditConfig, logger: Logger) {
  await ready();
  const tls = loadTls(config);
  const pool = servicePool('audit-ingest', config.AUDIT_DATABASE_URL, config.FLOW8_CA_FILE);
  const bus = createServiceBus({
    name: 'audit-ingest',
    config,
    tls,
    pool,
    relayDatabaseUrl: config.AUDIT_RELAY_DATABASE_URL,
    caFile: config.FLOW8_CA_FILE,
    logger,
  });
  const { kafka, publisher, outbox, relay } = bus;
  const keyPair = signingKeyPairFromSeed(config.AUDIT_SIGNING_KEY);
  const metrics = createAuditMetrics();
  const trustedPublicKeys = [keyPair.publicKey, ...(config.AUDIT_TRUSTED_PUBLIC_KEYS ?? []).map((k) => fromBase64(k))];
  const checkpoints = createCheckpointService({
    pool,
    keyPair,
    logger,
    metrics,
    trustedPublicKeys,
    intervalMs: config.AUDIT_CHECKPOINT_INTERVAL,
  });
  // Under the installation's topic prefix, like its topics: the group its Kafka ACL names.
  const groupId = `${config.KAFKA_TOPIC_PREFIX}${config.AUDIT_CONSUMER_GROUP}`;
  const ingest = createIngestService({ pool, groupId, logger, metrics });
  const consumer = createLedgerConsumer({
    kafka,
    groupId,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    deadLetters: publisher,
    ingest,
    logger,
  });
  const audit = createAuditService({ pool, outbox, checkpoints, trustedPublicKeys, metrics, logger });
  const app = buildApp({
    logger,
    tls: { ...tls, requestClientCert: true },
    audit,
    allowedCallers: config.AUDIT_ALLOWED_CALLERS,
    identityPublicKeys: identityPublicKeys(config),
    readiness: bus.readiness,
  });

  // Months ahead exist well before they are needed; a daily run keeps it that way. Leader-only:
  // creating a partition is a change to the shared schema, so one replica does it (the function
  // is idempotent, the lock just spares the others the DDL lock traffic).
  const partitions = periodicJob({
    name: 'audit.ledger-partitions',
    everyMs: 24 * 3600_000,
    runAtStart: false,
    leader: { pool },
    logger,
    async run() {
      await pool.query('SELECT ledger_ensure_partitions(2)');
    },
  });

  return {
    app,
    pool,
    ingest,
    checkpoints,
    relay,
    consumer,
    keyPair,
    /** Topics, partitions, key, then the loops. The HTTP listener is the caller's. */
    async start() {
      await bus.requireTopics();
      await pool.query('SELECT ledger_ensure_partitions(2)');
      partitions.start();
      await checkpoints.registerKey();
      metrics.start();
      relay.start();
      await consumer.start();
      checkpoints.job.start();
    },
    async stop() {
      await partitions.stop();
      await checkpoints.job.stop();
      metrics.stop();
      await consumer.stop();
      await bus.stop();
      await pool.end();
    },
  };
}
