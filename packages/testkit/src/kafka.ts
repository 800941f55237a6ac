import { randomBytes } from 'node:crypto';
import { createKafka, provisionBus, topicEndOffsets, type Kafka } from '@flow8/bus';
import { DOMAINS, eventsTopic } from '@flow8/contracts';
import { certPair, stackEnv } from './stack';

/**
 * A topic prefix unique to one suite, so suites sharing the broker never see each other's events.
 * Its topics and ACLs do not exist until `provisionTopics(prefix)` (services do not create topics).
 */
export function uniqueTopicPrefix(): string {
  return `t${randomBytes(4).toString('hex')}.`;
}

/** The admin principal's client (User:kafka-admin, a broker super user): provisioning only. */
export function adminKafka(clientId = 'testkit-admin'): Kafka {
  return testKafka(clientId, 'kafka-admin');
}

const provisioned = new Map<string, Promise<string[]>>();

/**
 * The admin step for one suite's prefix, as `pnpm -s kafka:topics` does for an installation:
 * every domain's events and dead-letter topics with their retention, the services' ACLs under
 * the prefix, and the testkit principal's read/write on the prefix. Returns the events topics.
 */
export function provisionTopics(prefix: string): Promise<string[]> {
  let p = provisioned.get(prefix);
  if (!p) {
    p = provisionBus(adminKafka(), { prefix, partitions: 3, replicationFactor: 1, testPrincipal: 'testkit' }).then(() =>
      DOMAINS.map((d) => eventsTopic(d, prefix)),
    );
    p.catch(() => provisioned.delete(prefix));
    provisioned.set(prefix, p);
  }
  return p;
}

export function testKafka(clientId = 'testkit', certName = 'testkit'): Kafka {
  const env = stackEnv();
  const { ca, cert, key } = certPair(certName);
  return createKafka({ brokers: env.kafkaBrokers, clientId, tls: { ca, cert, key } });
}

/** Reads every message currently on a topic (from the beginning), with a bounded wait. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  opts: { expect?: number; timeoutMs?: number } = {},
): Promise<
  Array<{
    key: string | null;
    value: Buffer | null;
    headers: Record<string, string>;
    partition: number;
    offset: string;
  }>
> {
  const consumer = kafka.consumer({ groupId: `testkit-read-${randomBytes(4).toString('hex')}` });
  const out: Array<{
    key: string | null;
    value: Buffer | null;
    headers: Record<string, string>;
    partition: number;
    offset: string;
  }> = [];
  // Without `expect`: everything on the topic now, i.e. up to each partition's end offset.
  const ends = new Map<number, bigint>();
  const reached = new Map<number, bigint>();
  if (opts.expect === undefined) {
    for (const [partition, end] of await topicEndOffsets(kafka, topic)) if (end > 0n) ends.set(partition, end);
  }
  const atEnd = () => [...ends].every(([p, end]) => (reached.get(p) ?? 0n) >= end);
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {}))
          if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        out.push({
          key: message.key?.toString() ?? null,
          value: message.value,
          headers,
          partition,
          offset: message.offset,
        });
        reached.set(partition, BigInt(message.offset) + 1n);
      },
    });
    const done = () => (opts.expect === undefined ? atEnd() : out.length >= opts.expect);
    while (Date.now() < deadline && !done()) {
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}
