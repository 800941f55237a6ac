// Approvals, foreach and the planner in the durable core, end to end on the real stack: an
// execution suspends at an approval (`awaiting_approval`, a timer row, nothing in memory), people
// decide through the internal service function, and the run continues on the branch the decision
// chose. Time is a ManualClock; the test runs the sweeps after moving it.
import { createHash } from 'node:crypto';
import { newId, type Actor } from '@flow8/contracts';
import { eventually, uniqueTopicPrefix, type TestDatabase } from '@flow8/testkit';
import type { FlowDefinition, Json } from '../src/features/flows/definition/types';
import type { ApprovalDecider } from '../src/features/executions/executions.service';
import { ManualClock } from '../src/runtime/clock';
import type { FlowEngine } from '../src/service';
import { flow, flowDb, startEngine } from './harness';

const tenant = newId('ten');
const triggerer: Actor = { type: 'user', id: newId('usr'), ip: '192.0.2.7' };
const clock = new ManualClock(Date.now());
let db: TestDatabase;
let engine: FlowEngine;

const alice: ApprovalDecider = { userId: newId('usr'), role: 'admin', ip: '198.51.100.4' };
const bob: ApprovalDecider = { userId: newId('usr'), role: 'viewer', ip: '198.51.100.5' };
const eve: ApprovalDecider = { userId: newId('usr'), role: 'viewer', ip: '198.51.100.6' };
const self: ApprovalDecider = { userId: triggerer.id, role: 'admin', ip: '192.0.2.7' };
const HOUR = 3_600_000;

/** map → condition → foreach → approval → echo (approved) | map (rejected); small orders skip it all. */
function invoice(review: { required?: number; onTimeout?: 'approve' | 'reject'; excludeTriggerer?: boolean } = {}) {
  return flow(
    [
      { id: 'prepare', kind: 'map', output: { total: 'input.amount * 1.2', client: 'input.client' } },
      {
        id: 'route',
        kind: 'condition',
        branches: [{ id: 'big', when: 'steps.prepare.total > 1000.0' }],
        otherwise: 'small',
      },
      { id: 'tiny', kind: 'map', output: { note: "'small order'" } },
      {
        id: 'lines',
        kind: 'foreach',
        items: 'input.lines',
        maxItems: 10,
        concurrency: 2,
        body: {
          id: 'line',
          kind: 'action',
          integration: 'test',
          operation: 'echo',
          input: { n: 'index', text: 'item' },
        },
      },
      {
        id: 'review',
        kind: 'approval',
        approvers: { roles: ['admin'], users: [bob.userId] },
        excludeTriggerer: review.excludeTriggerer ?? true,
        required: review.required ?? 1,
        summary: { client: 'steps.prepare.client', lines: 'size(steps.lines)' },
        timeoutMs: HOUR,
        onTimeout: review.onTimeout ?? 'reject',
      },
      {
        id: 'send',
        kind: 'action',
        integration: 'test',
        operation: 'echo',
        input: { message: '"invoice for " + steps.prepare.client', lines: 'steps.lines' },
      },
      { id: 'refused', kind: 'map', output: { note: "'refused'" } },
    ],
    [
      { from: 'prepare', to: 'route' },
      { from: 'route', to: 'tiny', branch: 'small' },
      { from: 'route', to: 'lines', branch: 'big' },
      { from: 'lines', to: 'review' },
      { from: 'review', to: 'send', on: 'approved' },
      { from: 'review', to: 'refused', on: 'rejected' },
    ],
  );
}

