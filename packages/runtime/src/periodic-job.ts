// The one way a flow8 service runs something on a timer: checkpoint signing, re-encryption
// batches, partition upkeep, refreshes, timer sweeps. One loop shape, one set of metrics, one
// shutdown path — and, where a job must run on one replica only, one leader lock.
//
// Leadership is a Postgres session advisory lock held on a dedicated connection: the replica
// holding it runs the job; when that process dies or its connection drops, Postgres releases the
// lock and another replica takes it on its next tick. No lease table, no clock agreement needed.
import type { Pool, PoolClient } from '@flow8/db';
import { counter, histogram, observableGauge, type GaugeRegistration, type Logger } from '@flow8/telemetry';

const jobRuns = counter('flow8_job_runs', {
  description: 'Runs of a periodic job, by job and outcome (ok, failed, skipped_not_leader)',
  unit: '{run}',
  labels: ['job', 'outcome'],
});
const jobDuration = histogram('flow8_job_duration_seconds', {
  description: 'Time one run of a periodic job took, in seconds',
  unit: 's',
  labels: ['job'],
});

export interface PeriodicJobOptions {
  /** Stable name: metric label, log field and (for leader jobs) the advisory-lock key. */
  name: string;
  /** Time between the end of one run and the start of the next. */
  everyMs: number;
  /** The work. It should honour `signal` (aborted on stop) in long loops. */
  run: (signal: AbortSignal) => Promise<void>;
  /**
   * Run on one replica only: the one holding a Postgres advisory lock keyed by `name` on this
   * pool's database. Omit for work every replica does (e.g. a `FOR UPDATE SKIP LOCKED` sweep).
   */
  leader?: { pool: Pool };
  /** Run once right after start (default true). */
  runAtStart?: boolean;
  /** Spread replicas: each wait is everyMs × (1 ± jitter). Default 0.1. */
  jitter?: number;
  logger?: Logger;
  /** For tests: the random source of the jitter. */
  random?: () => number;
}

export interface PeriodicJob {
  readonly name: string;
  start(): void;
  /** Stops the timer, aborts and awaits a run in progress, releases the leader lock. */
  stop(): Promise<void>;
  /**
   * Runs once now (after the current run, if one is in progress); resolves when done. Calls made
   * while a run is already waiting share that run (a burst of kicks costs one extra run).
   */
  runNow(): Promise<void>;
  /** Resolves once no run is in progress or waiting (tests, graceful hand-over). */
  idle(): Promise<void>;
  /** True while this replica holds the leader lock (always true for jobs without `leader`). */
  isLeader(): boolean;
}

export function periodicJob(opts: PeriodicJobOptions): PeriodicJob {
  const jitter = opts.jitter ?? 0.1;
  const random = opts.random ?? Math.random;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let stopped = false;
  let started = false;
  let lockClient: PoolClient | null = null;
  let lastSuccess = 0;

  let gauges: GaugeRegistration[] = [];
  const isLeader = (): boolean => (opts.leader ? lockClient !== null : true);

  async function dropLock(): Promise<void> {
    const c = lockClient;
    lockClient = null;
    if (!c) return;
    try {
      await c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`flow8.job.${opts.name}`]);
      c.release();
    } catch (e) {
      c.release(e instanceof Error ? e : true);
    }
  }

  /** Holds (or takes) the leader lock; false when another replica holds it. */
  async function lead(pool: Pool): Promise<boolean> {
    if (lockClient) {
      try {
        // The connection still holds the lock as long as it is alive.
        await lockClient.query('SELECT 1');
        return true;
      } catch (e) {
        opts.logger?.warn({ job: opts.name, err: e }, 'periodic job lost its leader connection');
        const c = lockClient;
        lockClient = null;
        c.release(true);
      }
    }
    const c = await pool.connect();
    try {
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [
        `flow8.job.${opts.name}`,
      ]);
      if (r.rows[0]?.ok) {
        lockClient = c;
        c.on('error', () => undefined);
        opts.logger?.info({ job: opts.name }, 'periodic job: this replica is the leader');
        return true;
      }
      c.release();
      return false;
    } catch (e) {
      c.release(true);
      throw e;
    }
  }

  async function once(): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      if (opts.leader && !(await lead(opts.leader.pool))) {
        jobRuns.add(1, { job: opts.name, outcome: 'skipped_not_leader' });
        return;
      }
      await opts.run(abort.signal);
      lastSuccess = Date.now();
      jobRuns.add(1, { job: opts.name, outcome: 'ok' });
    } catch (e) {
      jobRuns.add(1, { job: opts.name, outcome: 'failed' });
      if (!abort.signal.aborted) opts.logger?.error({ job: opts.name, err: e }, 'periodic job run failed');
    } finally {
      jobDuration.record(Number(process.hrtime.bigint() - started) / 1e9, { job: opts.name });
    }
  }

  function schedule(): void {
    if (stopped) return;
    const wait = Math.max(0, opts.everyMs * (1 + jitter * (2 * random() - 1)));
    timer = setTimeout(() => void tick(), wait);
    timer.unref();
  }

  async function tick(): Promise<void> {
    timer = null;
    await runNow();
    schedule();
  }

  function startRun(): Promise<void> {
    if (stopped) return Promise.resolve();
    const run = once().finally(() => {
      running = null;
    });
    running = run;
    return run;
  }

  function runNow(): Promise<void> {
    if (queued) return queued;
    if (!running) return startRun();
    // One run waits behind the current one; every call meanwhile shares it.
    const waiting = (async () => {
      while (running !== null) await running;
      queued = null;
      await startRun();
    })();
    queued = waiting;
    return waiting;
  }

  async function idle(): Promise<void> {
    for (let p = queued ?? running; p !== null; p = queued ?? running) await p;
  }

  return {
    name: opts.name,
    start() {
      if (started) return;
      started = true;
      gauges = [
        observableGauge(
          'flow8_job_leader',
          {
            description: '1 where this replica runs the periodic job (holds its leader lock), else 0',
            labels: ['job'],
          },
          () => [[isLeader() ? 1 : 0, { job: opts.name }]],
        ),
        observableGauge(
          'flow8_job_last_success_timestamp_seconds',
          {
            description: 'Unix time of the last successful run of a periodic job here (0: none yet)',
            unit: 's',
            labels: ['job'],
          },
          () => [[lastSuccess / 1000, { job: opts.name }]],
        ),
      ];
      if (opts.runAtStart ?? true) void tick();
      else schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      abort.abort();
      if (running) await running;
      await dropLock();
      for (const g of gauges) g.remove();
      gauges = [];
    },
    runNow,
    idle,
    isLeader,
  };
}
