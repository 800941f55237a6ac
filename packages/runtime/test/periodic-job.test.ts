// periodicJob against a real Postgres: a leader job runs on one replica only, and another
// replica takes over when the leader stops or its connection dies.
import { createPool, type Pool } from '@flow8/db';
import { eventually, freshDatabase, stackEnv, type TestDatabase } from '../../testkit/src/index';
import { periodicJob, type PeriodicJob } from '../src/periodic-job';

let db: TestDatabase;
const extra: Pool[] = [];
const jobs: PeriodicJob[] = [];

beforeAll(async () => {
  db = await freshDatabase('FLOW', []);
});
afterEach(async () => {
  await Promise.all(jobs.splice(0).map((j) => j.stop()));
});
afterAll(async () => {
  await Promise.all(extra.map((p) => p.end()));
  await db.drop();
});

function replicaPool(): Pool {
  const p = createPool({ url: db.appUrl, caFile: stackEnv().caFile, max: 3 });
  extra.push(p);
  return p;
}

function job(name: string, pool: Pool, runs: string[], replica: string): PeriodicJob {
  const j = periodicJob({
    name,
    everyMs: 20,
    leader: { pool },
    run: async () => {
      runs.push(replica);
    },
  });
  jobs.push(j);
  return j;
}

test('a leader job runs on exactly one of two replicas', async () => {
  const runs: string[] = [];
  const a = job('sign-checkpoints', replicaPool(), runs, 'a');
  const b = job('sign-checkpoints', replicaPool(), runs, 'b');
  a.start();
  await eventually(async () => runs.length >= 1, { intervalMs: 10 });
  b.start();
  await eventually(async () => runs.length >= 10, { intervalMs: 10 });
  expect(new Set(runs)).toEqual(new Set(['a']));
  expect(a.isLeader()).toBe(true);
  expect(b.isLeader()).toBe(false);
});

test('another replica takes over when the leader stops', async () => {
  const runs: string[] = [];
  const a = job('rotate', replicaPool(), runs, 'a');
  const b = job('rotate', replicaPool(), runs, 'b');
  a.start();
  await eventually(async () => a.isLeader(), { intervalMs: 10 });
  b.start();
  await a.stop();
  await eventually(async () => runs.includes('b'), { intervalMs: 10 });
  expect(b.isLeader()).toBe(true);
});

test("another replica takes over when the leader's connection is killed", async () => {
  const runs: string[] = [];
  const a = job('sweep', replicaPool(), runs, 'a');
  const b = job('sweep', replicaPool(), runs, 'b');
  a.start();
  await eventually(async () => a.isLeader(), { intervalMs: 10 });
  b.start();
  // The database drops the leader's session (a crash, a network cut): its lock goes with it.
  await db.admin.query(
    `SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  await eventually(async () => runs.includes('b'), { intervalMs: 10 });
  expect(b.isLeader()).toBe(true);
});

test('jobs with different names lead independently; a job without leader runs everywhere', async () => {
  const runs: string[] = [];
  const pool = replicaPool();
  job('x', pool, runs, 'x').start();
  job('y', pool, runs, 'y').start();
  const everywhere = periodicJob({ name: 'z', everyMs: 20, run: async () => void runs.push('z') });
  jobs.push(everywhere);
  everywhere.start();
  await eventually(async () => ['x', 'y', 'z'].every((r) => runs.includes(r)), { intervalMs: 10 });
});

test('stop aborts a run in progress and waits for it', async () => {
  let aborted = false;
  let started = false;
  const j = periodicJob({
    name: 'long',
    everyMs: 1000,
    run: (signal) =>
      new Promise<void>((resolve) => {
        started = true;
        signal.addEventListener('abort', () => {
          aborted = true;
          resolve();
        });
      }),
  });
  j.start();
  await eventually(async () => started, { intervalMs: 10 });
  await j.stop();
  expect(aborted).toBe(true);
});

test('kicks during a run cost one extra run, not one each; idle waits for both', async () => {
  let runs = 0;
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const j = periodicJob({
    name: 'kick',
    everyMs: 3_600_000,
    runAtStart: false,
    run: async () => {
      runs += 1;
      if (runs === 1) await gate;
    },
  });
  jobs.push(j);
  void j.runNow();
  const kicks = [j.runNow(), j.runNow(), j.runNow()];
  const idle = j.idle();
  release();
  await idle;
  expect(runs).toBe(2);
  await Promise.all(kicks);
  expect(runs).toBe(2);
});
