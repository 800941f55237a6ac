// The durable execution core end to end: executions started through the internal service
// function, their step commands carried by Kafka (flow8.flow.commands.v1, the engine's principal
// and group), claimed with leases, run by the worker pool and settled in one transaction with
// the next commands and the fact events. Time is a ManualClock; the sweeps are run by the test
// after moving it.
import { createPublisher, type Publisher } from '@flow8/bus';
import { commandsTopic, newId, type Actor } from '@flow8/contracts';
import { eventually, testKafka, uniqueTopicPrefix, type TestDatabase } from '@flow8/testkit';
import { RateLimitedError } from '../src/features/connectors/errors';
import type { Operation } from '../src/features/connectors/operation';
import type { FlowDefinition, Json } from '../src/features/flows/definition/types';
import type { StepRunRow } from '../src/features/executions/executions.repo';
import { ManualClock } from '../src/runtime/clock';
import type { FlowEngine } from '../src/service';
import { flow, flowDb, startEngine } from './harness';

const tenant = newId('ten');
const actor: Actor = { type: 'user', id: 'usr_executor', ip: '192.0.2.7' };
const clock = new ManualClock(Date.now());
let db: TestDatabase;
let prefix: string;
let a: FlowEngine;
let b: FlowEngine | null = null;
let publisher: Publisher;

// Test operations with a memory, and the racepoint that "kills" a worker before it commits.
let rateLimitedOnce = false;
const calls = new Map<string, number>();
const counted = (id: string, idempotent: boolean): Operation => ({
  id,
  idempotent,
  run: async ({ input }) => {
    calls.set(id, (calls.get(id) ?? 0) + 1);
    return input;
  },
});
const operations: Operation[] = [
  counted('test.counted_echo', true),
  counted('test.counted_send', false),
  {
    id: 'test.limited',
    idempotent: true,
    run: async ({ input }) => {
      if (!rateLimitedOnce) {
        rateLimitedOnce = true;
        throw new RateLimitedError(30_000);
      }
      return input;
    },
  },
];
/** Step runs whose worker dies at the racepoint (never settles); release() lets it come back late. */
const killed = new Map<string, () => void>();
let killNext: string | null = null;
const hooks = {
  async beforeSettle(step: StepRunRow) {
    if (killNext !== step.step_id) return;
    killNext = null;
    await new Promise<void>((resolve) => killed.set(step.id, resolve));
  },
};

let version = 0;
async function run(def: FlowDefinition, input: Json = {}, engine: FlowEngine = a) {
  version += 1;
  return (
    await engine.startExecution(tenant, { flowId: 'flw_' + '0'.repeat(26), version, definition: def }, input, actor)
  ).executionId;
}
const state = async (id: string) => (await a.getExecution(tenant, id))!;
const finished = (id: string, status = 'succeeded') =>
  eventually(
    async () => {
      const s = await state(id);
      if (s.execution.status !== 'running' && s.execution.status !== status)
        throw new Error(`execution ended ${s.execution.status}`);
      return s.execution.status === status ? s : false;
    },
    { what: `execution ${status}`, timeoutMs: 45_000, intervalMs: 100 },
  );
const rows = (s: { steps: StepRunRow[] }, stepId: string) =>
  s.steps.filter((x) => x.step_id === stepId).sort((x, y) => x.seq - y.seq);
const sweep = () => a.sweeps.sweep();

beforeAll(async () => {
  db = await flowDb();
  prefix = uniqueTopicPrefix();
  a = await startEngine(db, prefix, { clock, owner: 'engine-a', operations, hooks, random: () => 1 });
  publisher = createPublisher(testKafka('flow-engine-test'));
});

afterAll(async () => {
  for (const release of killed.values()) release();
  await b?.stop();
  await a?.stop();
  await publisher?.disconnect();
  await db?.drop();
});

const orderFlow = flow(
  [
    { id: 'total', kind: 'map', output: { sum: 'input.amount', customer: 'input.name' } },
    {
      id: 'check',
      kind: 'condition',
      branches: [{ id: 'big', when: 'steps.total.sum > 100.0' }],
      otherwise: 'small',
    },
    {
      id: 'notify',
      kind: 'action',
      integration: 'test',
      operation: 'echo',
      input: { sum: 'steps.total.sum', who: 'steps.total.customer' },
    },
    { id: 'ignore', kind: 'map', output: { note: "'small order'" } },
  ],
  [
    { from: 'total', to: 'check' },
    { from: 'check', to: 'notify', branch: 'big' },
    { from: 'check', to: 'ignore', branch: 'small' },
  ],
);

