// Wires auth from its config: used by main.ts and by the integration tests, which run the
// real service in-process against the real stack.
import { readFileSync } from 'node:fs';
import { createKafka, createOutbox, createOutboxRelay, createPublisher, ensureTopics } from '@flow8/bus';
import { dlqTopic, eventsTopic } from '@flow8/contracts';
import { createPool } from '@flow8/db';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { AuthConfig } from './config';
import { createTenantService } from './features/tenants/tenants.service';
import { createPasswordHasher } from './features/users/password';
import { createUserService } from './features/users/users.service';

export async function createAuth(config: AuthConfig, logger: Logger) {
  const ca = readFileSync(config.FLOW8_CA_FILE, 'utf8');
  const cert = readFileSync(config.TLS_CERT_FILE, 'utf8');
  const key = readFileSync(config.TLS_KEY_FILE, 'utf8');
  const pool = createPool({
    url: config.AUTH_DATABASE_URL,
    caFile: config.FLOW8_CA_FILE,
    max: 10,
    applicationName: 'auth',
  });
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? 'auth',
    tls: { ca, cert, key },
    logger,
  });
  const publisher = createPublisher(kafka);
  const outbox = createOutbox({ topicPrefix: config.KAFKA_TOPIC_PREFIX });
  const relay = createOutboxRelay({ pool, publisher, logger });
  const hasher = createPasswordHasher(config.AUTH_BCRYPT_COST);
  const tenants = createTenantService({ pool, outbox, hasher });
  const users = createUserService({ pool, outbox, hasher });
  const app = buildApp({
    logger,
    tls: { ca, cert, key, requestClientCert: true },
    tenants,
    users,
    allowedCallers: config.AUTH_ALLOWED_CALLERS,
    readiness: {
      postgres: async () => {
        await pool.query('SELECT 1');
      },
      kafka: async () => {
        if (relay.stats().lastError) throw new Error('outbox relay cannot reach Kafka');
      },
    },
  });

  return {
    app,
    pool,
    relay,
    /** Topics, then the relay. The HTTP listener is the caller's. */
    async start() {
      const topic = eventsTopic('identity', config.KAFKA_TOPIC_PREFIX);
      await ensureTopics(kafka, [topic, dlqTopic(topic)], {
        partitions: config.KAFKA_TOPIC_PARTITIONS,
        replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      });
      relay.start();
    },
    async stop() {
      await relay.stop();
      await publisher.disconnect().catch(() => undefined);
      await pool.end();
    },
  };
}
