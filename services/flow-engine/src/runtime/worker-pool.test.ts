import { createWorkerPool } from './worker-pool';

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};

test('runs at most `concurrency` tasks, queues up to `maxQueue`, refuses beyond', async () => {
  const pool = createWorkerPool({ concurrency: 2, maxQueue: 1 });
  const gates = [gate(), gate(), gate()];
  let started = 0;
  for (const g of gates) {
    const slot = pool.reserve();
    expect(slot).not.toBeNull();
    slot!.run(async () => {
      started += 1;
      await g.p;
    });
  }
  expect(started).toBe(2);
  expect(pool.stats()).toEqual({ active: 2, queued: 1, reserved: 0 });
  // Full: a fourth command is not claimed here.
  expect(pool.reserve()).toBeNull();
  gates[0]!.open();
  await new Promise((r) => setImmediate(r));
  expect(started).toBe(3);
  expect(pool.reserve()).not.toBeNull();
});

test('a released reservation frees its place; idle() resolves when all work is done', async () => {
  const pool = createWorkerPool({ concurrency: 1, maxQueue: 0 });
  const slot = pool.reserve()!;
  expect(pool.reserve()).toBeNull();
  slot.release();
  const g = gate();
  pool.reserve()!.run(() => g.p);
  let idle = false;
  const waiting = pool.idle().then(() => (idle = true));
  await new Promise((r) => setImmediate(r));
  expect(idle).toBe(false);
  g.open();
  await waiting;
  expect(pool.stats()).toEqual({ active: 0, queued: 0, reserved: 0 });
});

test('a failing task does not wedge the pool', async () => {
  const errors: unknown[] = [];
  const pool = createWorkerPool({ concurrency: 1, maxQueue: 0, onError: (e) => errors.push(e) });
  pool.reserve()!.run(() => Promise.reject(new Error('boom')));
  await pool.idle();
  expect(errors).toHaveLength(1);
  expect(pool.reserve()).not.toBeNull();
});
