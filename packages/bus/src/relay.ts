// Publishes outbox rows to Kafka in id order and marks them sent.
//
// Order per tenant: one relay per database is active at a time (a session advisory lock), it
// takes the oldest unsent rows, and marks nothing sent unless Kafka acknowledged the whole
// batch. Kafka down: the batch is retried with backoff and the rows wait. A crash between
// publish and mark re-publishes the batch on restart: consumers fence duplicates by event id.
import type pg from 'pg';
import { observableGauge, type GaugeRegistration, type Logger } from '@flow8/telemetry';
import { outboxPublished, outboxPublishFailures } from './metrics';
import type { OutgoingMessage, Publisher } from './publisher';

export interface RelayOptions {
  pool: pg.Pool;
  publisher: Publisher;
  logger: Logger;
  batchSize?: number;
  /** Polling is the source of truth; NOTIFY only shortens the wait. */
  pollIntervalMs?: number;
  /**
   * Ceiling of the retry backoff while Kafka is down (default 2 s). It bounds how late the
   * outbox notices the broker is back: a failed attempt costs one indexed SELECT and a refused
   * connection, so a short ceiling is cheap.
   */
  maxBackoffMs?: number;
  /** Sent rows are kept this long for inspection, then deleted. */
  retainSentMs?: number;
  lockKey?: number;
}

export interface RelayStats {
  published: number;
  failures: number;
  backlog: number;
  leader: boolean;
  lastError: string | null;
}

export interface OutboxRelay {
  start(): void;
  stop(): Promise<void>;
  /** Publishes everything pending now (tests, shutdown). Returns how many rows were sent. */
  drain(): Promise<number>;
  stats(): RelayStats;
}

const DEFAULT_LOCK_KEY = 0x6f757462; // 'outb'
export const DEFAULT_MAX_BACKOFF_MS = 2_000;

interface Row {
  id: string;
  tenant_id: string;
  message_key: string | null;
  topic: string;
  value: Buffer;
  headers: Record<string, string>;
}

