// The durable core walks the graph with the pure planner: a join waits for every live
// predecessor (a skipped one does not hold it), a foreach fans out no wider than its concurrency
// and collects results in item order, and `delay.until` waits on the clock. Real stack.
import { newId, type Actor } from '@flow8/contracts';
import { eventually, uniqueTopicPrefix, type TestDatabase } from '@flow8/testkit';
import type { Operation } from '../src/features/connectors/operation';
import type { FlowDefinition, Json } from '../src/features/flows/definition/types';
import { ManualClock } from '../src/runtime/clock';
import type { FlowEngine } from '../src/service';
import { flow, flowDb, startEngine } from './harness';

const tenant = newId('ten');
const actor: Actor = { type: 'user', id: newId('usr'), ip: '192.0.2.7' };
const clock = new ManualClock(Date.now());
let db: TestDatabase;
let engine: FlowEngine;

// A gate: calls block until released; the test sees how many are in flight.
const gate = { started: 0, inFlight: 0, waiting: [] as (() => void)[] };
const release = () => gate.waiting.splice(0).forEach((r) => r());
const operations: Operation[] = [
  {
    id: 'test.gate',
    idempotent: true,
    run: async ({ input }) => {
      gate.started += 1;
      gate.inFlight += 1;
      await new Promise<void>((r) => gate.waiting.push(r));
      gate.inFlight -= 1;
      return input;
    },
  },
];

let version = 0;
async function run(def: FlowDefinition, input: Json) {
  version += 1;
  const v = { flowId: 'flw_' + '2'.repeat(26), version, definition: def };
  return (await engine.startExecution(tenant, v, input, actor)).executionId;
}
const state = async (id: string) => (await engine.getExecution(tenant, id))!;
const reach = (id: string, status: string) =>
  eventually(
    async () => {
      const s = await state(id);
      return s.execution.status === status ? s : false;
    },
    { what: `execution ${status}`, timeoutMs: 45_000, intervalMs: 100 },
  );
const statuses = (s: Awaited<ReturnType<typeof state>>) =>
  Object.fromEntries(s.steps.map((x) => [x.step_id, x.status]));

beforeAll(async () => {
  db = await flowDb();
  engine = await startEngine(db, uniqueTopicPrefix(), { clock, owner: 'engine-p', operations, random: () => 1 });
});

afterAll(async () => {
  release();
  await engine?.stop();
  await db?.drop();
});

test('a join runs once, after every live predecessor; a skipped predecessor does not hold it', async () => {
  const diamond = flow(
    [
      { id: 'start', kind: 'map', output: { n: 'input.n' } },
      { id: 'slow', kind: 'action', integration: 'test', operation: 'gate', input: { s: "'slow'" } },
      { id: 'fast', kind: 'map', output: { f: "'fast'" } },
      { id: 'join', kind: 'map', output: { both: 'steps.slow.s + "+" + steps.fast.f' } },
    ],
    [
      { from: 'start', to: 'slow' },
      { from: 'start', to: 'fast' },
      { from: 'slow', to: 'join' },
      { from: 'fast', to: 'join' },
    ],
  );
  const id = await run(diamond, { n: 1 });
  await eventually(async () => statuses(await state(id)).fast === 'succeeded' && gate.inFlight === 1, {
    what: 'fast done, slow in flight',
  });
  expect(statuses(await state(id)).join).toBeUndefined();
  release();
  const done = await reach(id, 'succeeded');
  expect(done.execution.output).toEqual({ join: { both: 'slow+fast' } });
  expect(done.steps.filter((x) => x.step_id === 'join')).toHaveLength(1);

  const branches = flow(
    [
      { id: 'c', kind: 'condition', branches: [{ id: 'yes', when: 'input.n > 0.0' }], otherwise: 'no' },
      { id: 'y', kind: 'map', output: { v: "'yes'" } },
      { id: 'n', kind: 'map', output: { v: "'no'" } },
      { id: 'join', kind: 'map', output: { got: 'steps.y == null ? steps.n.v : steps.y.v' } },
    ],
    [
      { from: 'c', to: 'y', branch: 'yes' },
      { from: 'c', to: 'n', branch: 'no' },
      { from: 'y', to: 'join' },
      { from: 'n', to: 'join' },
    ],
  );
  const b = await reach(await run(branches, { n: -1 }), 'succeeded');
  expect(statuses(b)).toEqual({ c: 'succeeded', n: 'succeeded', y: 'skipped', join: 'succeeded' });
  expect(b.execution.output).toEqual({ join: { got: 'no' } });
});

test('a foreach runs at most `concurrency` items at once and collects results in item order', async () => {
  gate.started = 0;
  const fan = flow([
    {
      id: 'each',
      kind: 'foreach',
      items: 'input.xs',
      maxItems: 10,
      concurrency: 2,
      body: { id: 'one', kind: 'action', integration: 'test', operation: 'gate', input: { x: 'item', i: 'index' } },
    },
  ]);
  const id = await run(fan, { xs: ['a', 'b', 'c', 'd', 'e'] });
  await eventually(async () => gate.inFlight === 2, { what: 'two items in flight' });
  expect(gate.started).toBe(2);
  await eventually(
    async () => {
      release();
      return (await state(id)).execution.status === 'succeeded';
    },
    { what: 'all items done' },
  );
  expect(gate.started).toBe(5);
  const s = await state(id);
  expect(s.execution.output).toEqual({
    each: ['a', 'b', 'c', 'd', 'e'].map((x, i) => ({ x, i })),
  });

  // More items than maxItems fails the step (and the run), naming the flowlet.
  const tooMany = await run(fan, { xs: Array.from({ length: 11 }, (_, i) => String(i)) });
  const f = await reach(tooMany, 'failed');
  expect(f.steps[0]).toMatchObject({ step_id: 'each', status: 'failed', error: { code: 'EXPRESSION_ERROR' } });
});

test('delay.until waits for the given time on the clock', async () => {
  const at = new Date(clock.now().getTime() + 90_000);
  const id = await run(
    flow(
      [
        { id: 'pause', kind: 'delay', until: 'input.at' },
        { id: 'after', kind: 'map', output: { ok: 'true' } },
      ],
      [{ from: 'pause', to: 'after' }],
    ),
    { at: at.toISOString() },
  );
  await eventually(async () => statuses(await state(id)).pause === 'waiting', { what: 'the delay to wait' });
  const w = await db.admin.query<{ fire_at: Date }>(`SELECT fire_at FROM waits WHERE execution_id = $1`, [id]);
  expect(w.rows).toEqual([{ fire_at: at }]);
  clock.advance(89_999);
  await engine.sweeps.sweep();
  expect(statuses(await state(id)).after).toBeUndefined();
  clock.advance(1);
  await engine.sweeps.sweep();
  expect((await reach(id, 'succeeded')).execution.output).toEqual({ after: { ok: true } });
});
