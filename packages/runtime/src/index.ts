// What every flow8 service does the same way, so a service's own files say only what is its own.
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import {
  createKafka,
  createOutbox,
  createOutboxRelay,
  createPublisher,
  requireTopics,
  topicsOf,
  type Kafka,
} from '@flow8/bus';
import { type Env, parseConfigOrExit, secretValues } from '@flow8/config';
import { createPool, type Pool } from '@flow8/db';
import { probeAnswerer, serve } from '@flow8/http';
import {
  createLogger,
  serveMetrics,
  startMetrics,
  startTelemetry,
  type Logger,
  type MetricsHandle,
  type MetricsServer,
} from '@flow8/telemetry';
import { assertSupportedNode } from './node-support';

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

export function loadTls(config: { FLOW8_CA_FILE: string; TLS_CERT_FILE: string; TLS_KEY_FILE: string }): TlsMaterial {
  return {
    ca: readFileSync(config.FLOW8_CA_FILE, 'utf8'),
    cert: readFileSync(config.TLS_CERT_FILE, 'utf8'),
    key: readFileSync(config.TLS_KEY_FILE, 'utf8'),
  };
}

export interface BusConfig {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID?: string | undefined;
  KAFKA_TOPIC_PREFIX: string;
}

/** The service's database pool (runtime role, TLS verify-full). */
export function servicePool(name: string, url: string, caFile: string): Pool {
  return createPool({ url, caFile, max: 10, applicationName: name });
}

/**
 * The service's side of the event backbone: Kafka client, publisher, outbox and its relay, and
 * the readiness checks that go with them. The service adds events to the outbox with its runtime
 * role (INSERT only); the relay reads, marks and prunes the outbox — every company's events —
 * with a role of its own (`relayDatabaseUrl`, `<db>_relay`), whose pool this creates and closes.
 */
export function createServiceBus(opts: {
  name: string;
  config: BusConfig;
  tls: TlsMaterial;
  pool: Pool;
  /** The outbox relay's role (`<D>_RELAY_DATABASE_URL`); it may touch the outbox and nothing else. */
  relayDatabaseUrl: string;
  caFile: string;
  logger: Logger;
}) {
  const { config } = opts;
  const relayPool = createPool({
    url: opts.relayDatabaseUrl,
    caFile: opts.caFile,
    max: 3,
    applicationName: `${opts.name}-relay`,
  });
  const kafka: Kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? opts.name,
    tls: opts.tls,
    logger: opts.logger,
  });
  const publisher = createPublisher(kafka);
  const outbox = createOutbox({ topicPrefix: config.KAFKA_TOPIC_PREFIX });
  const relay = createOutboxRelay({ pool: relayPool, publisher, logger: opts.logger });
  return {
    kafka,
    publisher,
    outbox,
    relay,
    readiness: {
      postgres: async () => {
        await opts.pool.query('SELECT 1');
        await relayPool.query('SELECT 1');
      },
      kafka: async () => {
        if (relay.stats().lastError) throw new Error('outbox relay cannot reach Kafka');
      },
    },
    /**
     * Checks that the topics this service produces to and consumes from (packages/bus topology)
     * exist. Services do not create topics: the admin step (`pnpm -s kafka:topics`) does.
     */
    async requireTopics() {
      await requireTopics(kafka, topicsOf(opts.name, config.KAFKA_TOPIC_PREFIX));
    },
    async stop() {
      await relay.stop();
      await publisher.disconnect().catch(() => undefined);
      await relayPool.end().catch(() => undefined);
    },
  };
}

