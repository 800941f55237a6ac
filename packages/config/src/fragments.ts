import { csv, enumOf, filePath, port, str, url } from './fields';

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

/** Listen address. Loopback by default so a forgotten HOST never exposes a service. */
export const httpFields = {
  HOST: str().default('127.0.0.1'),
  PORT: port(),
};
