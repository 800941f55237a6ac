import { z } from 'zod';
import {
  base64Key,
  csv,
  duration,
  httpFields,
  int,
  port,
  kafkaFields,
  secret,
  str,
  telemetryFields,
  tlsFields,
} from '@flow8/config';

export const auditConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  PORT: port(8104),
  /** Runtime role (INSERT/SELECT on the ledger only). */
  AUDIT_DATABASE_URL: secret(),
  /** Ed25519 seed (32 bytes, base64) that signs checkpoints. Never logged. */
  AUDIT_SIGNING_KEY: base64Key(32),
  /** Public keys (base64, comma-separated) of earlier signing keys whose checkpoints remain trusted. */
  AUDIT_TRUSTED_PUBLIC_KEYS: csv().optional(),
  AUDIT_CHECKPOINT_INTERVAL: duration('5m'),
  AUDIT_CONSUMER_GROUP: str().default('audit-ingest'),
  /** Namespaces every topic; empty in production, set per test suite on a shared broker. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-z0-9.-]*$/)
    .default(''),
  KAFKA_TOPIC_PARTITIONS: int({ min: 1, max: 1000, default: 3 }),
  KAFKA_REPLICATION_FACTOR: int({ min: 1, max: 10, default: 1 }),
  /** Service identities (client-certificate CNs) allowed to call the audit API. */
  AUDIT_ALLOWED_CALLERS: csv().default('gateway,operator'),
});

export type AuditConfig = z.infer<typeof auditConfigSchema>;