export function createOutboxRelay(opts: RelayOptions): OutboxRelay {
  const batchSize = opts.batchSize ?? 500;
  const pollMs = opts.pollIntervalMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const retainMs = opts.retainSentMs ?? 24 * 3600_000;
  const lockKey = opts.lockKey ?? DEFAULT_LOCK_KEY;
  const stats: RelayStats = { published: 0, failures: 0, backlog: 0, leader: false, lastError: null };

  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let leaderClient: pg.PoolClient | null = null;
  /** Gives the leader's connection back to the pool (with the error that broke it, if any). */
  let releaseLeader: ((err?: Error) => void) | null = null;
  let lastCleanup = 0;
  /** When the oldest unsent row was written (null: none), as of the last backlog count. */
  let oldestUnsentAt: number | null = null;
  let lastSuccessAt: number | null = null;
  let gauges: GaugeRegistration[] = [];

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function publishBatch(): Promise<number> {
    const { rows } = await opts.pool.query<Row>(
      `SELECT id, tenant_id, message_key, topic, value, headers FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1`,
      [batchSize],
    );
    if (rows.length === 0) return 0;
    const messages: OutgoingMessage[] = rows.map((r) => ({
      topic: r.topic,
      key: r.message_key ?? r.tenant_id,
      value: r.value,
      headers: r.headers,
    }));
    await opts.publisher.publish(messages);
    await opts.pool.query(`UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
    stats.published += rows.length;
    const perTopic = new Map<string, number>();
    for (const r of rows) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
    for (const [topic, n] of perTopic) outboxPublished.add(n, { topic });
    return rows.length;
  }

  async function drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await publishBatch();
      total += n;
      if (n < batchSize) return total;
    }
  }

  async function acquireLeadership(): Promise<boolean> {
    if (leaderClient) return true;
    const client = await opts.pool.connect();
    // Until released, the pool does not listen for this client's errors: a dropped connection
    // (the database restarting) must neither crash the process nor keep the client checked out
    // forever (the pool would shrink by one per restart, and pool.end() would never finish).
    let released = false;
    const drop = (err?: Error) => {
      if (leaderClient === client) {
        leaderClient = null;
        releaseLeader = null;
        stats.leader = false;
      }
      if (!released) {
        released = true;
        client.off('error', drop);
        client.release(err);
      }
    };
    client.on('error', drop);
    let rows: Array<{ ok: boolean }>;
    try {
      ({ rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey]));
    } catch (e) {
      drop(e as Error);
      throw e;
    }
    if (!rows[0]?.ok) {
      drop();
      return false;
    }
    // The leader listens for inserts; losing this connection loses the lock, so re-elect.
    client.on('notification', () => wake?.());
    try {
      await client.query('LISTEN flow8_outbox');
    } catch (e) {
      drop(e as Error);
      throw e;
    }
    leaderClient = client;
    releaseLeader = drop;
    stats.leader = true;
    return true;
  }

  /** Counts what is waiting; also after a failed attempt, so the backlog shows an outage growing. */
  async function countBacklog(): Promise<void> {
    const { rows } = await opts.pool.query<{ n: string; oldest: Date | null }>(
      'SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE sent_at IS NULL',
    );
    stats.backlog = Number(rows[0]?.n ?? 0);
    oldestUnsentAt = rows[0]?.oldest ? rows[0].oldest.getTime() : null;
  }

  function registerGauges(): GaugeRegistration[] {
    // Backlog and age come from the leader only: every replica reading the same table would
    // report the same rows once per replica.
    const leaderOnly = (value: () => number) => () => (stats.leader ? [[value()] as const] : []);
    return [
      observableGauge(
        'flow8_outbox_backlog',
        { description: 'Outbox rows not yet published to Kafka (reported by the relay leader)', unit: '{event}' },
        leaderOnly(() => stats.backlog),
      ),
      observableGauge(
        'flow8_outbox_oldest_unsent_age_seconds',
        {
          description: 'Age of the oldest outbox row not yet published, 0 when none (reported by the relay leader)',
          unit: 's',
        },
        leaderOnly(() => (oldestUnsentAt === null ? 0 : Math.max(0, (Date.now() - oldestUnsentAt) / 1000))),
      ),
      observableGauge(
        'flow8_outbox_relay_leader',
        { description: '1 if this replica holds the relay lock and publishes, else 0' },
        () => [[stats.leader ? 1 : 0]],
      ),
      observableGauge(
        'flow8_outbox_relay_error',
        { description: "1 while the relay's last attempt failed (the reason is in the log), else 0" },
        () => [[stats.lastError === null ? 0 : 1]],
      ),
      observableGauge(
        'flow8_outbox_relay_last_success_timestamp_seconds',
        { description: 'Unix time of the last successful relay pass', unit: 's' },
        () => (lastSuccessAt === null ? [] : [[lastSuccessAt / 1000]]),
      ),
    ];
  }

  async function cleanup(): Promise<void> {
    if (Date.now() - lastCleanup < 60_000) return;
    lastCleanup = Date.now();
    await opts.pool.query(`DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => $1)`, [retainMs / 1000]);
  }

  async function run(): Promise<void> {
    let backoff = 200;
    while (running) {
      try {
        if (!(await acquireLeadership())) {
          await sleep(pollMs * 5);
          continue;
        }
        const n = await drain();
        await countBacklog();
        if (n > 0) opts.logger.debug({ published: n, backlog: stats.backlog }, 'outbox relay published');
        await cleanup();
        backoff = 200;
        stats.lastError = null;
        lastSuccessAt = Date.now();
        if (stats.backlog === 0) await sleep(pollMs);
      } catch (e) {
        stats.failures += 1;
        stats.lastError = (e as Error).message;
        outboxPublishFailures.add(1);
        if (stats.leader) await countBacklog().catch(() => undefined);
        opts.logger.warn({ err: e, retryInMs: backoff }, 'outbox relay could not publish; events stay in the outbox');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      gauges = registerGauges();
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      loop = null;
      for (const g of gauges) g.remove();
      gauges = [];
      if (leaderClient) {
        await leaderClient.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
        releaseLeader?.();
        leaderClient = null;
        stats.leader = false;
      }
    },
    drain,
    stats: () => ({ ...stats }),
  };
}
