export { createKafka, topicEndOffsets, type Kafka, type KafkaOptions } from './kafka';
export { createPublisher, type Publisher, type OutgoingMessage } from './publisher';
export { createOutbox, type EventInput, type Outbox, type OutboxCommand } from './outbox';
export { createOutboxRelay, type OutboxRelay, type RelayOptions, type RelayStats } from './relay';
export {
  createEventConsumer,
  deadLetterRecord,
  type EventConsumer,
  type EventConsumerOptions,
  type PartitionBatch,
  type ConsumedEvent,
} from './consumer';

import { fileURLToPath } from 'node:url';
/** The bus's own migrations (the outbox table), applied by every service that publishes. */
export const OUTBOX_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
export {
  ADMIN_PRINCIPAL,
  BUS_ROLES,
  COMMAND_DOMAINS,
  COMMANDS_RETENTION_DAYS,
  EVENTS_RETENTION_DAYS,
  busAcls,
  busTopics,
  eventsRetentionMs,
  provisionBus,
  requireTopics,
  topicConfig,
  topicsOf,
  type BusRole,
  type ProvisionResult,
} from './topology';
export { replayDeadLetters, replayGroup, type ReplayDecision, type ReplayResult } from './replay';
export { oldestUnconsumedAgeMs, createLagMonitor, type LagAgeSample } from './lag';
