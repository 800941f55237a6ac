import { z } from 'zod';
import {
  base64Key,
  busFields,
  csv,
  duration,
  httpFields,
  internalIdentityFields,
  port,
  kafkaFields,
  secret,
  str,
  metricsFields,
  metricsPort,
  telemetryFields,
  tlsFields,
} from '@flow8/config';

export const auditConfigSchema = z.object({
  ...httpFields,
  ...kafkaFields,
  ...tlsFields,
  ...telemetryFields,
  ...metricsFields,
  ...busFields,
  ...internalIdentityFields,
  PORT: port(8104),
  /** Plain-HTTP `GET /metrics` for Prometheus; 0 turns it off. */
  METRICS_PORT: metricsPort(9104),
  /** Runtime role (INSERT/SELECT on the ledger only). */
  AUDIT_DATABASE_URL: secret(),
  /** The outbox relay's role: reads and marks the outbox, nothing else. */
  AUDIT_RELAY_DATABASE_URL: secret(),
  /** Ed25519 seed (32 bytes, base64) that signs checkpoints. Never logged. */
  AUDIT_SIGNING_KEY: base64Key(32),
  /** Public keys (base64, comma-separated) of earlier signing keys whose checkpoints remain trusted. */
  AUDIT_TRUSTED_PUBLIC_KEYS: csv().optional(),
  AUDIT_CHECKPOINT_INTERVAL: duration('5m'),
  AUDIT_CONSUMER_GROUP: str().default('audit-ingest'),
  /** Service identities (client-certificate CNs) allowed to call the audit API, with an identity token. */
  AUDIT_ALLOWED_CALLERS: csv().default('gateway'),
});

export type AuditConfig = z.infer<typeof auditConfigSchema>;
