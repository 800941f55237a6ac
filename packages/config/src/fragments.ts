import { z } from 'zod';
import { csv, enumOf, filePath, int, port, str, url } from './fields';

// Plain objects of fields, spread into a service schema:
//   z.object({ ...kafkaFields, ...httpFields, DATABASE_URL: secret() })

/** Kafka bootstrap servers (`host:port,host:port`) and an optional client id. */
export const kafkaFields = {
  KAFKA_BROKERS: csv(),
  KAFKA_CLIENT_ID: str().optional(),
};

/** The private CA and this service's certificate/key, for mTLS and the Kafka SSL listener. */
export const tlsFields = {
  FLOW8_CA_FILE: filePath(),
  TLS_CERT_FILE: filePath(),
  TLS_KEY_FILE: filePath(),
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** Logger level and where traces go; no endpoint means spans are created but not exported. */
export const telemetryFields = {
  LOG_LEVEL: enumOf(LOG_LEVELS).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: url({ protocols: ['http', 'https'] }).optional(),
  OTEL_SERVICE_NAME: str().optional(),
};

/**
 * The metrics listener's port (plain HTTP, `GET /metrics`); 0 turns the listener off. Each service
 * sets its own default beside its PORT (`METRICS_PORT: metricsPort(9104)`).
 */
export function metricsPort(defaultValue?: number) {
  return int({ min: 0, max: 65535, ...(defaultValue === undefined ? {} : { default: defaultValue }) });
}

/**
 * Where Prometheus scrapes the service. Loopback by default, like HOST: the listener has no TLS
 * and no authentication (it serves aggregate numbers only), so exposing it is a deliberate choice
 * (`0.0.0.0` in a pod, with a NetworkPolicy admitting only the scraper).
 */
export const metricsFields = {
  METRICS_HOST: str().default('127.0.0.1'),
  METRICS_PORT: metricsPort(),
};

/** Listen address. Loopback by default so a forgotten HOST never exposes a service. */
export const httpFields = {
  HOST: str().default('127.0.0.1'),
  PORT: port(),
};

/** The installation's topic namespace (topics themselves are created by `pnpm -s kafka:topics`). */
export const busFields = {
  /** Namespaces every topic; empty in production, set per test suite on a shared broker. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-z0-9.-]*$/)
    .default(''),
};

/**
 * Services behind the gateway: the public keys (base64, raw 32-byte Ed25519) that verify the
 * gateway's internal identity tokens. Two during a key change.
 */
export const internalIdentityFields = {
  INTERNAL_IDENTITY_PUBLIC_KEYS: csv(),
};
