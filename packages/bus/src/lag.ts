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

/** How old the oldest message the group has not consumed yet is, over the partitions this member owns. */
export interface LagAgeSample {
  topic: string;
  /** Seconds; 0 when nothing is waiting. */
  ageSeconds: number;
}

/** Ages beyond this are reported as this (far beyond any retention flow8 sets). */
export const MAX_LAG_AGE_MS = 400 * 24 * 3600_000;

/**
 * The age of the oldest unconsumed message of a topic, found from the broker alone: `offsetsAt(ts)`
 * is Kafka's ListOffsets by timestamp (per partition, the first offset whose timestamp is >= ts,
 * the end offset when there is none). The message at `next` is older than `now − t` exactly when
 * `offsetsAt(now − t) > next`; that is monotonic in t, so a bisection over log(t) finds the age to
 * within ~0.5 % in a dozen requests, without reading any message.
 */
export async function oldestUnconsumedAgeMs(opts: {
  now: number;
  /** Per lagging partition, the next offset the group will consume. */
  next: Map<number, bigint>;
  offsetsAt: (timestamp: number) => Promise<Map<number, bigint>>;
  steps?: number;
}): Promise<number> {
  if (opts.next.size === 0) return 0;
  const olderThan = async (ageMs: number): Promise<boolean> => {
    const at = await opts.offsetsAt(Math.floor(opts.now - ageMs));
    for (const [partition, next] of opts.next) {
      const first = at.get(partition);
      if (first !== undefined && first > next) return true;
    }
    return false;
  };
  if (await olderThan(MAX_LAG_AGE_MS)) return MAX_LAG_AGE_MS;
  if (!(await olderThan(1000))) return 0; // under a second: nothing an alert cares about
  let lo = Math.log(1000);
  let hi = Math.log(MAX_LAG_AGE_MS);
  for (let i = 0; i < (opts.steps ?? 12); i += 1) {
    const mid = (lo + hi) / 2;
    if (await olderThan(Math.exp(mid))) lo = mid;
    else hi = mid;
  }
  return Math.round(Math.exp(lo));
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
  /** The age of the oldest unconsumed message per owned topic, from the same measurement. */
  ages(): Promise<LagAgeSample[]>;
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
  /** Lag per owned partition, and per topic the next offset of each partition that lags. */
  type Measurement = { lag: LagSample[]; lagging: Map<string, Map<number, bigint>> };
  let cached: { at: number; value: Promise<Measurement> } | null = null;
  let cachedAges: { at: number; value: Promise<LagAgeSample[]> } | null = null;

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

  async function measure(): Promise<Measurement> {
    const topics = [...assigned.keys()];
    if (topics.length === 0) return { lag: [], lagging: new Map() };
    const a = await connected();
    const committed = new Map<string, bigint | null>();
    for (const t of await a.fetchOffsets({ groupId: opts.groupId, topics })) {
      for (const p of t.partitions) committed.set(key(t.topic, p.partition), offsetOrNull(p.offset));
    }
    const out: LagSample[] = [];
    const lagging = new Map<string, Map<number, bigint>>();
    for (const topic of topics) {
      const mine = new Set(assigned.get(topic));
      const behind = new Map<number, bigint>();
      lagging.set(topic, behind);
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
        if (lag > 0n) behind.set(o.partition, BigInt(o.high) - lag);
      }
    }
    return { lag: out, lagging };
  }

  async function measureAges(m: Measurement): Promise<LagAgeSample[]> {
    const a = await connected();
    const now = Date.now();
    const out: LagAgeSample[] = [];
    for (const [topic, next] of m.lagging) {
      const ageMs = await oldestUnconsumedAgeMs({
        now,
        next,
        offsetsAt: async (ts) =>
          new Map((await a.fetchTopicOffsetsByTimestamp(topic, ts)).map((p) => [p.partition, BigInt(p.offset)])),
      });
      out.push({ topic, ageSeconds: ageMs / 1000 });
    }
    return out;
  }

  function withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`consumer lag not measured within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  function measured(): Promise<Measurement> {
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
  }

  return {
    assign(assignment) {
      assigned.clear();
      for (const [topic, partitions] of Object.entries(assignment)) {
        if (partitions.length > 0) assigned.set(topic, [...partitions]);
      }
      cached = null;
      cachedAges = null;
    },
    processed(topic, partition, nextOffset) {
      processed.set(key(topic, partition), nextOffset);
    },
    samples: () => measured().then((m) => m.lag),
    ages() {
      // Separate from the lag itself (its own timeout): a slow age search never hides the lag.
      const now = Date.now();
      if (cachedAges && now - cachedAges.at < cacheMs) return cachedAges.value;
      const value = withTimeout(measured().then(measureAges)).catch((e: unknown) => {
        cachedAges = null;
        opts.logger.debug({ err: e, consumerGroup: opts.groupId }, 'consumer lag age not measured');
        throw e;
      });
      cachedAges = { at: now, value };
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