test('a map → condition → echo flow runs to succeeded through commands on Kafka, and the ledger gets digests, not data', async () => {
  const id = await run(orderFlow, { amount: 250, name: 'Ada Lovelace' });
  const s = await finished(id);
  expect(s.execution.output).toEqual({ notify: { sum: 250, who: 'Ada Lovelace' } });
  expect(s.steps.map((x) => [x.step_id, x.status])).toEqual([
    ['total', 'succeeded'],
    ['check', 'succeeded'],
    ['notify', 'succeeded'],
    ['ignore', 'skipped'], // the branch not taken: a row, so the run shows every flowlet
  ]);
  expect(rows(s, 'check')[0]!.output).toEqual({ branch: 'big' });
  // Every step that ran was claimed under a lease by this engine, with the key stable per (execution, step).
  for (const x of s.steps.filter((r) => r.status !== 'skipped')) {
    expect(x.lease_owner).toBe('engine-a');
    expect(x.idempotency_key).toBe(`${id}:${x.step_id}`);
  }

  // The other branch: the small order never runs `notify`, which is recorded skipped.
  const small = await finished(await run(orderFlow, { amount: 5, name: 'Bob' }));
  expect(small.steps.map((x) => [x.step_id, x.status])).toEqual([
    ['total', 'succeeded'],
    ['check', 'succeeded'],
    ['ignore', 'succeeded'],
    ['notify', 'skipped'],
  ]);
  expect(small.execution.output).toEqual({ ignore: { note: 'small order' } });

  // Commands went through the outbox keyed by execution; facts keyed by tenant, carrying digests only.
  const out = await db.admin.query<{ topic: string; message_key: string | null; event_type: string; value: Buffer }>(
    `SELECT topic, message_key, event_type, value FROM outbox ORDER BY id`,
  );
  const commands = out.rows.filter((r) => r.topic === commandsTopic('flow', prefix));
  expect(commands.length).toBeGreaterThanOrEqual(6);
  expect(new Set(commands.map((r) => r.message_key))).toEqual(new Set([id, small.execution.id]));
  const facts = out.rows.filter((r) => r.topic === `${prefix}flow8.flow.events.v1`);
  expect(facts.map((r) => r.event_type)).toEqual(
    expect.arrayContaining(['flow.execution.started', 'flow.step.completed', 'flow.execution.finished']),
  );
  for (const f of facts) {
    expect(f.message_key).toBeNull();
    const text = f.value.toString('utf8');
    expect(text).not.toContain('Ada');
    expect(text).not.toContain('Lovelace');
  }
  const started = facts
    .map((f) => JSON.parse(f.value.toString('utf8')))
    .find((e) => e.payload.executionId === id && e.type === 'flow.execution.started');
  expect(started.payload.inputDigest).toMatch(/^[0-9a-f]{64}$/);
  expect(started.actor).toEqual(actor);
});

test('a failing step is retried with backoff on the injected clock, then succeeds; a 429 waits its Retry-After without spending an attempt', async () => {
  const def = flow([
    {
      id: 'flaky',
      kind: 'action',
      integration: 'test',
      operation: 'fail',
      input: { code: "'UPSTREAM_DOWN'", untilAttempt: '3' },
      retry: { maxAttempts: 3, initialDelayMs: 1_000, factor: 2, maxDelayMs: 60_000 },
    },
  ]);
  const id = await run(def);
  const failedRows = (n: number) =>
    eventually(
      async () => {
        const s = await state(id);
        return rows(s, 'flaky').filter((r) => r.status === 'failed').length === n ? s : false;
      },
      { what: `${n} failed attempts` },
    );
  await failedRows(1);
  // Not due yet: nothing happens however often the timers are swept.
  clock.advance(999);
  await sweep();
  expect(rows(await state(id), 'flaky')).toHaveLength(1);
  clock.advance(1);
  await sweep();
  await failedRows(2);
  // The second retry waits initial × factor (random() = 1: the full backoff).
  clock.advance(1_999);
  await sweep();
  expect(rows(await state(id), 'flaky')).toHaveLength(2);
  clock.advance(1);
  await sweep();
  const s = await finished(id);
  expect(rows(s, 'flaky').map((r) => [r.attempt, r.status, r.error?.code ?? null])).toEqual([
    [1, 'failed', 'UPSTREAM_DOWN'],
    [2, 'failed', 'UPSTREAM_DOWN'],
    [3, 'succeeded', null],
  ]);

  const limited = await run(
    flow([
      {
        id: 'call',
        kind: 'action',
        integration: 'test',
        operation: 'limited',
        input: { x: '1' },
        retry: { maxAttempts: 1 },
      },
    ]),
  );
  await eventually(async () => rows(await state(limited), 'call')[0]?.status === 'rate_limited', { what: 'the 429' });
  clock.advance(29_999);
  await sweep();
  expect(rows(await state(limited), 'call')).toHaveLength(1);
  clock.advance(1);
  await sweep();
  const l = await finished(limited);
  // maxAttempts 1 and still succeeded: the limit did not count as an attempt.
  expect(rows(l, 'call').map((r) => [r.seq, r.attempt, r.status])).toEqual([
    [1, 1, 'rate_limited'],
    [2, 1, 'succeeded'],
  ]);

  // Attempts exhausted: the execution fails with the step's error code.
  const hopeless = await run(
    flow([
      {
        id: 'never',
        kind: 'action',
        integration: 'test',
        operation: 'fail',
        input: { retryable: 'false', code: "'BAD_INPUT'" },
      },
    ]),
  );
  const h = await finished(hopeless, 'failed');
  expect(h.execution.error_code).toBe('BAD_INPUT');
  expect(rows(h, 'never')).toHaveLength(1);
});

