// A consumer that validates every message against its contract before anything else sees it
// (I-JSON, schemas, and an events topic carries only its own domain's event types).
// Invalid messages go to `<topic>.dlq` with the reason; nothing is dropped silently.
//
// Offsets: the handler gets whole per-partition batches and may store offsets itself (the
// audit ledger commits them in the same Postgres transaction as its rows). Kafka's committed
// offset is advanced only after the handler succeeded, so it is never ahead of the handler.
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { dlqTopic, parseEvent, type AnyEvent, type DeadLetter } from '@flow8/contracts';
import {
  extractTraceContext,
  observableGauge,
  SpanKind,
  withSpan,
  type GaugeRegistration,
  type Logger,
} from '@flow8/telemetry';
import { createLagMonitor } from './lag';
import {
  consumerBatchDuration,
  consumerDeadLetters,
  consumerHandlerFailures,
  consumerMessages,
  LAG_AGE_LABELS,
  LAG_AGE_METRIC,
  LAG_LABELS,
  LAG_METRIC,
} from './metrics';
import type { Publisher } from './publisher';

export interface ConsumedEvent {
  offset: string;
  event: AnyEvent;
  /** The exact bytes received, for consumers that keep them verbatim. */
  value: Buffer;
  headers: Record<string, string>;
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  /** Valid events in offset order (invalid ones were dead-lettered already). */
  events: ConsumedEvent[];
  firstOffset: string;
  /** The offset of the last message in the batch, valid or not: store `lastOffset + 1`. */
  lastOffset: string;
  heartbeat(): Promise<void>;
  /**
   * Dead-letters a valid message the handler cannot apply (e.g. a conflict only it can see).
   * Call it before committing the offsets that pass the message, so it is never lost.
   */
  deadLetter(offset: string, reason: DeadLetter['reason'], errors: string[]): Promise<void>;
}

export interface EventConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: Array<string | RegExp>;
  deadLetters: Publisher;
  logger: Logger;
  handleBatch(batch: PartitionBatch): Promise<void>;
  fromBeginning?: boolean;
  /** Retry backoff ceiling for a failing handler (e.g. the database is down). */
  maxBackoffMs?: number;
  /**
   * How long the broker waits for a silent member before giving its partitions to others
   * (default CONSUMER_SESSION_TIMEOUT_MS). A process that was killed (or lost its broker) cannot
   * leave the group: its replacement — or its own restarted consumer — waits this long to get
   * the partitions back. Heartbeats go every HEARTBEAT_INTERVAL_MS, also while a batch is handled.
   */
  sessionTimeoutMs?: number;
  /** Partition batches handled at once (each in its own transaction). Default 3. */
  partitionsConsumedConcurrently?: number;
  /** Largest fetch per partition; bigger batches mean fewer transactions. Default 8 MiB. */
  maxBytesPerPartition?: number;
}

export interface EventConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): { consumed: number; deadLettered: number; handlerFailures: number };
}

function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

export function deadLetterRecord(input: {
  topic: string;
  partition: number;
  message: KafkaMessage;
  reason: DeadLetter['reason'];
  errors: string[];
  groupId: string;
}): DeadLetter {
  return {
    source: { topic: input.topic, partition: input.partition, offset: input.message.offset },
    reason: input.reason,
    errors: input.errors,
    consumerGroup: input.groupId,
    failedAt: new Date().toISOString(),
    key: input.message.key ? input.message.key.toString('utf8') : null,
    valueBase64: input.message.value ? input.message.value.toString('base64') : null,
    headers: headersOf(input.message.headers),
  };
}

/** The broker's default group.min.session.timeout.ms: the shortest it accepts. */
export const CONSUMER_SESSION_TIMEOUT_MS = 6_000;
export const HEARTBEAT_INTERVAL_MS = 1_000;
export const REBALANCE_TIMEOUT_MS = 3_000;

