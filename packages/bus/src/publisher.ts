import { Partitioners, type Kafka, type Producer } from 'kafkajs';

export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface Publisher {
  /** Resolves once every message is acknowledged by all in-sync replicas (acks=all). */
  publish(messages: OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * acks=all with one request in flight keeps each partition's order across retries. kafkajs'
 * idempotent mode is experimental, so it is off by default: a retry can write a message twice,
 * and consumers that must not double-apply (the audit ledger) fence on the event id instead.
 */
export function createPublisher(kafka: Kafka, opts: { idempotent?: boolean } = {}): Publisher {
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    // Murmur2 like the Java client: a tenant's key lands on the same partition whichever client wrote it.
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: opts.idempotent ?? false,
    maxInFlightRequests: 1,
  });
  let connected: Promise<void> | null = null;
  const connect = () => {
    connected ??= producer.connect().catch((e: unknown) => {
      connected = null;
      throw e;
    });
    return connected;
  };
  return {
    async publish(messages) {
      if (messages.length === 0) return;
      await connect();
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const m of messages) {
        const list = byTopic.get(m.topic);
        if (list) list.push(m);
        else byTopic.set(m.topic, [m]);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, ms]) => ({
          topic,
          messages: ms.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
        })),
      });
    },
    async disconnect() {
      connected = null;
      await producer.disconnect();
    },
  };
}