test('a worker lost mid-step: an idempotent step runs again once, a non-idempotent one goes ambiguous and is not repeated', async () => {
  const lease = 10_000 + 1_000; // the step's timeoutMs + FLOW_LEASE_MARGIN (harness: default 30s; overridden per flowlet)
  calls.clear();
  killNext = 'echo';
  const idem = await run(
    flow([
      {
        id: 'echo',
        kind: 'action',
        integration: 'test',
        operation: 'counted_echo',
        input: { n: '1' },
        timeoutMs: 10_000,
      },
    ]),
  );
  await eventually(async () => killed.size === 1, { what: 'the worker to stop at the racepoint' });
  // The lease has not run out: the sweep leaves the step alone.
  clock.advance(lease);
  await sweep();
  expect(rows(await state(idem), 'echo')).toHaveLength(1);
  clock.advance(30_000);
  await sweep();
  const s = await finished(idem);
  expect(rows(s, 'echo').map((r) => [r.seq, r.attempt, r.status, r.error?.code ?? null])).toEqual([
    [1, 1, 'lost', 'LEASE_EXPIRED'],
    [2, 1, 'succeeded', null],
  ]);
  expect(calls.get('test.counted_echo')).toBe(2);
  // The dead worker comes back late: its result is dropped (the compare-and-set fails).
  const [firstRun, release] = [...killed][0]!;
  release();
  killed.delete(firstRun);
  await eventually(async () => a.runner.stats().running === 0, { what: 'the late worker to finish' });
  expect(rows(await state(idem), 'echo')[0]!.status).toBe('lost');

  killNext = 'send';
  const once = await run(
    flow([
      {
        id: 'send',
        kind: 'action',
        integration: 'test',
        operation: 'counted_send',
        input: { n: '1' },
        timeoutMs: 10_000,
      },
    ]),
  );
  await eventually(async () => killed.size === 1, { what: 'the worker to stop at the racepoint' });
  clock.advance(41_000);
  await sweep();
  const amb = await finished(once, 'ambiguous');
  expect(rows(amb, 'send').map((r) => [r.seq, r.status])).toEqual([[1, 'ambiguous']]);
  expect(amb.execution.error_code).toBe('LEASE_EXPIRED');
  // Sweeping again never repeats it.
  clock.advance(60_000);
  await sweep();
  expect(rows(await state(once), 'send')).toHaveLength(1);
  expect(calls.get('test.counted_send')).toBe(1);
  const ev = await db.admin.query(
    `SELECT 1 FROM outbox WHERE event_type = 'flow.step.failed' AND convert_from(value, 'UTF8')::jsonb #>> '{payload,outcome}' = 'ambiguous'`,
  );
  expect(ev.rowCount).toBe(1);
  // Its worker coming back late changes nothing.
  for (const [run, release] of killed) {
    release();
    killed.delete(run);
  }
  await eventually(async () => a.runner.stats().running === 0, { what: 'the late worker to finish' });
  expect(rows(await state(once), 'send')[0]!.status).toBe('ambiguous');
});

test('a hanging step does not stall other executions, and cancelling it ends it', async () => {
  const hanging = await run(
    flow([
      {
        id: 'wait',
        kind: 'action',
        integration: 'test',
        operation: 'sleep',
        input: { ms: '3600000' },
        timeoutMs: 7_200_000,
      },
    ]),
  );
  await eventually(async () => rows(await state(hanging), 'wait')[0]?.status === 'running', {
    what: 'the hanging step to run',
  });
  const others = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => run(orderFlow, { amount: n * 50, name: `c${n}` })));
  for (const id of others) await finished(id);
  expect((await state(hanging)).execution.status).toBe('running');
  expect(await a.cancelExecution(tenant, hanging)).toBe(true);
  const c = await state(hanging);
  expect(c.execution.status).toBe('cancelled');
  expect(rows(c, 'wait')[0]!.status).toBe('cancelled');
  // The worker was told to stop: the slot is free again.
  await eventually(async () => a.runner.stats().running === 0, { what: 'the cancelled step to stop' });
});

