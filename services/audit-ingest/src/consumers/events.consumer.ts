// Consumes every `flow8.*.events.v1` topic into the ledger. Validation and dead-lettering
// happen in @flow8/bus before this handler; here a valid batch becomes ledger rows.
import { createEventConsumer, type Kafka, type Publisher } from '@flow8/bus';
import { eventsTopicPattern } from '@flow8/contracts';
import type { Logger } from '@flow8/telemetry';
import type { IngestService } from '../features/ledger/ingest.service';

export function createLedgerConsumer(deps: {
  kafka: Kafka;
  groupId: string;
  topicPrefix: string;
  deadLetters: Publisher;
  ingest: IngestService;
  logger: Logger;
}) {
  return createEventConsumer({
    kafka: deps.kafka,
    groupId: deps.groupId,
    topics: [eventsTopicPattern(deps.topicPrefix)],
    deadLetters: deps.deadLetters,
    logger: deps.logger,
    fromBeginning: true,
    handleBatch: async (batch) => {
      await deps.ingest.ingestBatch(batch);
    },
  });
}
