// "Nothing left in flight": the condition a test waits on before it counts what arrived (a
// duplicate would have had every chance to show up), instead of sleeping and hoping.
import type { Kafka } from '@flow8/bus';
import type { Pool } from '@flow8/db';
import { adminKafka } from './kafka';
import { eventually } from './wait';

export interface QuiescenceOptions {
  /** Pools that can read a producing service's `outbox` (e.g. its test database's `admin`). */
  pools?: Pool[];
  /** Consumer groups that must have consumed every message of their topics. */
  groups?: Array<{ groupId: string; topics: string[] }>;
  /** A client allowed to describe those groups; default the admin principal's. */
  kafka?: Kafka;
  timeoutMs?: number;
}

/** Rows of each outbox not yet published (the relay's backlog). */
export async function outboxBacklog(pools: Pool[]): Promise<number> {
  let n = 0;
  for (const pool of pools) {
    const r = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL');
    n += r.rows[0]?.n ?? 0;
  }
  return n;
}

/**
 * Messages in each group's topics beyond the offset the group has committed (a group that has
 * committed nothing on a partition lags by everything still in it). The ledger and every service
 * consumer commit only after their handler's transaction, so lag 0 means all of it was handled.
 */
export async function consumerLag(kafka: Kafka, groups: Array<{ groupId: string; topics: string[] }>): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let lag = 0n;
    for (const { groupId, topics } of groups) {
      const committed = new Map<string, bigint>();
      for (const t of await admin.fetchOffsets({ groupId, topics })) {
        for (const p of t.partitions) committed.set(`${t.topic}:${p.partition}`, BigInt(p.offset));
      }
      for (const topic of topics) {
        for (const o of await admin.fetchTopicOffsets(topic)) {
          const low = BigInt(o.low);
          const at = committed.get(`${topic}:${o.partition}`) ?? -1n;
          const next = at < low ? low : at;
          const behind = BigInt(o.high) - next;
          if (behind > 0n) lag += behind;
        }
      }
    }
    return Number(lag);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until every outbox in `pools` is published (backlog 0) and then every group has consumed
 * all of its topics (lag 0). Checked in that order in one round, so a message the relay sends
 * late is inside the high watermark the lag is measured against.
 */
export async function waitForQuiescence(opts: QuiescenceOptions): Promise<void> {
  const kafka = opts.kafka ?? (opts.groups?.length ? adminKafka('testkit-quiescence') : undefined);
  await eventually(
    async () => {
      // Throwing keeps the state for the timeout's message ("last: …").
      const backlog = await outboxBacklog(opts.pools ?? []);
      if (backlog > 0) throw new Error(`outbox backlog ${backlog}`);
      const lag = kafka && opts.groups ? await consumerLag(kafka, opts.groups) : 0;
      if (lag > 0) throw new Error(`outbox backlog 0, consumer lag ${lag}`);
      return true;
    },
    { what: 'outbox backlog 0 and consumer lag 0', timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 100 },
  );
}