let version = 0;
async function run(def: FlowDefinition, input: Json) {
  version += 1;
  const flowVersion = { flowId: 'flw_' + '1'.repeat(26), version, definition: def };
  return (await engine.startExecution(tenant, flowVersion, input, triggerer)).executionId;
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
const big = { amount: 2000, client: 'Ada Lovelace', lines: ['design', 'build', 'test'] };

beforeAll(async () => {
  db = await flowDb();
  engine = await startEngine(db, uniqueTopicPrefix(), { clock, owner: 'engine-a', random: () => 1 });
});

afterAll(async () => {
  await engine?.stop();
  await db?.drop();
});

test('map → condition → foreach → approval → echo: the run waits for people, refuses the wrong ones, and succeeds after N of M approvals', async () => {
  const id = await run(invoice({ required: 2 }), big);
  const held = await reach(id, 'awaiting_approval');
  // The foreach ran its body per item, in order; the branch not taken is a skipped row.
  const lines = held.steps.find((x) => x.step_id === 'lines')!;
  expect(lines.output).toEqual([
    { n: 0, text: 'design' },
    { n: 1, text: 'build' },
    { n: 2, text: 'test' },
  ]);
  expect(statuses(held)).toMatchObject({ tiny: 'skipped', review: 'awaiting_approval' });
  expect(statuses(held).send).toBeUndefined();
  const review = held.steps.find((x) => x.step_id === 'review')!;
  const summary = { client: 'Ada Lovelace', lines: 3 };
  const digest = createHash('sha256').update('{"client":"Ada Lovelace","lines":3}').digest('hex');
  expect(review.input).toEqual({ summary, summaryDigest: digest });
  // Suspended in the database, not in memory: a waits row of kind approval at the timeout.
  const waits = await db.admin.query<{ kind: string; fire_at: Date }>(
    `SELECT kind, fire_at FROM waits WHERE execution_id = $1 AND fired_at IS NULL`,
    [id],
  );
  expect(waits.rows).toEqual([{ kind: 'approval', fire_at: new Date(clock.now().getTime() + HOUR) }]);

  // Who sees it: approvers by role or by name, not the triggerer (excluded), not others.
  expect((await engine.listPendingApprovals(tenant, alice)).map((p) => [p.executionId, p.summary])).toEqual([
    [id, summary],
  ]);
  expect(await engine.listPendingApprovals(tenant, bob)).toHaveLength(1);
  expect(await engine.listPendingApprovals(tenant, eve)).toEqual([]);
  expect(await engine.listPendingApprovals(tenant, self)).toEqual([]);

  expect(await engine.decideApproval(tenant, id, 'review', self, 'approve', null)).toEqual({
    ok: false,
    reason: 'triggerer_excluded',
  });
  expect(await engine.decideApproval(tenant, id, 'review', eve, 'approve', null)).toEqual({
    ok: false,
    reason: 'not_an_approver',
  });
  expect(await engine.decideApproval(tenant, id, 'prepare', alice, 'approve', null)).toEqual({
    ok: false,
    reason: 'not_found',
  });
  expect(await engine.decideApproval(tenant, id, 'review', alice, 'approve', 'looks right')).toMatchObject({
    ok: true,
    settled: false,
    approvals: 1,
    required: 2,
  });
  // The same person cannot decide twice (neither again nor the other way).
  expect(await engine.decideApproval(tenant, id, 'review', alice, 'reject', null)).toEqual({
    ok: false,
    reason: 'already_decided',
  });
  expect((await state(id)).execution.status).toBe('awaiting_approval');
  expect(await engine.listPendingApprovals(tenant, alice)).toEqual([]);
  expect(await engine.decideApproval(tenant, id, 'review', bob, 'approve', null)).toMatchObject({
    ok: true,
    settled: true,
    outcome: 'approved',
    approvals: 2,
  });

  const done = await reach(id, 'succeeded');
  expect(done.execution.output).toEqual({
    send: { message: 'invoice for Ada Lovelace', lines: lines.output },
  });
  expect(statuses(done)).toEqual({
    prepare: 'succeeded',
    route: 'succeeded',
    tiny: 'skipped',
    lines: 'succeeded',
    review: 'succeeded',
    send: 'succeeded',
    refused: 'skipped',
  });
  expect(done.steps.find((x) => x.step_id === 'review')!.output).toEqual({
    approved: true,
    decision: 'approved',
    timedOut: false,
  });
  // After settlement nobody can decide any more.
  expect(await engine.decideApproval(tenant, id, 'review', { ...eve, role: 'admin' }, 'reject', null)).toEqual({
    ok: false,
    reason: 'not_pending',
  });

  // Each decision is recorded: who, role, IP, when (the engine's clock), the digest of what was shown.
  const decisions = await db.admin.query(
    `SELECT decider_id, decider_role, decider_ip, decision, comment, summary_digest, decided_at
       FROM approval_decisions WHERE execution_id = $1 ORDER BY id`,
    [id],
  );
  expect(decisions.rows).toEqual([
    {
      decider_id: alice.userId,
      decider_role: 'admin',
      decider_ip: '198.51.100.4',
      decision: 'approve',
      comment: 'looks right',
      summary_digest: digest,
      decided_at: clock.now(),
    },
    {
      decider_id: bob.userId,
      decider_role: 'viewer',
      decider_ip: '198.51.100.5',
      decision: 'approve',
      comment: null,
      summary_digest: digest,
      decided_at: clock.now(),
    },
  ]);
  // And a fact event per decision: the decider as actor with the IP, the digest, never the summary or comment.
  const facts = await db.admin.query<{ value: Buffer }>(
    `SELECT value FROM outbox WHERE event_type = 'flow.approval.decided' ORDER BY id`,
  );
  const events = facts.rows.map((r) => JSON.parse(r.value.toString('utf8')));
  expect(events.map((ev) => [ev.actor.id, ev.actor.ip, ev.payload.summaryDigest, ev.payload.settled])).toEqual([
    [alice.userId, '198.51.100.4', digest, false],
    [bob.userId, '198.51.100.5', digest, true],
  ]);
  expect(events[0].payload.decidedAtMs).toBe(clock.now().getTime());
  for (const r of facts.rows) {
    expect(r.value.toString('utf8')).not.toContain('Ada');
    expect(r.value.toString('utf8')).not.toContain('looks right');
  }
});

test('a rejection takes the rejected branch; the approved one is a skipped row', async () => {
  const id = await run(invoice(), big);
  await reach(id, 'awaiting_approval');
  // Another company can neither see nor decide it, even with an approver's id and role.
  const other = newId('ten');
  expect(await engine.listPendingApprovals(other, bob)).toEqual([]);
  expect(await engine.decideApproval(other, id, 'review', bob, 'approve', null)).toEqual({
    ok: false,
    reason: 'not_found',
  });
  expect((await state(id)).execution.status).toBe('awaiting_approval');
  expect(await engine.decideApproval(tenant, id, 'review', bob, 'reject', 'not this month')).toMatchObject({
    ok: true,
    settled: true,
    outcome: 'rejected',
  });
  const done = await reach(id, 'succeeded');
  expect(done.execution.output).toEqual({ refused: { note: 'refused' } });
  expect(statuses(done)).toMatchObject({ review: 'succeeded', send: 'skipped', refused: 'succeeded' });
});

test('self-approval is allowed only when the flowlet does not exclude the triggerer', async () => {
  const id = await run(invoice({ excludeTriggerer: false }), big);
  await reach(id, 'awaiting_approval');
  expect(await engine.decideApproval(tenant, id, 'review', self, 'approve', null)).toMatchObject({
    ok: true,
    outcome: 'approved',
  });
  await reach(id, 'succeeded');
});

test('nobody decides in time: decisions are refused and the sweep applies onTimeout', async () => {
  const approveOnTimeout = await run(invoice({ onTimeout: 'approve' }), big);
  const rejectOnTimeout = await run(invoice({ onTimeout: 'reject' }), big);
  await reach(approveOnTimeout, 'awaiting_approval');
  await reach(rejectOnTimeout, 'awaiting_approval');
  clock.advance(HOUR);
  expect(await engine.decideApproval(tenant, approveOnTimeout, 'review', alice, 'reject', null)).toEqual({
    ok: false,
    reason: 'timed_out',
  });
  expect(await engine.listPendingApprovals(tenant, alice)).toEqual([]);
  await engine.sweeps.sweep();
  const a = await reach(approveOnTimeout, 'succeeded');
  expect(a.steps.find((x) => x.step_id === 'review')!.output).toEqual({
    approved: true,
    decision: 'approved',
    timedOut: true,
  });
  expect(statuses(a)).toMatchObject({ send: 'succeeded', refused: 'skipped' });
  const r = await reach(rejectOnTimeout, 'succeeded');
  expect(statuses(r)).toMatchObject({ send: 'skipped', refused: 'succeeded' });
  const decided = await db.admin.query(`SELECT 1 FROM approval_decisions WHERE execution_id = ANY($1::text[])`, [
    [approveOnTimeout, rejectOnTimeout],
  ]);
  expect(decided.rowCount).toBe(0);
});

test('a small order takes the other branch: everything after the condition on the big branch is skipped, rows and all', async () => {
  const id = await run(invoice(), { amount: 10, client: 'Bob', lines: [] });
  const done = await reach(id, 'succeeded');
  expect(done.execution.output).toEqual({ tiny: { note: 'small order' } });
  expect(statuses(done)).toEqual({
    prepare: 'succeeded',
    route: 'succeeded',
    tiny: 'succeeded',
    lines: 'skipped',
    review: 'skipped',
    send: 'skipped',
    refused: 'skipped',
  });
  expect(await db.admin.query(`SELECT 1 FROM waits WHERE execution_id = $1`, [id])).toMatchObject({ rowCount: 0 });
});

test('cancelling an execution that waits for people closes the approval: no decision is taken after', async () => {
  const id = await run(invoice(), big);
  await reach(id, 'awaiting_approval');
  expect(await engine.cancelExecution(tenant, id)).toBe(true);
  const s = await state(id);
  expect([s.execution.status, statuses(s).review]).toEqual(['cancelled', 'cancelled']);
  expect(await engine.decideApproval(tenant, id, 'review', alice, 'approve', null)).toEqual({
    ok: false,
    reason: 'not_pending',
  });
  expect(await engine.listPendingApprovals(tenant, alice)).toEqual([]);
  const open = await db.admin.query(`SELECT 1 FROM waits WHERE execution_id = $1 AND fired_at IS NULL`, [id]);
  expect(open.rowCount).toBe(0);
});
