// Dead-letter replay: after the cause is fixed (a database outage, a consumer bug, a contract
// deployed late), an operator re-publishes the dead-lettered events to the topic they came from.
//
// - Runs as the admin principal; reads `<topic>.dlq` with its own consumer group
//   (`<prefix>flow8.dlq-replay`), so each dead letter is replayed once: a second run continues
//   where the first stopped. Offsets are committed only after Kafka acknowledged the re-published
//   events; a crash in between replays them again, which the ledger absorbs (event-id uniqueness).
// - Re-publishes the original bytes, key and headers (plus `flow8-replayed-from` and
//   `flow8-replayed-by`), only to the events topic the dead-letter topic belongs to, and only
//   events that now pass their contract and whose type belongs to that topic's domain. Anything
//   else is reported and left (not re-published).
// - Every decision is one JSON line on the log (event id, type, positions; never the payload).
import { dlqTopic, domainOf, eventsTopic, parseEvent, DOMAINS, type DeadLetter } from '@flow8/contracts';
import type { Kafka } from 'kafkajs';
import { topicEndOffsets } from './kafka';
import { createPublisher, type OutgoingMessage } from './publisher';

export interface ReplayDecision {
  action: 'replayed' | 'would-replay' | 'skipped';
  from: string;
  to: string | null;
  eventId: string | null;
  type: string | null;
  reason?: string;
}

export interface ReplayResult {
  replayed: number;
  skipped: number;
  decisions: ReplayDecision[];
}

/** The consumer group that remembers how far dead letters were replayed. */
export const replayGroup = (prefix = '') => `${prefix}flow8.dlq-replay`;

function judge(
  dlq: string,
  prefix: string,
  raw: Buffer | null,
): { message?: OutgoingMessage; decision: Omit<ReplayDecision, 'action' | 'from'> } {
  const target = dlq.replace(/\.dlq$/, '');
  let letter: DeadLetter;
  try {
    letter = JSON.parse(raw?.toString('utf8') ?? '') as DeadLetter;
  } catch {
    return { decision: { to: null, eventId: null, type: null, reason: 'not a dead-letter record' } };
  }
  if (letter?.source?.topic !== target) {
    // A dead letter may only go back where its topic says it came from: never into another domain.
    return { decision: { to: null, eventId: null, type: null, reason: `source topic is not ${target}` } };
  }
  const value = letter.valueBase64 ? Buffer.from(letter.valueBase64, 'base64') : null;
  const parsed = parseEvent(value);
  if (!parsed.ok) {
    return { decision: { to: null, eventId: null, type: null, reason: `${parsed.reason}: ${parsed.errors[0] ?? ''}` } };
  }
  const event = parsed.value;
  if (eventsTopic(domainOf(event.type), prefix) !== target) {
    return {
      decision: { to: null, eventId: event.id, type: event.type, reason: `event type does not belong to ${target}` },
    };
  }
  return {
    message: { topic: target, key: letter.key ?? event.tenantId, value: value!, headers: { ...letter.headers } },
    decision: { to: target, eventId: event.id, type: event.type },
  };
}

/**
 * Replays what is on the dead-letter topics now (up to their end offsets when the run starts).
 * `topics`: the events topics whose dead letters to replay (default: every domain's).
 */
export async function replayDeadLetters(
  kafka: Kafka,
  opts: { prefix?: string; topics?: string[]; actor: string; dryRun?: boolean; log?: (d: ReplayDecision) => void },
): Promise<ReplayResult> {
  const prefix = opts.prefix ?? '';
  const sources = opts.topics ?? DOMAINS.map((d) => eventsTopic(d, prefix));
  const result: ReplayResult = { replayed: 0, skipped: 0, decisions: [] };
  const record = (d: ReplayDecision) => {
    result.decisions.push(d);
    if (d.action === 'skipped') result.skipped += 1;
    else result.replayed += 1;
    opts.log?.(d);
  };
  const publisher = opts.dryRun ? null : createPublisher(kafka);
  try {
    for (const source of sources) {
      const dlq = dlqTopic(source);
      const ends = await topicEndOffsets(kafka, dlq);
      // Where the replay group stands; a partition with nothing beyond it is done.
      const admin = kafka.admin();
      await admin.connect();
      const [committed] = await admin
        .fetchOffsets({ groupId: replayGroup(prefix), topics: [dlq] })
        .finally(() => admin.disconnect());
      const start = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      const pending = [...ends].filter(([p, end]) => end > ((start.get(p) ?? -1n) < 0n ? 0n : start.get(p)!));
      if (pending.length === 0) continue;
      const todo = new Map(pending);
      const consumer = kafka.consumer({
        groupId: replayGroup(prefix),
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 500,
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [dlq], fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
          consumer
            .run({
              autoCommit: false,
              eachBatchAutoResolve: false,
              eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
                const end = todo.get(batch.partition);
                const messages = batch.messages.filter((m) => end !== undefined && BigInt(m.offset) < end);
                const out: OutgoingMessage[] = [];
                const decisions: ReplayDecision[] = [];
                for (const m of messages) {
                  const from = `${dlq}/${batch.partition}/${m.offset}`;
                  const { message, decision } = judge(dlq, prefix, m.value);
                  if (message) {
                    message.headers['flow8-replayed-from'] = from;
                    message.headers['flow8-replayed-by'] = opts.actor;
                    out.push(message);
                    decisions.push({ action: opts.dryRun ? 'would-replay' : 'replayed', from, ...decision });
                  } else {
                    decisions.push({ action: 'skipped', from, ...decision });
                  }
                }
                if (publisher && out.length > 0) await publisher.publish(out);
                decisions.forEach(record);
                const last = messages[messages.length - 1];
                if (last && !opts.dryRun) {
                  resolveOffset(last.offset);
                  await consumer.commitOffsets([
                    { topic: dlq, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) },
                  ]);
                }
                if (end !== undefined && last && BigInt(last.offset) + 1n >= end) todo.delete(batch.partition);
                await heartbeat();
                if (todo.size === 0) resolve();
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
    }
  } finally {
    await publisher?.disconnect().catch(() => undefined);
  }
  return result;
}
