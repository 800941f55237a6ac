// The execution store is per company: the runtime role, inside one company's transaction, can
// neither read nor write another company's executions, step runs, waits or inbox rows; outside
// any company it sees nothing; the cross-company sweeps return ids only; and the columns that
// pin what ran (definition, input, trigger identity) cannot be rewritten by the runtime role.
import { newId } from '@flow8/contracts';
import { withTenant } from '@flow8/db';
import type { TestDatabase } from '@flow8/testkit';
import { newDigestSalt } from '../src/features/executions/digest';
import * as repo from '../src/features/executions/executions.repo';
import { flow, flowDb } from './harness';

const A = newId('ten');
const B = newId('ten');
let db: TestDatabase;
const exeA = newId('exe');
const stepA = '01900000-0000-7000-8000-000000000001';
const past = new Date(Date.UTC(2026, 0, 1));

beforeAll(async () => {
  db = await flowDb();
  await withTenant(db.app, A, async (tx) => {
    await repo.insertExecution(tx, {
      id: exeA,
      tenant_id: A,
      flow_id: newId('flw'),
      flow_version: 1,
      definition: flow([{ id: 'x', kind: 'map', output: {} }]),
      trigger_identity: { type: 'user', id: 'usr_a', ip: null },
      input: { secret: 'A-only' },
      digest_salt: newDigestSalt(),
      started_at: past,
      deadline_at: past,
    });
    await repo.insertStepRun(tx, {
      id: stepA,
      tenant_id: A,
      execution_id: exeA,
      step_id: 'x',
      kind: 'map',
      seq: 1,
      attempt: 1,
      idempotency_key: `${exeA}:x`,
      scheduled_at: past,
    });
    await repo.insertWait(
      tx,
      {
        id: '01900000-0000-7000-8000-000000000002',
        tenant_id: A,
        execution_id: exeA,
        step_id: 'x',
        kind: 'retry',
        attempt: 2,
        fire_at: past,
      },
      past,
    );
    await repo.recordInbox(tx, '01900000-0000-7000-8000-000000000003', A, past);
    await repo.insertDecision(tx, {
      id: '01900000-0000-7000-8000-000000000004',
      tenant_id: A,
      execution_id: exeA,
      step_id: 'x',
      decider_id: 'usr_a',
      decider_role: 'admin',
      decider_ip: '192.0.2.1',
      decision: 'approve',
      comment: 'A-only',
      summary_digest: '0'.repeat(64),
      decided_at: past,
    });
  });
});
afterAll(async () => {
  await db?.drop();
});

const TABLES = ['executions', 'step_runs', 'waits', 'inbox', 'approval_decisions'];

test.each(TABLES)('%s: row-level security is on and forced', async (table) => {
  const r = await db.admin.query<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
    `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1`,
    [table],
  );
  expect(r.rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
});

test.each(TABLES)('%s: another company and no company see nothing of A', async (table) => {
  expect((await withTenant(db.app, A, (tx) => tx.query(`SELECT 1 FROM ${table}`))).rowCount).toBe(1);
  expect((await withTenant(db.app, B, (tx) => tx.query(`SELECT 1 FROM ${table}`))).rowCount).toBe(0);
  expect((await db.app.query(`SELECT 1 FROM ${table}`)).rowCount).toBe(0);
});

test('company B cannot change or claim another company’s rows, nor write rows in its name', async () => {
  await withTenant(db.app, B, async (tx) => {
    expect((await tx.query(`UPDATE executions SET status = 'cancelled' WHERE id = $1`, [exeA])).rowCount).toBe(0);
    expect(await repo.claimStepRun(tx, stepA, 'thief', past, past)).toBeNull();
    expect((await tx.query(`UPDATE waits SET fired_at = $1`, [past])).rowCount).toBe(0);
  });
  await expect(
    withTenant(db.app, B, (tx) => repo.recordInbox(tx, '01900000-0000-7000-8000-000000000009', A, past)),
  ).rejects.toThrow(/row-level security/);
  // The same id under B is B's own: it neither collides with nor reveals A's inbox row.
  expect(
    await withTenant(db.app, B, (tx) => repo.recordInbox(tx, '01900000-0000-7000-8000-000000000003', B, past)),
  ).toBe(true);
});

test('what ran is pinned: the runtime role cannot rewrite definition, input or trigger identity', async () => {
  for (const col of ['definition', 'input', 'trigger_identity', 'digest_salt', 'tenant_id']) {
    await expect(
      withTenant(db.app, A, (tx) => tx.query(`UPDATE executions SET ${col} = ${col} WHERE id = $1`, [exeA])),
    ).rejects.toThrow(/permission denied/);
  }
  await expect(withTenant(db.app, A, (tx) => tx.query(`DELETE FROM step_runs`))).rejects.toThrow(/permission denied/);
  // An approval decision, once recorded, cannot be changed or removed by the runtime role.
  for (const sql of [`UPDATE approval_decisions SET decision = 'reject'`, `DELETE FROM approval_decisions`])
    await expect(withTenant(db.app, A, (tx) => tx.query(sql))).rejects.toThrow(/permission denied/);
});

test('the cross-company sweeps return ids only', async () => {
  const now = new Date(Date.UTC(2030, 0, 1));
  const waits = await db.app.query(`SELECT * FROM flow_due_waits($1, 10)`, [now]);
  expect(waits.rows).toEqual([{ tenant_id: A, id: '01900000-0000-7000-8000-000000000002' }]);
  const overdue = await db.app.query(`SELECT * FROM flow_overdue_executions($1, 10)`, [now]);
  expect(overdue.rows).toEqual([{ tenant_id: A, id: exeA }]);
  const unclaimed = await db.app.query(`SELECT * FROM flow_unclaimed_steps($1, 10)`, [now]);
  expect(unclaimed.rows).toEqual([{ tenant_id: A, id: stepA }]);
  // The inbox forgets ids older than the given time (and only those), without DELETE for the role.
  expect((await db.app.query(`SELECT flow_prune_inbox($1, 10) AS n`, [new Date(Date.UTC(2025, 0, 1))])).rows[0].n).toBe(
    '0',
  );
  expect((await db.app.query(`SELECT flow_prune_inbox($1, 10) AS n`, [now])).rows[0].n).toBe('2'); // A's, and B's own from the test above
  expect((await withTenant(db.app, A, (tx) => tx.query(`SELECT 1 FROM inbox`))).rowCount).toBe(0);
  // Nothing before the given time: the functions use the caller's clock, not now().
  expect((await db.app.query(`SELECT * FROM flow_due_waits($1, 10)`, [new Date(Date.UTC(2020, 0, 1))])).rowCount).toBe(
    0,
  );
});