test('deadlines: a step past its timeoutMs is aborted and fails the run; an execution past its timeoutMs ends timed_out; a delay waits on the clock', async () => {
  const slow = await run(
    flow([
      {
        id: 'slow',
        kind: 'action',
        integration: 'test',
        operation: 'sleep',
        input: { ms: '600000' },
        timeoutMs: 300,
        retry: { maxAttempts: 1 },
      },
    ]),
  );
  const s = await finished(slow, 'failed');
  expect(s.execution.error_code).toBe('STEP_TIMEOUT');
  expect(rows(s, 'slow').map((r) => r.status)).toEqual(['timed_out']);

  const long = await run(
    flow(
      [
        {
          id: 'wait',
          kind: 'action',
          integration: 'test',
          operation: 'sleep',
          input: { ms: '3600000' },
          timeoutMs: 7_200_000,
        },
      ],
      [],
      { timeoutMs: 5_000 },
    ),
  );
  await eventually(async () => rows(await state(long), 'wait')[0]?.status === 'running', {
    what: 'the long step to run',
  });
  clock.advance(4_999);
  await sweep();
  expect((await state(long)).execution.status).toBe('running');
  clock.advance(1);
  await sweep();
  const t = await state(long);
  expect([t.execution.status, t.execution.error_code, rows(t, 'wait')[0]!.status]).toEqual([
    'timed_out',
    'EXECUTION_DEADLINE',
    'cancelled',
  ]);
  await eventually(async () => a.runner.stats().running === 0, { what: 'the timed-out step to stop' });

  const delayed = await run(
    flow(
      [
        { id: 'pause', kind: 'delay', delayMs: 60_000 },
        { id: 'after', kind: 'action', integration: 'test', operation: 'echo', input: { done: 'true' } },
      ],
      [{ from: 'pause', to: 'after' }],
    ),
  );
  await eventually(async () => rows(await state(delayed), 'pause')[0]?.status === 'waiting', {
    what: 'the delay to wait',
  });
  clock.advance(59_999);
  await sweep();
  expect((await state(delayed)).steps.map((x) => x.step_id)).toEqual(['pause']);
  clock.advance(1);
  await sweep();
  const d = await finished(delayed);
  expect(d.execution.output).toEqual({ after: { done: true } });
});

test('a redelivered command is deduped by the inbox; an invalid one goes to the dead-letter topic', async () => {
  const id = await run(orderFlow, { amount: 1000, name: 'Dup' });
  await finished(id);
  const before = (await state(id)).steps.length;
  const cmd = await db.admin.query<{ value: Buffer }>(
    `SELECT value FROM outbox WHERE message_key = $1 ORDER BY id LIMIT 1`,
    [id],
  );
  const value = cmd.rows[0]!.value;
  const dupBefore = a.runner.stats().duplicate + (b?.runner.stats().duplicate ?? 0);
  const topic = commandsTopic('flow', prefix);
  await publisher.publish([
    { topic, key: id, value, headers: {} },
    { topic, key: id, value, headers: {} },
  ]);
  await eventually(async () => a.runner.stats().duplicate + (b?.runner.stats().duplicate ?? 0) - dupBefore === 2, {
    what: 'both copies seen as duplicates',
  });
  expect((await state(id)).steps).toHaveLength(before);

  const dead = a.consumer.stats().deadLettered;
  await publisher.publish([{ topic, key: id, value: Buffer.from('{"type":"step.run"}'), headers: {} }]);
  await eventually(async () => a.consumer.stats().deadLettered === dead + 1, {
    what: 'the invalid command dead-lettered',
  });
});

test('two engine instances share the work through the consumer group', async () => {
  b = await startEngine(db, prefix, { clock, owner: 'engine-b', operations, hooks, random: () => 1 });
  await eventually(
    async () =>
      a.consumer.assignedPartitions() > 0 &&
      b!.consumer.assignedPartitions() > 0 &&
      a.consumer.assignedPartitions() + b!.consumer.assignedPartitions() === 3,
    {
      what: 'both members to own partitions',
      timeoutMs: 60_000,
    },
  );
  const ids = await Promise.all(
    Array.from({ length: 20 }, (_, n) => run(orderFlow, { amount: 10 * n, name: `s${n}` })),
  );
  for (const id of ids) await finished(id);
  const owners = await db.admin.query<{ lease_owner: string }>(
    `SELECT DISTINCT lease_owner FROM step_runs WHERE execution_id = ANY($1::text[]) AND status <> 'skipped'`,
    [ids],
  );
  expect(owners.rows.map((r) => r.lease_owner).sort()).toEqual(['engine-a', 'engine-b']);
});