export interface RunnableService {
  app: FastifyInstance;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type TelemetryConfig = {
  OTEL_SERVICE_NAME?: string | undefined;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
};

/** `metricsFields` of @flow8/config. */
export type MetricsConfig = TelemetryConfig & {
  METRICS_HOST: string;
  /** 0: no listener (metrics are still pushed over OTLP when an endpoint is set). */
  METRICS_PORT: number;
};

type BaseConfig = MetricsConfig & {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
};

export interface ServiceMetrics {
  metrics: MetricsHandle;
  /** The listener, or null when METRICS_PORT is 0. */
  server: MetricsServer | null;
  stop(): Promise<void>;
}

/**
 * The service's metrics: the MeterProvider (OTLP push when OTEL_EXPORTER_OTLP_ENDPOINT is set) and
 * the plain-HTTP listener serving GET /metrics on METRICS_HOST:METRICS_PORT. A port that is taken
 * fails the start: a service silently without metrics is found out only when it is needed.
 */
export async function startServiceMetrics(
  name: string,
  config: MetricsConfig,
  /** The service's app: its /healthz and /readyz are also served on the metrics listener. */
  app?: FastifyInstance,
): Promise<ServiceMetrics> {
  const metrics = startMetrics({
    serviceName: config.OTEL_SERVICE_NAME ?? name,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  let server: MetricsServer | null = null;
  try {
    if (config.METRICS_PORT > 0) {
      const probes = app ? probeAnswerer(app) : null;
      server = await serveMetrics({
        metrics,
        host: config.METRICS_HOST,
        port: config.METRICS_PORT,
        ...(probes ? { probes } : {}),
      });
    }
  } catch (e) {
    await metrics.shutdown();
    throw new Error(`metrics listener could not start on ${config.METRICS_HOST}:${config.METRICS_PORT}`, {
      cause: e,
    });
  }
  return {
    metrics,
    server,
    async stop() {
      await server?.close();
      await metrics.shutdown();
    },
  };
}

/**
 * The service's logger: secret keys censored (@flow8/telemetry) and, as the last line of defence,
 * the literal value of every secret field of its config schema scrubbed from every line — derived
 * from the schema's `secret()` / `base64Key()` fields, so no list is kept by hand.
 */
export function createServiceLogger(opts: {
  name: string;
  schema: z.ZodTypeAny;
  level: string;
  env?: Env;
  destination?: Parameters<typeof createLogger>[0]['destination'];
}): Logger {
  const secrets = secretValues(opts.schema, opts.env === undefined ? {} : { env: opts.env });
  return createLogger({
    service: opts.name,
    level: opts.level,
    secrets: () => secrets,
    ...(opts.destination ? { destination: opts.destination } : {}),
  });
}

/**
 * main() of a service: refuse an unsupported Node.js (exit 78, node-support.ts), telemetry first,
 * configuration (every problem reported, exit 78), the logger scrubbing the service's secrets,
 * then create → start → listen → metrics listener, with graceful shutdown.
 */
export async function runService<S extends z.ZodType<BaseConfig, z.ZodTypeDef, unknown>>(opts: {
  name: string;
  schema: S;
  create: (config: z.infer<S>, logger: Logger) => Promise<RunnableService>;
}): Promise<void> {
  assertSupportedNode(opts.name);
  const config = parseConfigOrExit(opts.schema, { service: opts.name }) as z.infer<S>;
  const telemetry = startTelemetry({
    serviceName: config.OTEL_SERVICE_NAME ?? opts.name,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const logger = createServiceLogger({ name: opts.name, schema: opts.schema, level: config.LOG_LEVEL });
  try {
    const svc = await opts.create(config, logger);
    await svc.start();
    // After create(): a service refusing to start (wrong key, bad config) binds no port at all.
    // Before serve(): the service's first requests are already counted.
    const metrics = await startServiceMetrics(opts.name, config, svc.app);
    const running = await serve(svc.app, {
      host: config.HOST,
      port: config.PORT,
      // Metrics last but one: the scrape during shutdown still answers.
      onShutdown: [() => svc.stop(), () => metrics.stop(), () => telemetry.shutdown()],
    });
    logger.info({ url: running.url }, `${opts.name} listening`);
    if (metrics.server) logger.info({ url: metrics.server.url }, `${opts.name} metrics listening`);
    else logger.info(`${opts.name} metrics listener off (METRICS_PORT=0)`);
  } catch (e) {
    logger.fatal({ err: e }, `${opts.name} failed to start`);
    process.exit(1);
  }
}

export { createRedis, SECURITY_SYNC_KEY, SECURITY_SYNC_PENDING_KEY, type Redis } from './redis';
export { assertSupportedNode, SUPPORTED_NODE, unsupportedNodeReason } from './node-support';

/** Decodes INTERNAL_IDENTITY_PUBLIC_KEYS (base64 raw Ed25519 keys); a malformed key fails at boot. */
export function identityPublicKeys(config: { INTERNAL_IDENTITY_PUBLIC_KEYS: string[] }): Uint8Array[] {
  return config.INTERNAL_IDENTITY_PUBLIC_KEYS.map((k, i) => {
    const raw = Buffer.from(k, 'base64');
    if (raw.length !== 32) throw new Error(`INTERNAL_IDENTITY_PUBLIC_KEYS entry ${i + 1} is not a 32-byte key`);
    return new Uint8Array(raw);
  });
}
export { periodicJob, type PeriodicJob, type PeriodicJobOptions } from './periodic-job';
