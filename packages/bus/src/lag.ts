// Consumer lag: per partition this replica owns, how many messages are in the log beyond what the
// group has consumed (high watermark − next offset to consume). Measured from the broker at
// collection time — not from the last fetched batch — so a consumer stuck on a failing handler
// shows its lag growing while producers keep writing.
//
// Each replica reports only the partitions assigned to it, so summing over replicas never counts
// a partition twice.
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '@flow8/telemetry';

export interface LagSample {
  topic: string;
  partition: number;
  lag: number;
}

/**
 * The lag of one partition. `committed` is the group's committed offset (null when none),
 * `processed` the next offset after the last batch this process handled (it may be ahead of the
 * commit by a moment). A group without any offset starts at the log start (fromBeginning) or the
 * end; nothing below `low` can be consumed any more (retention removed it).
 */
export function partitionLag(p: {
  high: bigint;
  low: bigint;
  committed: bigint | null;
  processed: bigint | null;
  fromBeginning: boolean;
}): bigint {
  let next = p.committed;
  if (p.processed !== null && (next === null || p.processed > next)) next = p.processed;
  if (next === null) next = p.fromBeginning ? p.low : p.high;
  if (next < p.low) next = p.low;
  const lag = p.high - next;
  return lag > 0n ? lag : 0n;
}

export interface LagMonitor {
  /** The partitions assigned to this member (kafkajs GROUP_JOIN); empty while rebalancing. */
  assign(assignment: Record<string, number[]>): void;
  /** After a batch: the next offset this process will consume on that partition. */
  processed(topic: string, partition: number, nextOffset: bigint): void;
  /** Asks the broker; rejects on timeout or error (the gauge then reports nothing). */
  samples(): Promise<LagSample[]>;
  close(): Promise<void>;
}

const offsetOrNull = (offset: string): bigint | null => {
  const n = BigInt(offset);
  return n < 0n ? null : n;
};

export function createLagMonitor(opts: {
  kafka: Kafka;
  groupId: string;
  fromBeginning: boolean;
  logger: Logger;
  /** A collection never waits longer than this for the broker. Default 5 s. */
  timeoutMs?: number;
  /** Collections closer together than this share one answer. Default 2 s. */
  cacheMs?: number;
}): LagMonitor {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const cacheMs = opts.cacheMs ?? 2000;
  const assigned = new Map<string, number[]>();
  const processed = new Map<string, bigint>();
  const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  let admin: Admin | null = null;
  let connecting: Promise<Admin> | null = null;
  let cached: { at: number; value: Promise<LagSample[]> } | null = null;

  function connected(): Promise<Admin> {
    if (admin) return Promise.resolve(admin);
    connecting ??= (async () => {
      const a = opts.kafka.admin();
      try {
        await a.connect();
      } catch (e) {
        connecting = null;
        throw e;
      }
      admin = a;
      connecting = null;
      return a;
    })();
    return connecting;
  }

  async function measure(): Promise<LagSample[]> {
    const topics = [...assigned.keys()];
    if (topics.length === 0) return [];
    const a = await connected();
    const committed = new Map<string, bigint | null>();
    for (const t of await a.fetchOffsets({ groupId: opts.groupId, topics })) {
      for (const p of t.partitions) committed.set(key(t.topic, p.partition), offsetOrNull(p.offset));
    }
    const out: LagSample[] = [];
    for (const topic of topics) {
      const mine = new Set(assigned.get(topic));
      for (const o of await a.fetchTopicOffsets(topic)) {
        if (!mine.has(o.partition)) continue;
        const k = key(topic, o.partition);
        const lag = partitionLag({
          high: BigInt(o.high),
          low: BigInt(o.low),
          committed: committed.get(k) ?? null,
          processed: processed.get(k) ?? null,
          fromBeginning: opts.fromBeginning,
        });
        out.push({ topic, partition: o.partition, lag: Number(lag) });
      }
    }
    return out;
  }

  function withTimeout(p: Promise<LagSample[]>): Promise<LagSample[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`consumer lag not measured within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  return {
    assign(assignment) {
      assigned.clear();
      for (const [topic, partitions] of Object.entries(assignment)) {
        if (partitions.length > 0) assigned.set(topic, [...partitions]);
      }
      cached = null;
    },
    processed(topic, partition, nextOffset) {
      processed.set(key(topic, partition), nextOffset);
    },
    samples() {
      const now = Date.now();
      if (cached && now - cached.at < cacheMs) return cached.value;
      const value = withTimeout(measure()).catch((e: unknown) => {
        // A broken admin connection is rebuilt at the next collection.
        const a = admin;
        admin = null;
        void a?.disconnect().catch(() => undefined);
        cached = null;
        opts.logger.debug({ err: e, consumerGroup: opts.groupId }, 'consumer lag not measured');
        throw e;
      });
      cached = { at: now, value };
      return value;
    },
    async close() {
      assigned.clear();
      processed.clear();
      cached = null;
      const a = admin ?? (connecting ? await connecting.catch(() => null) : null);
      admin = null;
      await a?.disconnect().catch(() => undefined);
    },
  };
}
