// Environment of the bus's admin commands (kafka:topics, kafka:dlq-replay): they connect as the
// admin principal (the kafka-admin certificate), never with a service's certificate.
import { readFileSync } from 'node:fs';
import { createKafka, type Kafka } from '../kafka';

export interface AdminEnv {
  kafka: Kafka;
  prefix: string;
  partitions: number;
  replicationFactor: number;
}

export function adminEnv(command: string, clientId: string): AdminEnv {
  const need = ['KAFKA_BROKERS', 'FLOW8_CA_FILE', 'KAFKA_ADMIN_CERT_FILE', 'KAFKA_ADMIN_KEY_FILE'];
  const missing = need.filter((k) => !process.env[k]);
  if (missing.length > 0) {
    process.stderr.write(`${command}: missing environment: ${missing.join(', ')}\n`);
    process.exit(78);
  }
  const env = process.env;
  const req = (k: string): string => env[k] ?? '';
  const prefix = env.KAFKA_TOPIC_PREFIX ?? '';
  if (!/^[a-z0-9.-]*$/.test(prefix)) {
    process.stderr.write(`${command}: KAFKA_TOPIC_PREFIX may only contain a-z 0-9 . -\n`);
    process.exit(78);
  }
  const int = (k: string, d: number) => {
    const v = !env[k] ? d : Number(env[k]);
    if (!Number.isInteger(v) || v < 1) {
      process.stderr.write(`${command}: ${k} must be a positive integer\n`);
      process.exit(78);
    }
    return v;
  };
  const kafka = createKafka({
    brokers: req('KAFKA_BROKERS')
      .split(',')
      .map((b) => b.trim()),
    clientId,
    tls: {
      ca: readFileSync(req('FLOW8_CA_FILE'), 'utf8'),
      cert: readFileSync(req('KAFKA_ADMIN_CERT_FILE'), 'utf8'),
      key: readFileSync(req('KAFKA_ADMIN_KEY_FILE'), 'utf8'),
    },
  });
  return {
    kafka,
    prefix,
    partitions: int('KAFKA_TOPIC_PARTITIONS', 3),
    replicationFactor: int('KAFKA_REPLICATION_FACTOR', 1),
  };
}
