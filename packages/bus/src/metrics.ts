// The bus's metrics: what an SRE watches to know events are flowing — consumed, dead-lettered,
// failing, lagging; published from the outbox, or piling up in it. Labels are topics, consumer
// groups, partitions and closed reason codes only; never a key (the key is a tenant id).
import { counter, histogram } from '@flow8/telemetry';

export const consumerMessages = counter('flow8_consumer_messages', {
  description: 'Messages a consumer finished with (handled, or dead-lettered), by topic and consumer group',
  unit: '{message}',
  labels: ['topic', 'consumer_group'],
});

export const consumerDeadLetters = counter('flow8_consumer_dead_letters', {
  description: 'Messages sent to the dead-letter topic, by source topic, consumer group and reason',
  unit: '{message}',
  labels: ['topic', 'consumer_group', 'reason'],
});

export const consumerHandlerFailures = counter('flow8_consumer_handler_failures', {
  description: 'Failed attempts to handle a batch (each is retried with backoff), by topic and consumer group',
  unit: '{attempt}',
  labels: ['topic', 'consumer_group'],
});

export const consumerBatchDuration = histogram('flow8_consumer_batch_duration_seconds', {
  description: 'Time to handle one partition batch, retries included, in seconds',
  unit: 's',
  labels: ['topic', 'consumer_group'],
});

export const LAG_METRIC = 'flow8_consumer_lag';
export const LAG_LABELS = ['topic', 'partition', 'consumer_group'] as const;
/** Alert on this well before a topic's retention (docs/operations.md): it is how long events have waited. */
export const LAG_AGE_METRIC = 'flow8_consumer_lag_age_seconds';
export const LAG_AGE_LABELS = ['topic', 'consumer_group'] as const;

export const outboxPublished = counter('flow8_outbox_published', {
  description: 'Outbox rows published to Kafka and marked sent, by topic',
  unit: '{event}',
  labels: ['topic'],
});

export const outboxPublishFailures = counter('flow8_outbox_publish_failures', {
  description: 'Relay attempts that failed (Kafka or Postgres unreachable); the events stay in the outbox',
  unit: '{attempt}',
});
