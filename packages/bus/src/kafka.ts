// The only place kafkajs is constructed. Everything else in flow8 talks to the bus through
// this package, so the client library could be swapped without touching services.
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '@flow8/telemetry';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** PEM strings. TLS is mandatory: the broker's listener is SSL with client authentication. */
  tls: { ca: string; cert: string; key: string };
  logger?: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Retries for the client's own requests; the outbox relay retries forever on top of this. */
  retries?: number;
}

export type { Kafka };

function logCreator(logger: Logger | undefined) {
  return () =>
    ({ level, log }: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = log;
      const fields = { kafka: { ...rest, logger: undefined } };
      if (level === logLevel.ERROR) logger.error(fields, `kafka: ${message}`);
      else if (level === logLevel.WARN) logger.warn(fields, `kafka: ${message}`);
      else logger.debug(fields, `kafka: ${message}`);
    };
}

export function createKafka(opts: KafkaOptions): Kafka {
  const config: KafkaConfig = {
    brokers: opts.brokers,
    clientId: opts.clientId,
    ssl: { ca: [opts.tls.ca], cert: opts.tls.cert, key: opts.tls.key, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    connectionTimeout: opts.connectionTimeoutMs ?? 5000,
    requestTimeout: opts.requestTimeoutMs ?? 15000,
    retry: { retries: opts.retries ?? 3, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: logCreator(opts.logger),
  };
  return new Kafka(config);
}

const isRetriable = (e: unknown): boolean => {
  const err = e as { retriable?: unknown; cause?: { retriable?: unknown } };
  return err.retriable === true || err.cause?.retriable === true;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The offset the next message of each partition will get (the high watermark), by partition: a
 * consumer that has stored `next offset >= end` for every partition has read the whole topic.
 */
export async function topicEndOffsets(
  kafka: Kafka,
  topic: string,
  opts: { timeoutMs?: number } = {},
): Promise<Map<number, bigint>> {
  // Just after a topic is created its partition leaders may not be known to every broker yet
  // ("not the leader for that topic-partition"): retriable, so retry with a fresh admin client
  // (fresh metadata) until the deadline.
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    } catch (e) {
      if (!isRetriable(e) || Date.now() + delay > deadline) throw e;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await sleep(delay);
  }
}