export function createEventConsumer(opts: EventConsumerOptions): EventConsumer {
  const maxBackoff = opts.maxBackoffMs ?? 10_000;
  const stats = { consumed: 0, deadLettered: 0, handlerFailures: 0 };
  let consumer: Consumer | null = null;
  let stopping = false;
  const fromBeginning = opts.fromBeginning ?? true;
  const lag = createLagMonitor({ kafka: opts.kafka, groupId: opts.groupId, fromBeginning, logger: opts.logger });
  let lagGauge: GaugeRegistration | null = null;
  let lagAgeGauge: GaugeRegistration | null = null;
  const labelsOf = (topic: string) => ({ topic, consumer_group: opts.groupId });

  // kafkajs heartbeats only between batches: a batch (or its retries while the database is down)
  // that outlasts the short session timeout would lose its member. Heartbeat while it works.
  async function onBatch(payload: EachBatchPayload): Promise<void> {
    const keepAlive = setInterval(() => void payload.heartbeat().catch(() => undefined), HEARTBEAT_INTERVAL_MS);
    try {
      await handlePartitionBatch(payload);
    } finally {
      clearInterval(keepAlive);
    }
  }

  async function handlePartitionBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    if (batch.messages.length === 0) return;
    const startedAt = performance.now();
    const events: ConsumedEvent[] = [];
    const dead: DeadLetter[] = [];
    const publishDead = (letters: DeadLetter[]) =>
      opts.deadLetters.publish(
        letters.map((d) => ({
          topic: dlqTopic(batch.topic),
          key: d.key ?? '',
          value: Buffer.from(JSON.stringify(d)),
          headers: { 'content-type': 'application/json', 'flow8-dlq-reason': d.reason },
        })),
      );
    for (const message of batch.messages) {
      // With the topic: an event of another domain's type on this topic is refused as a forgery.
      const r = parseEvent(message.value, { topic: batch.topic });
      if (r.ok) {
        events.push({
          offset: message.offset,
          event: r.value,
          value: message.value!,
          headers: headersOf(message.headers),
        });
      } else {
        dead.push(
          deadLetterRecord({
            topic: batch.topic,
            partition: batch.partition,
            message,
            reason: r.reason,
            errors: r.errors,
            groupId: opts.groupId,
          }),
        );
      }
    }
    // Dead letters are written before the batch's offsets can move past them.
    if (dead.length > 0) {
      await publishDead(dead);
      stats.deadLettered += dead.length;
      for (const d of dead) {
        consumerDeadLetters.add(1, { ...labelsOf(batch.topic), reason: d.reason });
        opts.logger.warn(
          {
            topic: batch.topic,
            partition: batch.partition,
            offset: d.source.offset,
            reason: d.reason,
            errors: d.errors,
          },
          'message dead-lettered',
        );
      }
    }
    const first = events[0];
    const parent = first ? extractTraceContext(first.headers) : undefined;
    let backoff = 200;
    for (;;) {
      if (!isRunning() || isStale()) return; // a rebalance took the partition; its new owner will redo it
      try {
        await withSpan(
          `${batch.topic} process`,
          {
            kind: SpanKind.CONSUMER,
            parent,
            attributes: {
              'messaging.system': 'kafka',
              'messaging.destination.name': batch.topic,
              'messaging.kafka.destination.partition': batch.partition,
              'messaging.batch.message_count': batch.messages.length,
              'messaging.consumer.group.name': opts.groupId,
            },
          },
          () =>
            opts.handleBatch({
              topic: batch.topic,
              partition: batch.partition,
              events,
              firstOffset: batch.firstOffset() ?? batch.messages[0]!.offset,
              lastOffset: batch.lastOffset(),
              heartbeat,
              deadLetter: async (offset, reason, errors) => {
                const message = batch.messages.find((m) => m.offset === offset);
                if (!message) throw new Error(`offset ${offset} is not in this batch`);
                const letter = deadLetterRecord({
                  topic: batch.topic,
                  partition: batch.partition,
                  message,
                  reason,
                  errors,
                  groupId: opts.groupId,
                });
                await publishDead([letter]);
                stats.deadLettered += 1;
                consumerDeadLetters.add(1, { ...labelsOf(batch.topic), reason });
                opts.logger.warn(
                  { topic: batch.topic, partition: batch.partition, offset, reason, errors },
                  'message dead-lettered',
                );
              },
            }),
        );
        break;
      } catch (e) {
        stats.handlerFailures += 1;
        consumerHandlerFailures.add(1, labelsOf(batch.topic));
        opts.logger.warn(
          { err: e, topic: batch.topic, partition: batch.partition, retryInMs: backoff },
          'batch handler failed; retrying',
        );
        if (stopping) throw e;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, maxBackoff);
        await heartbeat().catch(() => undefined);
      }
    }
    stats.consumed += batch.messages.length;
    consumerMessages.add(batch.messages.length, labelsOf(batch.topic));
    consumerBatchDuration.record((performance.now() - startedAt) / 1000, labelsOf(batch.topic));
    const lastOffset = batch.messages[batch.messages.length - 1]!.offset;
    lag.processed(batch.topic, batch.partition, BigInt(lastOffset) + 1n);
    resolveOffset(lastOffset);
    await commitOffsetsIfNecessary();
    await heartbeat();
  }

  return {
    async start() {
      stopping = false;
      consumer = opts.kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout: opts.sessionTimeoutMs ?? CONSUMER_SESSION_TIMEOUT_MS,
        heartbeatInterval: HEARTBEAT_INTERVAL_MS,
        // A rebalance waits at most this long for members to rejoin; one that does not (a killed
        // process, or this consumer's own member from before a broker restart — kafkajs rejoins
        // as a new member) is dropped then, instead of when its session expires.
        rebalanceTimeout: REBALANCE_TIMEOUT_MS,
        allowAutoTopicCreation: false,
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 8 * 1024 * 1024,
        maxBytes: 4 * (opts.maxBytesPerPartition ?? 8 * 1024 * 1024),
        // A short broker wait keeps shutdown and a quiet topic's latency low.
        maxWaitTimeInMs: 1000,
      });
      // Lag is reported for the partitions this member owns, from the moment it owns them.
      consumer.on(consumer.events.GROUP_JOIN, (e) => lag.assign(e.payload.memberAssignment));
      consumer.on(consumer.events.REBALANCING, () => lag.assign({}));
      lagGauge ??= observableGauge(
        LAG_METRIC,
        {
          description:
            'Messages in the log not yet consumed by the group (high watermark − next offset), per owned partition',
          unit: '{message}',
          labels: LAG_LABELS,
        },
        async () =>
          (await lag.samples()).map(
            (s) => [s.lag, { topic: s.topic, partition: s.partition, consumer_group: opts.groupId }] as const,
          ),
      );
      lagAgeGauge ??= observableGauge(
        LAG_AGE_METRIC,
        {
          description:
            'Age of the oldest message the group has not consumed yet, over the partitions this member owns (0: none waiting)',
          unit: 's',
          labels: LAG_AGE_LABELS,
        },
        async () =>
          (await lag.ages()).map((s) => [s.ageSeconds, { topic: s.topic, consumer_group: opts.groupId }] as const),
      );
      await consumer.connect();
      await consumer.subscribe({ topics: opts.topics, fromBeginning });
      await consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 3,
        eachBatch: onBatch,
      });
    },
    async stop() {
      stopping = true;
      lagGauge?.remove();
      lagGauge = null;
      lagAgeGauge?.remove();
      lagAgeGauge = null;
      await consumer?.disconnect();
      consumer = null;
      await lag.close();
    },
    stats: () => ({ ...stats }),
  };
}
