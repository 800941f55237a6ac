// Runs the real flow engine in-process against the real stack: a fresh database with the real
// migrations, a topic prefix of its own on the shared broker (topics + ACLs from the admin step),
// the engine's own certificate and Kafka principal, and a ManualClock the tests move.
import { fileURLToPath } from 'node:url';
import { OUTBOX_MIGRATIONS_DIR } from '@flow8/bus';
import { GRANT_REPLICA_MIGRATIONS_DIR } from '@flow8/grants';
import { createLogger } from '@flow8/telemetry';
import { certPair, freshDatabase, provisionTopics, stackEnv, testIdentityKey, type TestDatabase } from '@flow8/testkit';
import { flowEngineConfigSchema, type FlowEngineConfig } from '../src/config';
import type { FlowDefinition, Flowlet, Edge } from '../src/features/flows/definition/types';
import { createFlowEngine, type FlowEngineOptions } from '../src/service';

export const FLOW_MIGRATIONS = [
  { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
  { component: 'grants', dir: GRANT_REPLICA_MIGRATIONS_DIR },
  { component: 'flow-engine', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
];

export function engineConfig(
  db: TestDatabase,
  prefix: string,
  overrides: Record<string, string> = {},
): FlowEngineConfig {
  const env = stackEnv();
  const tls = certPair('flow-engine');
  return flowEngineConfigSchema.parse({
    PORT: '8105',
    METRICS_PORT: '0',
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    FLOW8_CA_FILE: env.caFile,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    FLOW_DATABASE_URL: db.appUrl,
    FLOW_RELAY_DATABASE_URL: db.relayUrl,
    KAFKA_TOPIC_PREFIX: prefix,
    INTERNAL_IDENTITY_PUBLIC_KEYS: testIdentityKey().publicKeyBase64,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...overrides,
  });
}

export async function startEngine(
  db: TestDatabase,
  prefix: string,
  opts: FlowEngineOptions & { overrides?: Record<string, string> } = {},
) {
  await provisionTopics(prefix);
  const config = engineConfig(db, prefix, opts.overrides);
  const logger = createLogger({ service: 'flow-engine', level: config.LOG_LEVEL });
  const engine = await createFlowEngine(config, logger, { startSweeps: false, ...opts });
  await engine.start();
  return engine;
}

export const flowDb = () => freshDatabase('FLOW', FLOW_MIGRATIONS);

/** A definition around the given flowlets and edges (manual trigger, the engine's defaults). */
export function flow(flowlets: Flowlet[], edges: Edge[] = [], extra: Partial<FlowDefinition> = {}): FlowDefinition {
  return {
    schema: 'flow-definition.v1',
    name: 'test flow',
    purpose: 'engine tests',
    legalBasis: 'contract',
    inputSchema: { type: 'object' },
    triggers: [{ id: 'manual', kind: 'manual' }],
    flowlets,
    edges,
    ...extra,
  };
}
