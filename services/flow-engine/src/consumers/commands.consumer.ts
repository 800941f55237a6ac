// Reads flow8.flow.commands.v1 with the engine's group. Per message: validate (invalid → the
// dead-letter topic with the reason), then one short transaction (inbox dedupe + claim) and the
// hand-off to the worker pool — never the step's work, so the handler returns in milliseconds,
// heartbeats flow, and a slow step never costs the group its member or stalls a partition.
// Offsets are committed by kafkajs after each handled message; the inbox, not the offset, is what
// makes a redelivery harmless.
import { deadLetterRecord, type Kafka, type Publisher } from '@flow8/bus';
import { commandsTopic, dlqTopic } from '@flow8/contracts';
import type { Logger } from '@flow8/telemetry';
import type { Consumer } from 'kafkajs';
import { parseCommand, type RunStepCommand } from '../features/executions/commands';

const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
const REBALANCE_TIMEOUT_MS = 3_000;
const HANDLER_ATTEMPTS = 5;

export function createCommandsConsumer(deps: {
  kafka: Kafka;
  groupId: string;
  topicPrefix: string;
  deadLetters: Publisher;
  handle: (cmd: RunStepCommand) => Promise<unknown>;
  logger: Logger;
}) {
  const topic = commandsTopic('flow', deps.topicPrefix);
  let consumer: Consumer | null = null;
  let assigned = 0;
  const stats = { consumed: 0, deadLettered: 0 };

  async function deadLetter(
    partition: number,
    message: Parameters<typeof deadLetterRecord>[0]['message'],
    reason: 'MALFORMED_JSON' | 'CONTRACT_VIOLATION' | 'PROCESSING_FAILED',
    errors: string[],
  ) {
    const d = deadLetterRecord({ topic, partition, message, reason, errors, groupId: deps.groupId });
    await deps.deadLetters.publish([
      {
        topic: dlqTopic(topic),
        key: d.key ?? '',
        value: Buffer.from(JSON.stringify(d)),
        headers: { 'content-type': 'application/json', 'flow8-dlq-reason': reason },
      },
    ]);
    stats.deadLettered += 1;
    deps.logger.warn({ topic, partition, offset: message.offset, reason, errors }, 'command dead-lettered');
  }

  return {
    async start() {
      consumer = deps.kafka.consumer({
        groupId: deps.groupId,
        sessionTimeout: SESSION_TIMEOUT_MS,
        heartbeatInterval: HEARTBEAT_INTERVAL_MS,
        rebalanceTimeout: REBALANCE_TIMEOUT_MS,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 500,
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        assigned = Object.values(e.payload.memberAssignment).reduce((n, ps) => n + ps.length, 0);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 3,
        eachMessage: async ({ partition, message }) => {
          stats.consumed += 1;
          const parsed = parseCommand(message.value);
          if (!parsed.ok) {
            await deadLetter(partition, message, parsed.reason, parsed.errors);
            return;
          }
          // A short transaction; the database down gets a few quick retries, then the command goes
          // to the dead-letter topic (the step stays `scheduled`: the unclaimed-step sweep
          // issues it again once the database is back). A poison message never stalls the partition.
          for (let attempt = 1; ; attempt += 1) {
            try {
              await deps.handle(parsed.command);
              return;
            } catch (e) {
              if (attempt >= HANDLER_ATTEMPTS) {
                await deadLetter(partition, message, 'PROCESSING_FAILED', [(e as Error).message.slice(0, 200)]);
                return;
              }
              await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
            }
          }
        },
      });
    },
    /** Partitions this member owns now (0 until it joined the group). */
    assignedPartitions: () => assigned,
    stats: () => ({ ...stats }),
    async stop() {
      await consumer?.disconnect();
      consumer = null;
    },
  };
}
