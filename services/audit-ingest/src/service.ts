// Wires audit-ingest from its config: used by main.ts and by the integration tests, which run
// the real service in-process against the real stack.
import { readFileSync } from 'node:fs';
import { createKafka, createOutbox, createOutboxRelay, createPublisher, ensureTopics } from '@flow8/bus';
import { DOMAINS, dlqTopic, eventsTopic } from '@flow8/contracts';
import { fromBase64, ready, signingKeyPairFromSeed } from '@flow8/crypto';
import { createPool } from '@flow8/db';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { AuditConfig } from './config';
import { createLedgerConsumer } from './consumers/events.consumer';
import { createAuditService } from './features/audit/audit.service';
import { createCheckpointService } from './features/checkpoints/checkpoint.service';
import { createIngestService } from './features/ledger/ingest.service';

export async function createAuditIngest(config: AuditConfig, logger: Logger) {
  await ready();
  const ca = readFileSync(config.FLOW8_CA_FILE, 'utf8');
  const cert = readFileSync(config.TLS_CERT_FILE, 'utf8');
  const key = readFileSync(config.TLS_KEY_FILE, 'utf8');
  const pool = createPool({
    url: config.AUDIT_DATABASE_URL,
    caFile: config.FLOW8_CA_FILE,
    max: 10,
    applicationName: 'audit-ingest',
  });
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? 'audit-ingest',
    tls: { ca, cert, key },
    logger,
  });
  const publisher = createPublisher(kafka);
  const outbox = createOutbox({ topicPrefix: config.KAFKA_TOPIC_PREFIX });
  const relay = createOutboxRelay({ pool, publisher, logger });
  const keyPair = signingKeyPairFromSeed(config.AUDIT_SIGNING_KEY);
  const checkpoints = createCheckpointService({ pool, keyPair, logger });
  const trustedPublicKeys = [keyPair.publicKey, ...(config.AUDIT_TRUSTED_PUBLIC_KEYS ?? []).map((k) => fromBase64(k))];
  const ingest = createIngestService({ pool, groupId: config.AUDIT_CONSUMER_GROUP, logger });
  const consumer = createLedgerConsumer({
    kafka,
    groupId: config.AUDIT_CONSUMER_GROUP,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    deadLetters: publisher,
    ingest,
    logger,
  });
  const audit = createAuditService({ pool, outbox, checkpoints, trustedPublicKeys });
  const app = buildApp({
    logger,
    tls: { ca, cert, key, requestClientCert: true },
    audit,
    allowedCallers: config.AUDIT_ALLOWED_CALLERS,
    readiness: {
      postgres: async () => {
        await pool.query('SELECT 1');
      },
      kafka: async () => {
        if (relay.stats().lastError) throw new Error('outbox relay cannot reach Kafka');
      },
    },
  });

  let partitionTimer: NodeJS.Timeout | null = null;
  const ensurePartitions = () =>
    pool
      .query('SELECT ledger_ensure_partitions(2)')
      .catch((e: unknown) => logger.error({ err: e }, 'could not create the coming ledger partitions'));

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
      const topics = DOMAINS.map((d) => eventsTopic(d, config.KAFKA_TOPIC_PREFIX));
      await ensureTopics(kafka, [...topics, ...topics.map(dlqTopic)], {
        partitions: config.KAFKA_TOPIC_PARTITIONS,
        replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      });
      await pool.query('SELECT ledger_ensure_partitions(2)');
      // Months ahead exist well before they are needed; a daily run keeps it that way.
      partitionTimer = setInterval(() => void ensurePartitions(), 24 * 3600_000);
      partitionTimer.unref();
      await checkpoints.registerKey();
      relay.start();
      await consumer.start();
      checkpoints.start(config.AUDIT_CHECKPOINT_INTERVAL);
    },
    async stop() {
      if (partitionTimer) clearInterval(partitionTimer);
      checkpoints.stop();
      await consumer.stop();
      await relay.stop();
      await publisher.disconnect().catch(() => undefined);
      await pool.end();
    },
  };
}
